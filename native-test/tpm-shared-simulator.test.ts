/**
 * Several processes and one swtpm on a UNIX socket, which serves one connection at a time and queues very few
 * more: when its queue is full, connect(2) fails with EAGAIN. A one-shot signer (credential_process from many
 * scripts at boot, an operator's sign-string while an agent holds the TPM) must wait for the TPM as it does over
 * TCP, where the kernel queues the connection, not fail at once saying the simulator is not running.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createPublicKey } from "node:crypto";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { fixedTestString } from "../src/signers/fixed-string.js";
import { Tpm } from "../src/tpm/client/tpm.js";
import { SocketTransport } from "../src/tpm/transport/socket-transport.js";
import { GetRandom } from "../src/tpm/wire/commands.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey, opensslVerifies, transientHandles } from "./helpers/tpm-keys.js";

let tpm: Swtpm;
let key: { keyPath: string; publicKeyPath: string };

beforeAll(async () => {
  tpm = await startSwtpm({ transport: "unix" });
  key = await genpkey(tpm, "shared", { algorithm: "EC", curve: "P-256" });
}, 120_000);

afterAll(async () => {
  await tpm?.stop();
});

const connect = (path: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = createConnection({ path });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });

/**
 * Another client holding swtpm (it has answered it), and connections filling swtpm's queue until the kernel
 * refuses one with EAGAIN: from then on every connect(2) to the socket fails with EAGAIN until `release()`.
 */
async function holdTpm(path: string): Promise<{ release(): Promise<void> }> {
  const holder = await connect(path);
  const answered = once(holder, "data");
  holder.write(Buffer.from("80010000000c0000017b0008", "hex")); // TPM2_GetRandom(8)
  await answered;
  const queued: Socket[] = [];
  for (;;) {
    const full = await connect(path).then((s) => (queued.push(s), false), (e: NodeJS.ErrnoException) => {
      if (e.code !== "EAGAIN") throw e;
      return true;
    });
    if (full) break;
    if (queued.length > 64) throw new Error("swtpm's queue never filled");
  }
  return {
    async release() {
      for (const s of [holder, ...queued]) {
        s.end();
        await once(s, "close");
      }
    },
  };
}

describe("one swtpm on a UNIX socket, several processes", () => {
  it("a one-shot sign-string that finds swtpm held and its queue full waits, then signs once it is free", async () => {
    const held = await holdTpm(tpm.socketPath!);
    const trace = join(tpm.dir, "connect.trace");
    // strace tells when the signer's connect(2) has met the full queue: only then is the TPM released.
    const signer = spawn("strace", ["-f", "-qq", "-e", "trace=connect", "-o", trace, process.execPath, DIST_CLI, "sign-string",
      "--private-key", key.keyPath, "--tpm-device", tpm.device], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    signer.stdout.on("data", (d) => (stdout += d));
    signer.stderr.on("data", (d) => (stderr += d));
    const exited = once(signer, "exit");
    // connect(19, {sa_family=AF_UNIX, sun_path="…/tpm.sock"}, 110) = -1 EAGAIN (…)
    const refused = /sun_path="[^"]*\/tpm\.sock"\}, \d+\) = -1 EAGAIN/;
    try {
      while (!(existsSync(trace) && refused.test(readFileSync(trace, "utf8"))) && signer.exitCode === null) {
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await held.release();
    }
    const [code] = await exited;
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(readFileSync(trace, "utf8")).toMatch(refused);
    const message = fixedTestString(createPublicKey(readFileSync(key.publicKeyPath)));
    expect(await opensslVerifies(tpm, key.publicKeyPath, message, Buffer.from(JSON.parse(stdout) as string, "hex"), "sha256")).toBe(true);
    expect(await transientHandles(tpm)).toEqual([]);
  }, 120_000);

  it("while swtpm stays held, a client gives up after its answer time with the line that names the cause", async () => {
    const held = await holdTpm(tpm.socketPath!);
    const transport = new SocketTransport({ kind: "unix", path: tpm.socketPath! }, { responseTimeoutMs: 1500 });
    try {
      const error = await new Tpm(transport).execute(GetRandom, {}, { bytesRequested: 8 }).then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: "TPM_UNAVAILABLE", message: `no answer from the TPM at unix:${tpm.socketPath} within 2 s`,
        hint: "swtpm serves one client at a time: is another program connected to it?" });
    } finally {
      await transport.close();
      await held.release();
    }
  }, 60_000);

  it("20 one-shot signers started at once (credential_process from boot scripts, no agent) all sign", async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, () =>
      runCli(DIST_CLI, ["sign-string", "--private-key", key.keyPath, "--tpm-device", tpm.device], process.env)));
    for (const r of runs) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await transientHandles(tpm)).toEqual([]);
  }, 180_000);
});
