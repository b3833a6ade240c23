import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { currentPcrPolicy, parsePcrRequest, PCR_REQUEST, pcrSelection } from "../../src/provisioning/tpm/pcr-policy.js";
import { Tpm } from "../../src/tpm/client/tpm.js";
import { PCR_Read } from "../../src/tpm/wire/commands.js";
import { ScriptedTransport } from "../tpm/fake-transport.js";
import { creationParams, signingKeyTemplate } from "../../src/tpm/keys/templates.js";
import { parseKeySpec } from "../../src/provisioning/key-spec.js";
import { computePolicyDigest, type PolicyStatement } from "../../src/tpm/keys/policy.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { encodeTss2KeyFile, parseTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { TPMA_OBJECT, TPM_ALG } from "../../src/tpm/wire/constants.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { generateTpmKey } from "../../src/provisioning/tpm/tpm-keygen.js";

/** A key file that does not exist, in a directory that does (keygen refuses a missing directory up front). */
const absentDir = mkdtempSync(join(tmpdir(), "raa-keygen-parts-"));
const ABSENT_KEY = join(absentDir, "k.tss2");
afterAll(() => rmSync(absentDir, { recursive: true, force: true }));

describe("generateTpmKey --tpm-owner-password", () => {
  const owner = { kind: "value" as const, value: "owner" };
  const spec = parseKeySpec("p256");
  it.each([
    ["a key file", { kind: "file" as const, path: ABSENT_KEY, overwrite: false }, 0x81000001],
    ["the owner hierarchy's SRK as parent", { kind: "handle" as const, handle: 0x81000010 }, undefined],
  ])("is refused for %s before the TPM is opened", async (_, target, parent) => {
    const err = await generateTpmKey({ target, spec, parent, ownerPassword: owner, device: "/nonexistent/tpm" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "USAGE", message: "--tpm-owner-password is for a handle:… key under a persistent --tpm-parent" });
    expect((err as { hint?: string }).hint).toBe("under the owner hierarchy, --tpm-parent-password is the owner's");
  });
});

describe("generateTpmKey names its options as the caller gives them (names)", () => {
  const spec = parseKeySpec("p256");
  const file = { kind: "file" as const, path: ABSENT_KEY, overwrite: false };
  const [flags, options] = [{}, { names: "options" as const }];
  it.each([
    [flags, "--tpm-owner-password is for a handle:… key under a persistent --tpm-parent", "--tpm-parent-password is"],
    [options, "ownerPassword is for a handle:… key under a persistent parent", "parentPassword is"],
  ])("an owner password for a key file (%j)", async (names, message, hint) => {
    const err = await generateTpmKey({ target: file, spec, ownerPassword: { kind: "value", value: "o" }, ...names })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "USAGE", message, hint: `under the owner hierarchy, ${hint} the owner's` });
  });

  it.each([[flags, "--tpm-parent"], [options, "parent"]])("a parent that is no storage key's handle (%j)", async (names, option) => {
    await expect(generateTpmKey({ target: file, spec, parent: 0x01000001, ...names })).rejects.toMatchObject({
      code: "TPM_KEY_INVALID", message: `${option} 0x01000001: use 0x40000001 (owner hierarchy) or a persistent key 0x81…`,
    });
  });

  it.each([[flags, "--force"], [options, "target.overwrite"]])("a key file that exists (%j)", async (names, option) => {
    const target = { kind: "file" as const, path: new URL(import.meta.url).pathname, overwrite: false };
    await expect(generateTpmKey({ target, spec, ...names })).rejects.toMatchObject({
      code: "OBJECT_EXISTS", hint: `choose another path, or pass ${option} to replace it`,
    });
  });

  it.each([[flags, "--tpm-device"], [options, "device"]])("a TPM device that is not there (%j)", async (names, option) => {
    const target = { kind: "file" as const, path: ABSENT_KEY, overwrite: false };
    await expect(generateTpmKey({ target, spec, device: "/nonexistent/tpm", env: {}, ...names })).rejects.toMatchObject({
      code: "TPM_UNAVAILABLE", message: "no TPM at /nonexistent/tpm", hint: `check ${option} / TPM_DEVICE`,
    });
  });
});

describe("parsePcrRequest", () => {
  it.each([
    ["sha256:0,7", { bank: "sha256", pcrs: [0, 7] }],
    ["7,0,7", { bank: "sha256", pcrs: [0, 7] }],
    ["SHA384:16", { bank: "sha384", pcrs: [16] }],
    ["sha256: 0, 23", { bank: "sha256", pcrs: [0, 23] }],
    ["7,6,5,4,3,2,1,0", { bank: "sha256", pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }],
  ])("%s", (text, expected) => {
    expect(parsePcrRequest(text)).toEqual(expected);
  });

  it.each(["md5:1", "sha256:24", "sha256:", "sha256:a", "sha256:a7", "sha256:7a", "sha256:0,a", "0,1,2,3,4,5,6,7,8", "constructor:1", "__proto__:1"])("refuses %j", (text) => {
    expect(() => parsePcrRequest(text)).toThrow(/--tpm-pcr/);
  });

  it("a library caller's request: a known bank and 1 to 8 PCRs 0-23 (an empty list would bind the key to no PCR)", () => {
    const [ok] = PCR_REQUEST as [(v: unknown) => boolean, string];
    expect(ok({ bank: "sha256", pcrs: [0, 7] })).toBe(true);
    expect(ok({ bank: "sha1", pcrs: [0, 1, 2, 3, 4, 5, 6, 23] })).toBe(true);
    for (const bad of [
      { bank: "sha256", pcrs: [] },
      { bank: "sha256", pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8] },
      { bank: "sha256", pcrs: [24] },
      { bank: "sha256", pcrs: [0, 24] },
      { bank: "sha256", pcrs: [-1] },
      { bank: "sha256", pcrs: [1.5] },
      { bank: "sha256", pcrs: ["7"] },
      { bank: "sha256", pcrs: "7" },
      { bank: "md5", pcrs: [7] },
      { bank: "constructor", pcrs: [7] },
      { bank: 11, pcrs: [7] },
      { pcrs: [7] },
      null,
    ]) {
      expect(ok(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it("selects PCRs as a 3-byte bitmap", () => {
    expect(pcrSelection({ bank: "sha256", pcrs: [0, 7, 16, 23] })).toEqual({ hash: TPM_ALG.SHA256, pcrSelect: Buffer.from([0x81, 0x00, 0x81]) });
  });
});

describe("signingKeyTemplate", () => {
  const base = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.sign;
  it("is a non-duplicable, sign-only, unrestricted key usable with its password", () => {
    const t = signingKeyTemplate(parseKeySpec("p256"), undefined);
    expect(t.objectAttributes).toBe(base | TPMA_OBJECT.userWithAuth);
    expect(t.objectAttributes & (TPMA_OBJECT.decrypt | TPMA_OBJECT.restricted)).toBe(0);
    expect(t.nameAlg).toBe(TPM_ALG.SHA256);
  });

  it("clears userWithAuth when a policy governs the key", () => {
    const t = signingKeyTemplate(parseKeySpec("rsa3072"), Buffer.alloc(32, 1));
    expect(t.objectAttributes).toBe(base);
    expect(t.type === TPM_ALG.RSA && t.parameters.keyBits).toBe(3072);
  });

  it("byte for byte: P-384 with its password; RSA-2048 under a policy (its digest as authPolicy); no symmetric, scheme NULL, exponent 65537", () => {
    const hex = (t: Parameters<typeof encode>[1]) => encode(TPMT_PUBLIC, t).toString("hex");
    // type, nameAlg, attributes, authPolicy, symmetric NULL, scheme NULL, then curve + kdf NULL or keyBits + exponent, unique
    expect(hex(signingKeyTemplate(parseKeySpec("p384"), undefined))).toBe(["0023", "000b", "00040072", "0000", "0010", "0010", "0004", "0010", "0000", "0000"].join(""));
    const policyDigest = Buffer.alloc(32, 1);
    expect(hex(signingKeyTemplate(parseKeySpec("rsa2048"), policyDigest))).toBe(
      ["0001", "000b", "00040032", `0020${policyDigest.toString("hex")}`, "0010", "0010", "0800", "00000000", "0000"].join(""),
    );
  });

  it("creationParams carries the key's password as userAuth, with no sensitive data, outside info or creation PCRs", () => {
    const template = signingKeyTemplate(parseKeySpec("p256"), undefined);
    expect(creationParams(template, Buffer.from("pw"))).toEqual({ inSensitive: { userAuth: Buffer.from("pw"), data: Buffer.alloc(0) }, inPublic: template, outsideInfo: Buffer.alloc(0), creationPCR: [] });
    expect(creationParams(template).inSensitive.userAuth).toEqual(Buffer.alloc(0));
  });
});

describe("encodeTss2KeyFile", () => {
  const policy: PolicyStatement[] = [
    { command: "PolicyPCR", pcrs: [pcrSelection({ bank: "sha256", pcrs: [0, 7] })], pcrDigest: Buffer.alloc(32, 0xaa) },
    { command: "PolicyAuthValue" },
  ];
  const template = signingKeyTemplate(parseKeySpec("p256"), computePolicyDigest(policy, "sha256"));
  const publicArea = encode(TPMT_PUBLIC, { ...template, unique: { x: Buffer.alloc(32, 1), y: Buffer.alloc(32, 2) } } as typeof template);
  const privateBlob = Buffer.alloc(126, 7);

  it.each([
    [0x40000001, true, [] as PolicyStatement[]],
    [0x81000001, false, policy],
  ])("parent %s, emptyAuth %s: read back by the signer's parser", async (parent, emptyAuth, statements) => {
    const pem = await encodeTss2KeyFile({ parent, public: decodePublicArea(publicArea, "test"), privateBlob, emptyAuth, policy: statements });
    const file = await parseTss2KeyFile(pem, "test");
    expect(file.parent).toBe(parent);
    expect(file.emptyAuth).toBe(emptyAuth);
    expect(file.public.bytes.equals(publicArea)).toBe(true);
    expect(file.privateBlob.equals(privateBlob)).toBe(true);
    expect(file.policy).toEqual(statements);
  });

  it("writes emptyAuth FALSE explicitly and the parent as a positive INTEGER (openssl asn1parse)", async () => {
    const pem = await encodeTss2KeyFile({ parent: 0x81000001, public: decodePublicArea(publicArea, "test"), privateBlob, emptyAuth: false, policy: [] });
    const dump = execFileSync("openssl", ["asn1parse"], { input: pem, encoding: "utf8" });
    expect(dump).toMatch(/OBJECT\s+:2\.23\.133\.10\.1\.3/);
    expect(dump).toMatch(/cont \[ 0 \]\s*\n.*BOOLEAN\s+:0/);
    expect(dump).toMatch(/INTEGER\s+:81000001/);
  });
});

describe("currentPcrPolicy", () => {
  /** A TPM answering TPM2_PCR_Read with this selection and these values. */
  const answering = (pcrSelectionOut: unknown[], pcrValues: Buffer[]) => {
    const params = encode(PCR_Read.response, { pcrUpdateCounter: 1, pcrSelectionOut, pcrValues } as never);
    const header = Buffer.alloc(10);
    header.writeUInt16BE(0x8001, 0);
    header.writeUInt32BE(10 + params.length, 2);
    return new Tpm(new ScriptedTransport([Buffer.concat([header, params])]));
  };
  const request = parsePcrRequest("sha512:0,7");

  it("binds the key to the values read: SHA-256 of the PCR values in index order", async () => {
    const values = [Buffer.alloc(64, 1), Buffer.alloc(64, 2)];
    const policy = await currentPcrPolicy(answering([pcrSelection(request)], values), request);
    const pcrDigest = createHash("sha256").update(Buffer.concat(values)).digest();
    expect(policy).toEqual({ command: "PolicyPCR", pcrs: [pcrSelection(request)], pcrDigest });
  });

  it.each([
    ["no bank at all", [], []],
    ["the bank without PCR 7", [{ ...pcrSelection(request), pcrSelect: Buffer.from([1, 0, 0]) }], [Buffer.alloc(64)]],
    ["one value for two PCRs", [pcrSelection(request)], [Buffer.alloc(64)]],
    ["PCR 8 too", [{ ...pcrSelection(request), pcrSelect: Buffer.from([0x81, 1, 0]) }], [Buffer.alloc(64), Buffer.alloc(64), Buffer.alloc(64)]],
    ["PCR 8 instead of 7", [{ ...pcrSelection(request), pcrSelect: Buffer.from([1, 1, 0]) }], [Buffer.alloc(64), Buffer.alloc(64)]],
    ["the bank twice", [pcrSelection(request), pcrSelection(request)], [Buffer.alloc(64), Buffer.alloc(64)]],
  ])("a TPM that reads %s (not allocated): refused, naming the bank", async (_, selections, values) => {
    await expect(currentPcrPolicy(answering(selections, values), request)).rejects.toMatchObject({
      code: "TPM_ERROR",
      message: "the TPM has no sha512 bank for PCR 0,7",
      hint: "choose an allocated PCR bank (tpm2_getcap pcrs lists them)",
    });
  });
});

describe("generateTpmKey --private-key handle:… on a TPM that fails to say whether the handle is free", () => {
  it("stops with the TPM's error (not taken as a free handle), after that one command", async () => {
    // TPM_RC_FAILURE to every command.
    const { error, commands } = await keygenAtHandle(() => "00000101");
    expect(error).toMatchObject({ message: expect.stringMatching(/TPM2_ReadPublic.*TPM_RC_FAILURE/) });
    expect(commands).toHaveLength(1);
  });
});

describe("generateTpmKey's checks before the TPM is reached", () => {
  const spec = parseKeySpec("p256");
  const file = { kind: "file" as const, path: ABSENT_KEY, overwrite: false };
  const noTpm = { device: "/nonexistent/tpm", env: {} };
  const reachesTheTpm = { code: "TPM_UNAVAILABLE", message: "no TPM at /nonexistent/tpm" };

  it.each([
    ["0", 0, "--tpm-parent 0x00000000: use 0x40000001"],
    ["0xffffffff", 0xffffffff, "--tpm-parent 0xffffffff: use 0x40000001"],
    ["-1", -1, "generateTpmKey: parent must be a TPM handle (0 to 0xffffffff)"],
    ["0x100000000 (which would wrap to the owner hierarchy)", 0x100000000, "generateTpmKey: parent must be a TPM handle (0 to 0xffffffff)"],
    ["0x40000001.5", 0x40000001 + 0.5, "generateTpmKey: parent must be a TPM handle (0 to 0xffffffff)"],
  ])("a parent of %s: a handle outside 0-0xffffffff is not a handle at all", async (_, parent, message) => {
    const err = await generateTpmKey({ target: file, spec, parent, ...noTpm }).catch((e: unknown) => e);
    expect((err as Error).message.startsWith(message), (err as Error).message).toBe(true);
  });

  it.each([
    [{ kind: "file", path: 7, overwrite: false }],
    [{ kind: "file" }],
    [{ kind: "pipe", path: ABSENT_KEY, overwrite: false }],
    [{ kind: "handle", handle: 0x181000010 }],
    [{ kind: "handle", handle: -0x81000010 }],
    [{ kind: "handle", handle: "0x81000010" }],
  ])("a target %j is refused as a wrong option", async (target) => {
    await expect(generateTpmKey({ target: target as never, spec, ...noTpm })).rejects.toMatchObject({
      code: "USAGE", message: 'generateTpmKey: target must be { kind: "file", path, overwrite } or { kind: "handle", handle }',
    });
  });

  it("an owner password for a handle:… key under a persistent parent is taken (the TPM is opened next)", async () => {
    const target = { kind: "handle" as const, handle: 0x81000010 };
    const ownerPassword = { kind: "value" as const, value: "owner" };
    await expect(generateTpmKey({ target, spec, parent: 0x81000001, ownerPassword, ...noTpm })).rejects.toMatchObject(reachesTheTpm);
  });

  it("an existing key file is named as one", async () => {
    const path = new URL(import.meta.url).pathname;
    await expect(generateTpmKey({ target: { kind: "file", path, overwrite: false }, spec, ...noTpm })).rejects.toMatchObject({
      code: "OBJECT_EXISTS", message: `TPM key file ${path} already exists`,
    });
  });

  it.each([
    ["keyPassword", "new TPM key password"],
    ["parentPassword", "TPM parent password"],
  ])("a %s from a variable that is not set names which password", async (option, what) => {
    const source = { kind: "env" as const, name: "RAA_TEST_UNSET_PASSWORD" };
    await expect(generateTpmKey({ target: file, spec, [option]: source, ...noTpm })).rejects.toMatchObject({
      code: "PASSWORD_REQUIRED", message: `${what}: environment variable RAA_TEST_UNSET_PASSWORD is not set`,
    });
  });

  it("the owner password of a handle:… key under a persistent parent, from a variable that is not set", async () => {
    const target = { kind: "handle" as const, handle: 0x81000010 };
    const ownerPassword = { kind: "env" as const, name: "RAA_TEST_UNSET_PASSWORD" };
    await expect(generateTpmKey({ target, spec, parent: 0x81000001, ownerPassword, ...noTpm })).rejects.toMatchObject({
      code: "PASSWORD_REQUIRED", message: "TPM owner password: environment variable RAA_TEST_UNSET_PASSWORD is not set",
    });
  });

  it("an empty new key password is refused with a hint (not a key without a password)", async () => {
    vi.stubEnv("RAA_TEST_EMPTY", ""); // a password's { kind: "env" } is process.env's
    await expect(generateTpmKey({ target: file, spec, keyPassword: { kind: "env", name: "RAA_TEST_EMPTY" }, device: noTpm.device, env: {} }))
      .rejects.toMatchObject({
        code: "PASSWORD_REQUIRED",
        hint: "give the password, or leave the password option out for a key without one",
      });
  });
});

describe("generateTpmKey --private-key handle:… when the TPM says the handle is free", () => {
  it.each([
    ["TPM_RC_HANDLE", "0000018b"],
    ["TPM_RC_VALUE", "00000184"],
  ])("ReadPublic's %s (no object there) lets it go on to create the key's parent", async (_, rc) => {
    // The first command (ReadPublic of the handle) is answered `rc`, every later one TPM_RC_FAILURE.
    const { error, commands } = await keygenAtHandle((n) => (n === 1 ? rc : "00000101"));
    expect(error).toMatchObject({ cause: { message: expect.stringMatching(/^TPM2_CreatePrimary failed: TPM_RC_FAILURE/) } });
    expect(commands).toHaveLength(2);
  });
});

/**
 * `keygen --private-key handle:0x81000010` against a TPM on a unix socket that answers its n-th command with a bare
 * response code (`rc(n)`, 8 hex digits; raw framing); what it failed with and the commands it sent.
 */
async function keygenAtHandle(rc: (n: number) => string): Promise<{ error: unknown; commands: Buffer[] }> {
  const dir = mkdtempSync(join(tmpdir(), "raa-keygen-tpm-"));
  const commands: Buffer[] = [];
  const server = createServer((socket) =>
    socket.on("data", (command) => {
      commands.push(command);
      socket.write(Buffer.from(`80010000000a${rc(commands.length)}`, "hex"));
    }),
  );
  const path = join(dir, "tpm.sock");
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    const target = { kind: "handle" as const, handle: 0x81000010 };
    const error = await generateTpmKey({ target, spec: parseKeySpec("p256"), device: `unix:${path}`, env: {} })
      .catch((e: unknown) => e);
    return { error, commands };
  } finally {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
