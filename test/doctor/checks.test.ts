import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runChecks } from "../../src/doctor/checks.js";
import { AgentError } from "../../src/errors.js";
import { MAX_INPUT_BYTES } from "../../src/io/read-opened-file.js";

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("runChecks on a hostile private key", () => {
  it("reads the key as the signer does: a FIFO pouring out more than 16 MiB is one failed row, read once", async () => {
    const fifo = join(dir, "key-fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    // One writer, bounded: a doctor that read it all once and then again (as the signer) would wait for a second one.
    const writer = spawn("sh", ["-c", `head -c ${MAX_INPUT_BYTES + 4096} /dev/zero > ${fifo}`]);
    try {
      const rows = await runChecks(
        {
          signer: { privateKey: fifo, certificate: join(dir, "missing-cert.pem") },
          session: new AgentError("INPUT_MISSING", "no ARNs in this test"),
          endpoint: {},
          agentSocket: join(dir, "no-agent.sock"),
          createSession: false,
          warningDays: 30,
          env: {},
        },
        () => undefined,
      );
      const key = rows.find((r) => r.name === "key and certificate");
      expect(key).toMatchObject({ outcome: "fail", detail: `private key file ${fifo} holds more than 16 MiB` });
    } finally {
      writer.kill("SIGKILL");
    }
  }, 10_000);
});
