/**
 * `update` (the daemon) reads its settings again at each SIGHUP: a password given as a value is then held again, as
 * bytes. A reload that keeps the source does not use them; they must be wiped, as the agent's and serve's registry
 * does. A real source over an encrypted key file, a loopback endpoint, and the signals runDaemon listens to.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { heldSecret, heldValue } from "../../src/secrets/secret-source.js";
import { runUpdate } from "../../src/update/run-update.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";
import { startEndpoint, successBody } from "../rolesanywhere/support.js";

const ARNS = {
  trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a"),
  profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/b"),
  roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
};

describe("update (daemon): a reload that keeps the source", () => {
  const tmp = makeTempDir("raa-update-reload-wipe-");
  afterAll(() => tmp.cleanup());

  it("wipes the password it read again; the source's own is wiped when it stops", async () => {
    // Before: the re-read password's bytes were left in the heap at each SIGHUP (the registry wiped them; update not).
    vi.stubEnv("NOTIFY_SOCKET", "");
    const leaf = issueLeaf(createCa(tmp.dir, { name: "ca" }), tmp.dir, { name: "leaf" });
    const encrypted = join(tmp.dir, "leaf.enc.pem");
    openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", "pass:s3cret", "-out", encrypted]);
    const server = await startEndpoint([{ status: 201, body: successBody() }]);
    const read: Buffer[] = [];
    const settings = async () => {
      const keyPassword = heldValue("s3cret");
      read.push(heldSecret(keyPassword)!.use((bytes) => bytes));
      return {
        signer: { certificate: leaf.certPath, privateKey: encrypted, keyPassword },
        session: { ...ARNS, durationSeconds: 900 },
        endpoint: { endpoint: server.url, env: {}, timeoutMs: 10_000 },
      };
    };
    const zero = (b: Buffer) => b.every((byte) => byte === 0);
    const lines: string[] = [];
    const run = runUpdate({ settings, path: join(tmp.dir, "credentials"), section: "default", once: false, log: (l) => lines.push(l) });
    try {
      await vi.waitFor(() => expect(lines.some((l) => l.startsWith("default: new credentials"))).toBe(true), { timeout: 15_000, interval: 50 });
      process.emit("SIGHUP");
      await vi.waitFor(() => expect(lines).toContain("configuration reloaded: kept 1, replaced 0"), { timeout: 15_000, interval: 50 });
      expect(read).toHaveLength(2);
      expect(read.map((b) => b.length > 0 && zero(b))).toEqual([false, true]);
    } finally {
      process.emit("SIGTERM");
      await run;
      await server.close();
    }
    expect(zero(read[0]!)).toBe(true);
    expect(server.requests).toHaveLength(1);
  }, 30_000);
});
