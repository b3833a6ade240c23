/**
 * keygen reads --tpm-parent-password and --tpm-owner-password once (is a prompt coming? then no spinner; then the key
 * is made with clones of them): those bytes are wiped when keygen ends, also when it is refused.
 */
import { describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { Secret } from "../../src/secrets/secret.js";

async function keygen(...flags: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
  const code = await main(["keygen", ...flags], io);
  return { code, stderr };
}

describe("keygen, the passwords looked at before preparing", () => {
  it("are wiped: refused before the TPM options are read, the owner password refused after the parent's, the TPM checks refusing", async () => {
    const made = vi.spyOn(Secret, "fromUtf8");
    try {
      const passwords = ["--tpm-parent-password", "1234", "--tpm-owner-password", "5678"];
      expect(await keygen("--private-key", "handle:0x81000001", "--label", "k", ...passwords)).toMatchObject({ code: 2, stderr: expect.stringContaining("--label is for pkcs11: URIs") });
      expect(await keygen("--private-key", "handle:0x81000001", "--tpm-parent-password", "1234", "--tpm-owner-password", "env:")).toMatchObject({ code: 2 });
      // Refused by the TPM checks: before, prepareTpmKeygen's second copy was left (generateTpmKey wipes only clones).
      expect(await keygen("--private-key", "handle:0x81000001", "--tpm-parent-password", "1234", "--tpm-pcr", "sha256:0")).toMatchObject({ code: 2, stderr: expect.stringContaining("PCR-bound") });
      const secrets = made.mock.results.map((r) => r.value as Secret);
      const wiped = (secret: Secret) => { try { secret.use(() => 0); return false; } catch { return true; } };
      expect(secrets).toHaveLength(4); // read once each (before: the TPM checks' case read it twice)
      expect(secrets.map(wiped)).toEqual([true, true, true, true]);
    } finally {
      made.mockRestore();
    }
  });
});
