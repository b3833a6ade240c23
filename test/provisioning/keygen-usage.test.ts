/** keygen refuses what it can refuse without a device before it says it is generating anything. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { main } from "../../src/cli/main.js";
import { checkTokenKeygen, generateKeyOnToken } from "../../src/provisioning/pkcs11/token-keygen.js";
import { installOnToken } from "../../src/provisioning/pkcs11/install-on-token.js";
import { generateTpmKey } from "../../src/provisioning/tpm/tpm-keygen.js";

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
    [["--private-key", "handle:0x01000001"], /handle:0x01000001 is not an owner persistent handle/, 3],
    [["--private-key", existing], /already exists/, 3],
    // A directory is not "already exists (pass --force)": --force cannot replace it, and was refused only after the key.
    [["--private-key", dir], /TPM key file .* is a directory, not a regular file; it was left as it is/, 3],
    [["--private-key", dir, "--force", "--tpm-device", "/nonexistent/tpm"], /is a directory, not a regular file/, 3],
    [["--private-key", existing, "--tpm-owner-password", "env:X"], /--tpm-owner-password is for a handle:… key under a persistent --tpm-parent/, 2],
    [["--private-key", "pkcs11:token=t"], /the new key needs a label/, 2],
    // Upper case is a token URI too, as everywhere else (before: taken as a TSS2 file path, "no TPM found", exit 5).
    [["--private-key", "PKCS11:token=t"], /the new key needs a label/, 2],
    [["--private-key", "pkcs11:token=t;object=k;type=cert"], /keygen creates key pairs; drop type=cert from the URI/, 2],
    // A pin-source the token session refuses needs no token: refused before the progress line (before: after it).
    [["--private-key", "pkcs11:token=t;object=k?pin-source=https://example.com/pin"], /pin-source=https:… is not supported/, 3],
    [["--private-key", "pkcs11:token=t;object=k?pin-source=file://elsewhere/pin"], /pin-source=file:\/\/elsewhere\/pin names no local file/, 3],
    [["--private-key", "pkcs11:token=t;object=k", "--tpm-pcr", "sha256:0"], /--tpm-pcr is for TPM keys, not pkcs11: URIs/, 2],
    // A TPM password flag beside a token is refused as such, not read (keygen reads the TPM passwords only for a TPM key).
    [["--private-key", "pkcs11:token=t;object=k", "--tpm-parent-password", "env:"], /--tpm-parent-password is for TPM keys, not pkcs11: URIs/, 2],
    [["--private-key", existing, "--label", "k"], /--label is for pkcs11: URIs, not TPM keys/, 2],
    // --tpm-parent written as --private-key takes it (handle:…) or bare: the same parent either way.
    [[...HANDLE, "--tpm-parent", "handle:0x40000001", "--tpm-owner-password", "env:X"], OWNER, 2],
    [[...HANDLE, "--tpm-parent", "0x40000001", "--tpm-owner-password", "env:X"], OWNER, 2],
    [[...HANDLE, "--tpm-parent", "xyz"], /^roles-anywhere-agent: --tpm-parent xyz is not a TPM handle \(/, 3],
    // Handles without 0x are hex, as the Go helper reads them (and as docs/tpm.md writes handle:81000101).
    [["--private-key", "handle:81800000"], /handle:0x81800000 is not an owner persistent handle/, 3],
    [[...HANDLE, "--tpm-parent", "40000007"], /--tpm-parent 0x40000007: use 0x40000001/, 3],
    // A handle that cannot be used, malformed or out of range, is an input error (3) in every form, like any unusable key.
    [["--private-key", "handle:0x1"], /handle:0x00000001 is not an owner persistent handle/, 3],
    [["--private-key", "handle:zz"], /handle:zz is not a TPM handle/, 3],
    [[...HANDLE, "--tpm-parent", "0x1"], /--tpm-parent 0x00000001: use 0x40000001/, 3],
    [[...HANDLE, "--tpm-parent", "0xzz"], /--tpm-parent 0xzz is not a TPM handle/, 3],
    // A source without its name is a usage error of the flag that holds it.
    [["--private-key", join(dir, "new.tss2"), "--tpm-parent-password=env:"],
      /^roles-anywhere-agent: --tpm-parent-password: "env:" names no environment variable/, 2],
    [[...HANDLE, "--tpm-parent", "0x81000002", "--tpm-owner-password=file:"], /^roles-anywhere-agent: --tpm-owner-password: "file:" names no file/, 2],
    // An empty value (an unset "$VAR") is not the default: --tpm-pcr "" made a key bound to no PCR, and
    // --tpm-key-password-env "" one with no password, without a word.
    ...["key-type", "tpm-pcr", "tpm-parent", "tpm-device", "tpm-key-password-env", "tpm-key-password-file"].map((flag) =>
      [[...HANDLE.slice(0, 1), join(dir, "new.tss2"), `--${flag}=`], new RegExp(`^roles-anywhere-agent: --${flag} is empty \\(`), 2] as const),
    ...["id", "label", "pkcs11-lib", "pkcs11-pin-file", "pkcs11-pin-env"].map((flag) =>
      [["--private-key", "pkcs11:token=t;object=k", `--${flag}=`], new RegExp(`^roles-anywhere-agent: --${flag} is empty \\(`), 2] as const),
    [["--private-key="], /^roles-anywhere-agent: --private-key is empty \(/, 2],
    // Before: --tpm-parent-password "" and --tpm-owner-password "" meant no password; now refused as in the other commands.
    ...["tpm-parent-password", "tpm-owner-password"].map((flag) =>
      [[...HANDLE.slice(0, 1), join(dir, "new.tss2"), `--${flag}=`], new RegExp(`^roles-anywhere-agent: --${flag} is empty \\(`), 2] as const),
  ] as const)("%j", async (flags, message, exitCode) => {
    const { code, stderr } = await keygen(...(flags as readonly string[]));
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/generating/);
    expect(code).toBe(exitCode);
  });
});

describe("keygen's progress line", () => {
  const generating = async (flags: string[], isTTY = true) => {
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { isTTY, write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true", PIN: "1234" } };
    await main(["keygen", ...flags], io as never);
    return stderr;
  };
  const tpm = (...flags: string[]) => ["--private-key", join(dir, "spinner.tss2"), "--tpm-device", "/nonexistent/tpm", ...flags];
  const token = (uri: string, ...flags: string[]) => ["--private-key", uri, "--pkcs11-lib", "/nonexistent/lib.so", ...flags];
  const SPINNER = /^\r\x1b\[K. generating a p256 key (in the TPM|on the token)… /;
  const LINE = /^generating a p256 key (in the TPM|on the token)…\n/;

  it("is a spinner on a terminal, but one plain line when a TPM password is to be asked on it", async () => {
    expect(await generating(tpm("--tpm-parent-password", "1234"))).toMatch(SPINNER);
    const asked = await generating(tpm("--tpm-parent-password", "prompt"));
    expect(asked).toMatch(/^generating a p256 key in the TPM…\n.*TPM parent password is needed but there is no terminal/);
    expect(asked).not.toContain("\r");
  });

  it("is a spinner on a terminal for a token when the PIN is given (flag or URI), else one plain line (the PIN may be asked)", async () => {
    expect(await generating(token("pkcs11:token=t;object=k?pin-value=1234"))).toMatch(SPINNER);
    expect(await generating(token("pkcs11:token=t;object=k", "--pkcs11-pin-env", "PIN"))).toMatch(SPINNER);
    expect(await generating(token("pkcs11:token=t;object=k"))).toMatch(LINE);
  });

  it("is one plain line where stderr is no terminal (a log, a pipe)", async () => {
    expect(await generating(tpm("--tpm-parent-password", "1234"), false)).toMatch(LINE);
    expect(await generating(token("pkcs11:token=t;object=k?pin-value=1234"), false)).toMatch(LINE);
  });

  it("names the key type as given, with its article; an RSA key in the TPM can take a minute, on a token it is not said", async () => {
    const first = async (flags: string[]) => (await generating(flags, false)).split("\n")[0];
    expect(await first(tpm("--key-type", "rsa3072"))).toBe("generating an rsa3072 key in the TPM (RSA can take a minute)…");
    expect(await first(tpm("--key-type", "secp256r1"))).toBe("generating a secp256r1 key in the TPM…");
    expect(await first(token("pkcs11:token=t;object=k", "--key-type", "RSA"))).toBe("generating an RSA key on the token…");
    expect(await first(token("pkcs11:token=t;object=k", "--key-type", "ec-p384"))).toBe("generating an ec-p384 key on the token…");
  });
});

describe("a new TPM key's password", () => {
  it.each([
    [{ kind: "env", name: "PW" }, "environment variable PW"],
    [{ kind: "file", path: join(dir, "empty-pw") }, `file ${join(dir, "empty-pw")}`],
  ] as const)("that is empty (%j) is refused before the TPM is reached: no key without a password by mistake", async (source, named) => {
    // Before: the key was made with no password (emptyAuth TRUE) when the TPM was there; here, TPM_UNAVAILABLE.
    writeFileSync(join(dir, "empty-pw"), "", { mode: 0o600 });
    vi.stubEnv("PW", ""); // a password's { kind: "env" } is process.env's
    const target = { kind: "file", path: join(dir, "pw.tss2"), overwrite: false } as const;
    const spec = { kind: "EC", curve: "P-256", name: "EC P-256" } as const;
    await expect(generateTpmKey({ target, spec, keyPassword: source, device: "/nonexistent/tpm" })).rejects.toMatchObject({
      code: "PASSWORD_REQUIRED",
      message: `the new TPM key password from ${named} is empty`,
    });
  });
});

describe("the keygen and install functions from plain JavaScript", () => {
  const p256 = { kind: "EC", curve: "P-256", name: "EC P-256" };
  const file = { kind: "file", path: join(dir, "new.tss2"), overwrite: false };
  it.each([
    [generateKeyOnToken, null, "the options must be an object"],
    [generateKeyOnToken, { spec: p256 }, "uri must be a string"],
    [generateKeyOnToken, { uri: 5, spec: p256 }, "uri must be a string"],
    [generateKeyOnToken, { uri: "pkcs11:token=t;object=k", spec: "p256" }, "spec must be { kind: \"RSA\", bits: 2048"],
    [generateKeyOnToken, { uri: "pkcs11:token=t;object=k", spec: { ...p256, curve: "P-521" } }, "spec must be"],
    [generateKeyOnToken, { uri: "pkcs11:token=t;object=k", spec: p256, id: "01" }, "id must be a Buffer"],
    [generateKeyOnToken, { uri: "pkcs11:token=t;object=k", spec: p256, library: 5 }, "library must be a string"],
    [generateKeyOnToken, { uri: "pkcs11:token=t;object=k", spec: p256, library: "/nonexistent.so", pin: "1234" }, "pin must be {"],
    [installOnToken, { keyUri: "pkcs11:token=t", library: "/nonexistent.so", pin: { kind: "file" } }, "pin must be {"],
    [installOnToken, undefined, "the options must be an object"],
    [installOnToken, { keyUri: 5 }, "keyUri must be a string"],
    [installOnToken, { keyUri: "pkcs11:token=t", certificate: "c.pem", chain: [] }, "certificate must be a Certificate"],
    [generateTpmKey, null, "the options must be an object"],
    [generateTpmKey, { spec: p256 }, 'target must be { kind: "file", path, overwrite } or { kind: "handle", handle }'],
    [generateTpmKey, { target: "key.tss2", spec: p256 }, "target must be"],
    [generateTpmKey, { target: { kind: "file", path: 5 }, spec: p256 }, "target must be"],
    [generateTpmKey, { target: file }, "spec must be"],
    [generateTpmKey, { target: file, spec: p256, parent: "0x81000001" }, "parent must be a TPM handle (0 to 0xffffffff)"],
    [generateTpmKey, { target: file, spec: p256, parent: 2 ** 33 }, "parent must be a TPM handle"],
    [generateTpmKey, { target: { kind: "handle", handle: 2 ** 40 }, spec: p256 }, "target must be"],
    [generateTpmKey, { target: file, spec: p256, pcr: { bank: "md5", pcrs: [0] } }, "pcr must be { bank: \"sha256\""],
    [generateTpmKey, { target: file, spec: p256, pcr: { bank: "sha256", pcrs: [99] } }, "pcr must be"],
    [generateTpmKey, { target: file, spec: p256, device: 5 }, "device must be a string"],
    [generateTpmKey, { target: file, spec: p256, device: "tcp:127.0.0.1:1", parentPassword: "1234" }, "parentPassword must be {"],
    [generateTpmKey, { target: file, spec: p256, device: "tcp:127.0.0.1:1", keyPassword: "1234" }, "keyPassword must be {"],
  ] as const)("%o %j: USAGE, before any device is opened", async (create, options, message) => {
    const e = await (create as (o: unknown) => Promise<unknown>)(options).catch((error: unknown) => error);
    expect(e).toMatchObject({ code: "USAGE", message: expect.stringContaining(`${create.name}: ${message}`) });
  });
});

describe("checkTokenKeygen: what keygen on a token decides before it loads a module", () => {
  const spec = { kind: "EC", curve: "P-256", name: "p256" } as const;
  const check = (uri: string, extra: { id?: Buffer; label?: string } = {}) => checkTokenKeygen({ uri, spec, ...extra });

  it("a URI without type= or with type=private is taken; the id and label given win over the URI's", () => {
    expect(check("pkcs11:token=t;object=k")).toMatchObject({ label: "k", id: undefined });
    expect(check("pkcs11:token=t;object=k;type=private;id=%01")).toMatchObject({ label: "k", id: Buffer.from([1]) });
    expect(check("pkcs11:token=t;object=k", { id: Buffer.from([5]) }).id).toEqual(Buffer.from([5]));
    expect(check("pkcs11:token=t;object=k;id=%01", { id: Buffer.from([5]), label: "l" })).toMatchObject({ label: "l", id: Buffer.from([5]) });
  });

  it("an empty id, given or in the URI, is refused", () => {
    expect(() => check("pkcs11:token=t;object=k", { id: Buffer.alloc(0) })).toThrow(/^the key id may not be empty$/);
    expect(() => check("pkcs11:token=t;object=k;type=public")).toThrow("keygen creates key pairs; drop type=public from the URI");
  });
});
