/** keygen refuses what it can refuse without a device before it says it is generating anything. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const dir = mkdtempSync(join(tmpdir(), "raa-keygen-usage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const existing = join(dir, "key.tss2");
writeFileSync(existing, "taken");

async function keygen(...flags: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
  const code = await main(["keygen", ...flags], io);
  return { code, stderr };
}

const HANDLE = ["--private-key", "handle:0x81000001"];
const OWNER = /under a persistent --tpm-parent/;

describe("keygen's usage errors come alone", () => {
  it.each([
    [["--private-key", "handle:0x81000001", "--tpm-pcr", "sha256:0"], /a PCR-bound key needs its policy at every use/, 2],
    [["--private-key", "handle:0x01000001"], /handle:0x01000001 is not an owner persistent handle/, 2],
    [["--private-key", existing], /already exists/, 3],
    [["--private-key", existing, "--tpm-owner-password", "env:X"], /--tpm-owner-password is for a handle:… key under a persistent --tpm-parent/, 2],
    [["--private-key", "pkcs11:token=t"], /the new key needs a label/, 2],
    [["--private-key", "pkcs11:token=t;object=k;type=cert"], /keygen creates key pairs; drop type=cert from the URI/, 2],
    [["--private-key", "pkcs11:token=t;object=k", "--tpm-pcr", "sha256:0"], /--tpm-pcr is for TPM keys, not pkcs11: URIs/, 2],
    [["--private-key", existing, "--label", "k"], /--label is for pkcs11: URIs, not TPM keys/, 2],
    // --tpm-parent written as --private-key takes it (handle:…) or bare: the same parent either way.
    [[...HANDLE, "--tpm-parent", "handle:0x40000001", "--tpm-owner-password", "env:X"], OWNER, 2],
    [[...HANDLE, "--tpm-parent", "0x40000001", "--tpm-owner-password", "env:X"], OWNER, 2],
    [[...HANDLE, "--tpm-parent", "xyz"], /^roles-anywhere-agent: --tpm-parent xyz is not a TPM handle \(/, 3],
    // Handles without 0x are hex, as the Go helper reads them (and as docs/tpm.md writes handle:81000101).
    [["--private-key", "handle:81800000"], /handle:0x81800000 is not an owner persistent handle/, 2],
    [[...HANDLE, "--tpm-parent", "40000007"], /--tpm-parent 0x40000007: use 0x40000001/, 2],
    // A source without its name is a usage error of the flag that holds it.
    [["--private-key", join(dir, "new.tss2"), "--tpm-parent-password=env:"],
      /^roles-anywhere-agent: --tpm-parent-password: "env:" names no environment variable/, 2],
    [[...HANDLE, "--tpm-parent", "0x81000002", "--tpm-owner-password=file:"], /^roles-anywhere-agent: --tpm-owner-password: "file:" names no file/, 2],
  ] as const)("%j", async (flags, message, exitCode) => {
    const { code, stderr } = await keygen(...(flags as readonly string[]));
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/generating/);
    expect(code).toBe(exitCode);
  });
});
