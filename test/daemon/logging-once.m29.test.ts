import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { NOT_RETRIED } from "../../src/credentials/credential-source.js";
import { startDaemon } from "../../src/daemon/run-daemon.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";

const ARNS = {
  trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a"),
  profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/b"),
  roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
};
const endpoint = { endpoint: "http://127.0.0.1:9" };

// The "logged once" rule of a daemon's source whose open failed (logFailures, loggingSource): only an error that is
// not retried (auth, usage) says so, and only the very error the start-up line gave is left unlogged by the refresh.
describe("a daemon's source whose open failed: what start-up and the refreshes after it log", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let certPath: string;
  let encryptedKey: string;
  beforeAll(() => {
    tmp = makeTempDir("raa-logging-once-");
    const leaf = issueLeaf(createCa(tmp.dir, { name: "ca" }), tmp.dir, { name: "leaf" });
    certPath = leaf.certPath;
    encryptedKey = join(tmp.dir, "leaf.enc.pem");
    openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", "pass:secret", "-out", encryptedKey]);
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it.each([
    ["a token module that is not there (device)", () => "pkcs11:token=gateway;object=key?module-path=/nonexistent/libp11-raa.so", /PKCS11_/],
    ["a key file that is not there (input)", () => join(tmp.dir, "absent.pem"), /FILE_NOT_FOUND/],
  ])("%s: the start-up line does not say it is not retried, and it is retried", async (_what, privateKey, code) => {
    const lines: string[] = [];
    const settings = { signer: { certificate: certPath, privateKey: privateKey() }, session: { ...ARNS, durationSeconds: 900 }, endpoint };
    const { registry } = await startDaemon([{ name: "t", settings }], (line) => lines.push(line), false, {}, async () => ({}));
    try {
      const source = registry.get("t")!;
      await vi.waitFor(() => expect(source.status().consecutiveFailures).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 50 });
      expect(source.status().lastError?.code).toMatch(code);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith("t: ")).toBe(true);
      expect(lines[0]!.endsWith(NOT_RETRIED)).toBe(false);
    } finally {
      await registry.closeAll();
    }
  }, 15_000);

  it("a key file missing at start-up that then appears with a password it refuses: the refusal is logged (it is not the start-up error)", async () => {
    const keyPath = join(tmp.dir, "late.enc.pem");
    const lines: string[] = [];
    const settings = {
      signer: { certificate: certPath, privateKey: keyPath, keyPassword: { kind: "value" as const, value: "wrong" } },
      session: { ...ARNS, durationSeconds: 900 }, endpoint,
    };
    const { registry } = await startDaemon([{ name: "p", settings }], (line) => lines.push(line), false, {}, async () => ({}));
    try {
      const source = registry.get("p")!;
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^p: .*late\.enc\.pem/);
      copyFileSync(encryptedKey, keyPath);
      await vi.waitFor(() => expect(source.status().lastError?.code).toBe("PASSWORD_INCORRECT"), { timeout: 10_000, interval: 50 });
      await vi.waitFor(() => expect(lines).toHaveLength(2), { timeout: 5_000, interval: 50 });
      expect(lines[1]).toMatch(/^p: refresh failed \(PASSWORD_INCORRECT\): incorrect PKCS#8 private key password .*; not retried \(fix it, then reload with SIGHUP or restart\)$/);
    } finally {
      await registry.closeAll();
    }
  }, 20_000);
});
