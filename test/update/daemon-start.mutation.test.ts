/**
 * `update` (the daemon, not --once) at start-up: a failure no retry fixes (a missing key or certificate, a wrong PIN)
 * ends it with its error (exit 3, 4) instead of "will keep trying", so systemd shows the unit failed; a mutation
 * keeping every such daemon running, never writing the file, went unnoticed (the native tests start update only with
 * good inputs or --once).
 */
import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { runUpdate } from "../../src/update/run-update.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-update-daemon-start-");
afterAll(cleanup);

describe("update at start-up", () => {
  it("a certificate file that is not there: the daemon ends with INPUT's error, not 'will keep trying'", async () => {
    const arns = {
      trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a"),
      profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/b"),
      roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
    };
    const settings = {
      signer: { certificate: join(dir, "missing.pem"), privateKey: join(dir, "missing.key") },
      session: { ...arns, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9", env: {}, timeoutMs: 1_000 },
    };
    const log: string[] = [];
    const running = runUpdate({
      settings: async () => settings as never, path: join(dir, "credentials"), section: "gw", once: false,
      log: (line) => {
        log.push(line);
        // Serving where it should have ended: stop it, so that the test fails on its outcome rather than hanging.
        if (line.startsWith("updating profile")) setImmediate(() => process.emit("SIGTERM"));
      },
    });
    const outcome = await running.then(() => "kept running", (error: unknown) => error);
    expect(outcome).toMatchObject({ category: "input" });
    expect(log.join("\n")).not.toMatch(/will keep trying|updating profile/);
  });
});
