/** The TPM signer over a scripted TPM: what does not need a real one (native-test/tpm-signer.test.ts has swtpm). */
import { generateKeyPairSync, sign, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Certificate } from "../../../src/x509/certificate.js";
import type { OptionNames } from "../../../src/signers/options.js";
import { encodeTss2KeyFile, type Tss2KeyFile } from "../../../src/tpm/keys/tss2-key-file.js";
import { openTpmSigner } from "../../../src/signers/tpm/tpm-signer.js";
import { forgetRejectedSecrets } from "../../../src/secrets/rejected-secrets.js";
import { resolveKeyPassword } from "../../../src/signers/tpm/key-password.js";
import { encode } from "../../../src/tpm/wire/codec.js";
import { ReadPublic, Sign } from "../../../src/tpm/wire/commands.js";
import { TPMT_PUBLIC, type TpmtPublic } from "../../../src/tpm/wire/structures.js";
import { TPM_ALG } from "../../../src/tpm/wire/constants.js";
import { objectName } from "../../../src/tpm/keys/public-area.js";
import { errorResponse, ScriptedTransport } from "../../tpm/fake-transport.js";
import { eccSigningPublic } from "../../helpers/tpm-public.js";
import { TpmConnectionLost } from "../../../src/tpm/transport/transport.js";
import { waitForDevice } from "../../../src/signers/wait-for-device.js";
import { createCa, issueLeaf, makeTempDir } from "../../helpers/pki.js";

/**
 * A TPM holding a persistent P-256 key without a password: TPM2_ReadClock refused, TPM2_ReadPublic answered, with the
 * key's Name or `name`.
 */
function tpmWithKey(name?: Buffer, pub: TpmtPublic = eccSigningPublic(), later: Buffer[] = []): ScriptedTransport {
  return new ScriptedTransport([errorResponse(0x143), readPublicAnswer(pub, name), ...later]);
}

function readPublicAnswer(pub: TpmtPublic, name?: Buffer): Buffer {
  const bytes = encode(TPMT_PUBLIC, pub);
  name ??= objectName({ bytes, public: pub });
  const params = encode(ReadPublic.response, { outPublic: bytes, name, qualifiedName: Buffer.alloc(34) });
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0x8001, 0);
  header.writeUInt32BE(10 + params.length, 2);
  return Buffer.concat([header, params]);
}

/** A TPM2_Sign answer with `signature`, authorized by a password session (no nonce, no HMAC). */
function signAnswer(signature: Record<string, unknown>): Buffer {
  const params = encode(Sign.response, { signature } as never);
  const answer = Buffer.alloc(14);
  answer.writeUInt16BE(0x8002, 0);
  answer.writeUInt32BE(14 + params.length + 5, 2);
  answer.writeUInt32BE(params.length, 10);
  return Buffer.concat([answer, params, Buffer.from([0, 0, 1, 0, 0])]);
}

describe("TPM signers and the process's exit hooks", () => {
  it("twelve open signers add one exit hook, not one each: no MaxListenersExceededWarning on stderr", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    const before = { exit: process.listenerCount("exit"), beforeExit: process.listenerCount("beforeExit") };
    const open = (transport: ScriptedTransport) => openTpmSigner({ key: { kind: "handle", handle: 0x81000101 }, noKeyPassword: true }, { transport });
    const signers = await Promise.all(Array.from({ length: 12 }, () => open(tpmWithKey())));
    try {
      expect(process.listenerCount("exit")).toBeLessThanOrEqual(before.exit + 1);
      expect(process.listenerCount("beforeExit")).toBeLessThanOrEqual(before.beforeExit + 1);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.map((w) => w.name)).not.toContain("MaxListenersExceededWarning");
    } finally {
      await Promise.all(signers.map((s) => s.close()));
      process.off("warning", onWarning);
    }
    expect(process.listenerCount("exit")).toBe(before.exit);
    expect(process.listenerCount("beforeExit")).toBe(before.beforeExit);
  });
});

describe("sign() called from plain JavaScript", () => {
  it.each(["sha256", "SHA1", "MD5", "toString", "__proto__", ""])("digest %j: PRIVATE_KEY_UNSUPPORTED, as with a key file, before the TPM is asked", async (digest) => {
    const transport = tpmWithKey();
    const signer = await openTpmSigner({ key: { kind: "handle", handle: 0x81000101 }, noKeyPassword: true }, { transport });
    try {
      const sent = transport.sent.length;
      await expect(signer.sign(Buffer.from("m"), digest as never)).rejects.toMatchObject({
        code: "PRIVATE_KEY_UNSUPPORTED",
        message: `digest ${digest} is not supported`,
      });
      expect(transport.sent.length).toBe(sent);
    } finally {
      await signer.close();
    }
  });
});

describe("the Name TPM2_ReadPublic returns for a persistent key", () => {
  it("one that does not match its public area (altered on the way): TPM_ERROR, before any other command", async () => {
    const name = objectName({ bytes: encode(TPMT_PUBLIC, eccSigningPublic()), public: eccSigningPublic() });
    name[name.length - 1]! ^= 1;
    const transport = tpmWithKey(name);
    const error = await openTpmSigner({ key: { kind: "handle", handle: 0x81000101 }, noKeyPassword: true }, { transport }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "TPM_ERROR",
      message: "TPM key 0x81000101: TPM2_ReadPublic of 0x81000101 returned a Name that does not match its public area",
    });
    expect(transport.sent.length).toBe(2); // TPM2_ReadClock, TPM2_ReadPublic
  });
});

describe("a TPM2_Sign answer with another signature algorithm than the one asked for", () => {
  const rsaPublic = (): TpmtPublic => {
    const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
    const ecc = eccSigningPublic();
    const parameters = { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, keyBits: 2048, exponent: 0 };
    return { ...ecc, type: TPM_ALG.RSA, parameters, unique: Buffer.from(jwk.n!, "base64url") } as TpmtPublic;
  };
  const r = Buffer.alloc(32, 1);
  it.each([
    ["an ECDSA", "SM2", eccSigningPublic, { sigAlg: TPM_ALG.SM2, hash: TPM_ALG.SHA256, signatureR: r, signatureS: r }],
    ["an ECDSA", "ECSCHNORR", eccSigningPublic, { sigAlg: TPM_ALG.ECSCHNORR, hash: TPM_ALG.SHA256, signatureR: r, signatureS: r }],
    ["an RSASSA", "RSAPSS", rsaPublic, { sigAlg: TPM_ALG.RSAPSS, hash: TPM_ALG.SHA256, sig: Buffer.alloc(256, 1) }],
    ["an RSASSA", "NULL", rsaPublic, { sigAlg: TPM_ALG.NULL }],
  ] as const)("%s signature asked for, %s returned: a device fault, TPM_ERROR (exit 5), not the user's key", async (_, sigAlg, pub, signature) => {
    const transport = tpmWithKey(undefined, pub(), [signAnswer(signature)]);
    const signer = await openTpmSigner({ key: { kind: "handle", handle: 0x81000101 }, noKeyPassword: true }, { transport });
    try {
      const error = await signer.sign(Buffer.from("m")).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "TPM_ERROR", message: expect.stringContaining(`the TPM returned a ${sigAlg} signature`) });
    } finally {
      await signer.close();
    }
  });
});

describe("the TPM key password", () => {
  it("with prompting off (SignerOptions.prompt false): PASSWORD_REQUIRED naming tpm.keyPassword", async () => {
    const opts = { key: { kind: "handle", handle: 0x81000001 }, prompt: false } as const;
    await expect(resolveKeyPassword(opts, undefined, "handle:0x81000001")).rejects.toMatchObject({
      code: "PASSWORD_REQUIRED",
      message: "TPM key password is needed but asking on the terminal is off",
      hint: expect.stringMatching(/^set tpm\.keyPassword: /),
    });
  });

  // A variable of one newline (a Kubernetes Secret of an empty file), an empty file or variable: presented, the
  // empty password would cost a dictionary-attack strike on a key that has one, as an empty PIN would a try.
  it.each(["\n", "\r\n", ""])("from a variable holding %j: PASSWORD_REQUIRED, nothing presented", async (value) => {
    process.env["R16S_TPM_PW"] = value;
    try {
      const keyPassword = { kind: "env", name: "R16S_TPM_PW" } as const;
      const opts = { key: { kind: "handle", handle: 0x81000001 }, keyPassword } as const;
      await expect(resolveKeyPassword(opts, undefined, "handle:0x81000001")).rejects.toMatchObject({
        code: "PASSWORD_REQUIRED",
        message: "the TPM key password from environment variable R16S_TPM_PW is empty; it was not presented to the TPM",
      });
    } finally {
      delete process.env["R16S_TPM_PW"];
    }
  });
});

// --wait-for-device tries again while the TPM is down: a prompt before reaching it was asked at every try. With a
// terminal (stdin a TTY, not CI), a prompt that waits for the TPM fails as the TPM does (the TPM is down, so nothing is
// asked); without one, the prompt's own error needs no device and comes first, as before.
describe("a password asked on the terminal waits for the TPM", () => {
  const down = Object.assign(new ScriptedTransport([]), { ready: () => Promise.reject(Object.assign(new Error("down"), { code: "TPM_UNAVAILABLE" })) });
  const handle = { kind: "handle", handle: 0x81000001 } as const;
  const prompts = [
    ["the key's, asked when none is given", {}],
    ["the key's, given as a prompt", { keyPassword: { kind: "prompt", prompt: "TPM key password: " } }],
    ["the parent's, given as a prompt", { noKeyPassword: true, parentPassword: { kind: "prompt", prompt: "TPM parent password: " } }],
  ] as const;
  it.each(prompts)("%s: not asked while the TPM is down", async (_, given) => {
    const { isTTY } = process.stdin;
    const ci = process.env["CI"];
    process.stdin.isTTY = true;
    delete process.env["CI"];
    try {
      await expect(openTpmSigner({ key: handle, ...given }, { transport: down })).rejects.toMatchObject({ code: "TPM_UNAVAILABLE" }); // before: PASSWORD_REQUIRED
    } finally {
      process.stdin.isTTY = isTTY;
      if (ci !== undefined) process.env["CI"] = ci;
    }
  });

  it.each(prompts)("%s, with no terminal to ask on: PASSWORD_REQUIRED before the TPM is reached", async (_, given) => {
    await expect(openTpmSigner({ key: handle, ...given }, { transport: down })).rejects.toMatchObject({ code: "PASSWORD_REQUIRED" });
  });

  it("a password from a file is still read before the TPM is reached (a missing file is said first)", async () => {
    const keyPassword = { kind: "file", path: "/nonexistent/tpm-key-password" } as const;
    await expect(openTpmSigner({ key: handle, keyPassword }, { transport: down })).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
  });
});

describe("what to change, named as the caller gives it: SignerOptions.names (fromRolesAnywhere: options), else flags", () => {
  const { dir, cleanup } = makeTempDir("raa-tpm-names-");
  afterAll(cleanup);
  const leaf = issueLeaf(createCa(join(dir, "ca"), { name: "TPM Names CA" }), join(dir, "leaf"), { name: "device", keyType: "p256" });
  const certificate = new Certificate(new X509Certificate(leaf.certPem).raw);
  const handle = { kind: "handle", handle: 0x81000101 } as const;

  it.each([
    ["options" as const, "point privateKey at the key the certificate was issued for"],
    [undefined, "point --private-key at the key the certificate was issued for"],
  ])("a certificate that is not the TPM key's, names %s: KEY_CERTIFICATE_MISMATCH", async (names, hint) => {
    const error = await openTpmSigner({ key: handle, noKeyPassword: true, certificate, names }, { transport: tpmWithKey() })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "KEY_CERTIFICATE_MISMATCH", hint });
  });

  it.each([
    ["options" as const, /^drop tpm\.keyPassword; .*, add tpm\.ignoreEmptyAuth$/],
    [undefined, /^drop --tpm-key-password; .*, add --tpm-ignore-empty-auth$/],
  ])("a key password for an emptyAuth key file, names %s: drop it or say it is ignored", async (names, hint) => {
    const file = { emptyAuth: true, policy: [] } as unknown as Tss2KeyFile;
    const opts = { key: handle, keyPassword: { kind: "value", value: "pw" }, names } as const;
    await expect(resolveKeyPassword(opts, file, "key.pem")).rejects.toMatchObject({ code: "USAGE", hint: expect.stringMatching(hint) });
  });

  it.each([
    ["options" as const, "give it with tpm.parentPassword; it is not retried"],
    [undefined, "give it with --tpm-parent-password or a config profile's \"tpm-parent-password\"; it is not retried"],
  ])("a wrong parent key password, names %s: TPM_AUTH_FAILED naming the option", async (names, hint) => {
    const pub = eccSigningPublic();
    const area = { bytes: encode(TPMT_PUBLIC, pub), public: pub } as Tss2KeyFile["public"];
    const blob = Buffer.from("0004deadbeef", "hex");
    const pem = encodeTss2KeyFile({ parent: 0x81000001, public: area, privateBlob: blob, emptyAuth: true, policy: [] });
    forgetRejectedSecrets(); // both cases present "no" to parent 0x81000001 of the same stand-in TPM
    // TPM2_ReadClock refused, the parent's TPM2_ReadPublic answered, TPM2_Load refused: TPM_RC_AUTH_FAIL.
    const transport = tpmWithKey(undefined, pub, [Buffer.from(errorResponse(0x98e), "hex")]);
    const opts = { key: { kind: "tss2-pem", path: "k.tss2", pem }, parentPassword: { kind: "value", value: "no" }, names } as const;
    const error = await openTpmSigner(opts, { transport, parameterEncryption: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TPM_AUTH_FAILED", message: expect.stringMatching(/parent key 0x81000001/), hint });
  });

  it.each([
    ["options" as const, "wrong passwords are never retried; check tpm.keyPassword / its file or variable"],
    [undefined, "wrong passwords are never retried; check --tpm-key-password / its file or variable"],
  ])("a wrong key password, names %s: TPM_AUTH_FAILED naming the option", async (names: OptionNames | undefined, hint) => {
    const transport = tpmWithKey(undefined, eccSigningPublic(), [Buffer.from(errorResponse(0x98e), "hex")]);
    const opts = { key: handle, keyPassword: { kind: "value", value: "wrong" }, names } as const;
    const signer = await openTpmSigner(opts, { transport, parameterEncryption: false });
    try {
      await expect(signer.sign(Buffer.from("m"))).rejects.toMatchObject({ code: "TPM_AUTH_FAILED", hint });
    } finally {
      await signer.close();
    }
  });
});

describe("two signers of one TPM key with the same wrong password", () => {
  it("signing at once present it once: the second waits for the first's answer (before: two dictionary-attack tries)", async () => {
    forgetRejectedSecrets();
    const pub = eccSigningPublic();
    const transports = [0, 1].map(() => tpmWithKey(undefined, pub, [Buffer.from(errorResponse(0x98e), "hex")]));
    const opts = { key: { kind: "handle", handle: 0x81000101 }, keyPassword: { kind: "value", value: "wrong-for-both" }, names: "options" } as const;
    const signers = await Promise.all(transports.map((transport) => openTpmSigner(opts, { transport, parameterEncryption: false })));
    try {
      const errors = await Promise.all(signers.map((s) => s.sign(Buffer.from("m")).catch((e: unknown) => e)));
      expect(errors.map((e) => (e as { code?: string }).code)).toEqual(["TPM_AUTH_FAILED", "TPM_AUTH_FAILED"]);
      const signs = transports.flatMap((t) => t.sent.filter((command) => command.readUInt32BE(6) === 0x15d)); // TPM2_Sign
      expect(signs).toHaveLength(1);
      expect(errors[1]).toMatchObject({
        message: expect.stringMatching(/already rejected this key password; it was not presented again$/),
        hint: "fix tpm.keyPassword; if the TPM was given this password since, restart (a reload refuses it too)",
      });
    } finally {
      await Promise.all(signers.map((s) => s.close()));
    }
  });
});

describe("a TPM in dictionary-attack lockout", () => {
  it("does not count as a rejection of the password: once the lockout is over, the same password is presented", async () => {
    forgetRejectedSecrets();
    const lockout = Buffer.from(errorResponse(0x921), "hex"); // TPM_RC_LOCKOUT
    const transport = tpmWithKey(undefined, eccSigningPublic(), [lockout, lockout, lockout, lockout]);
    const opts = { key: { kind: "handle", handle: 0x81000101 }, keyPassword: { kind: "value", value: "right" }, names: "options" } as const;
    const signer = await openTpmSigner(opts, { transport, parameterEncryption: false });
    try {
      for (let i = 0; i < 2; i++) await expect(signer.sign(Buffer.from("m"))).rejects.toMatchObject({ code: "TPM_LOCKOUT" });
      expect(transport.sent.filter((command) => command.readUInt32BE(6) === 0x15d)).toHaveLength(2); // TPM2_Sign
    } finally {
      await signer.close();
    }
  });
});

describe("a persistent key replaced at its handle while the connection was lost", () => {
  it("is refused when the key is loaded again (TPM_KEY_INVALID), not used to sign", async () => {
    const other = eccSigningPublic();
    const otherBytes = encode(TPMT_PUBLIC, other);
    const name = objectName({ bytes: otherBytes, public: other });
    const readPublic = encode(ReadPublic.response, { outPublic: otherBytes, name, qualifiedName: Buffer.alloc(34) });
    const header = Buffer.alloc(10);
    header.writeUInt16BE(0x8001, 0);
    header.writeUInt32BE(10 + readPublic.length, 2);
    // After a reconnect (a new epoch): TPM2_ReadClock refused, TPM2_ReadPublic names another key at the handle.
    const later = [Buffer.from(errorResponse(0x143), "hex"), Buffer.concat([header, readPublic])];
    const transport = Object.assign(tpmWithKey(undefined, eccSigningPublic(), later), { epoch: 1 });
    const key = { kind: "handle", handle: 0x81000101 } as const;
    const signer = await openTpmSigner({ key, noKeyPassword: true }, { transport });
    try {
      transport.epoch = 2;
      await expect(signer.sign(Buffer.from("m"))).rejects.toMatchObject({
        code: "TPM_KEY_INVALID",
        message: "TPM key 0x81000101: the TPM now holds a different key there than when the signer was opened",
        hint: "the persistent key was replaced; restart or reload to use the new one",
      });
      expect(transport.sent.length).toBe(4); // no TPM2_Sign
    } finally {
      await signer.close();
    }
  });
});

describe("retrying a signature after the TPM lost the key or the connection: never a second try of a password", () => {
  /** A P-256 key whose private half this test holds, so that the scripted TPM2_Sign answers verify. */
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const pub = { ...eccSigningPublic(), unique: { x: Buffer.from(jwk.x!, "base64url"), y: Buffer.from(jwk.y!, "base64url") } } as TpmtPublic;
  const signed = (message: string) => {
    const rs = sign("sha256", Buffer.from(message), { key: privateKey, dsaEncoding: "ieee-p1363" });
    return signAnswer({ sigAlg: TPM_ALG.ECDSA, hash: TPM_ALG.SHA256, signatureR: rs.subarray(0, 32), signatureS: rs.subarray(32) });
  };
  /** The scripted TPM, whose connection breaks at the commands numbered in `lostAt` (0-based). */
  const breaking = (answers: Buffer[], lostAt: number[]) => {
    const transport = tpmWithKey(undefined, pub, answers);
    const transmit = transport.transmit.bind(transport);
    transport.transmit = async (command: Buffer) => {
      if (lostAt.includes(transport.sent.length)) {
        transport.sent.push(Buffer.from(command));
        throw new TpmConnectionLost("TPM_ERROR", "the TPM at unix:/x closed the connection");
      }
      return transmit(command);
    };
    return transport;
  };
  const key = { kind: "handle", handle: 0x81000101 } as const;
  afterAll(forgetRejectedSecrets);
  const commandCodes = (t: ScriptedTransport) => t.sent.map((c) => c.readUInt32BE(6).toString(16));

  it("a connection lost during the first signature is reported, not retried: that command may have been a counted wrong password", async () => {
    const transport = breaking([], [2]);
    const signer = await openTpmSigner({ key, keyPassword: { kind: "value", value: "pw" } }, { transport, parameterEncryption: false });
    try {
      await expect(signer.sign(Buffer.from("m"))).rejects.toBeInstanceOf(TpmConnectionLost);
      expect(commandCodes(transport)).toEqual(["181", "173", "15d"]); // ReadClock, ReadPublic, Sign: nothing after
      await expect(signer.sign(Buffer.from("m"))).rejects.toMatchObject({ code: "TPM_ERROR" });
      expect(transport.sent).toHaveLength(3); // nor at the next signature of this process
    } finally {
      await signer.close();
    }
  });

  it("once a signature succeeded, a lost connection loads the key again and signs once more; an authorization failure is never retried", async () => {
    const readClockRefused = Buffer.from(errorResponse(0x143), "hex");
    const answers = [signed("one"), /* lost */ readClockRefused, readPublicAnswer(pub), signed("two"), Buffer.from(errorResponse(0x98e), "hex")];
    forgetRejectedSecrets(); // the test before left "pw" unanswered for this key
    const transport = breaking(answers, [3]);
    const signer = await openTpmSigner({ key, keyPassword: { kind: "value", value: "pw" } }, { transport, parameterEncryption: false });
    try {
      await signer.sign(Buffer.from("one"));
      await signer.sign(Buffer.from("two"));
      expect(commandCodes(transport)).toEqual(["181", "173", "15d", "15d", "181", "173", "15d"]);
      await expect(signer.sign(Buffer.from("three"))).rejects.toMatchObject({ code: "TPM_AUTH_FAILED" });
      expect(commandCodes(transport).slice(7)).toEqual(["15d", "17a"]); // the Sign refused, then only GetCapability (lockout counter)
      // The password the TPM refused is not presented again, by this signer or another one for the same key.
      await expect(signer.sign(Buffer.from("four"))).rejects.toMatchObject({ code: "TPM_AUTH_FAILED", message: expect.stringMatching(/already rejected this key password; it was not presented again$/) });
      expect(transport.sent).toHaveLength(9);
    } finally {
      await signer.close();
    }
  });
});

/**
 * A key file under a persistent parent, and a socket TPM that answers TPM2_ReadClock (refused) and the parent's
 * TPM2_ReadPublic, and never TPM2_Load: the transport's "no answer within 60 s" (TPM_UNAVAILABLE, what
 * --wait-for-device waits out while a TPM is not up). Rejected secrets are forgotten first.
 */
function loadNeverAnswered() {
  const pub = eccSigningPublic();
  const area = { bytes: encode(TPMT_PUBLIC, pub), public: pub } as Tss2KeyFile["public"];
  const pem = encodeTss2KeyFile({ parent: 0x81000001, public: area, privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth: true, policy: [] });
  forgetRejectedSecrets();
  const transport = new ScriptedTransport([]);
  transport.transmit = async (command: Buffer) => {
    transport.sent.push(Buffer.from(command));
    const code = command.readUInt32BE(6);
    if (code === 0x181) return Buffer.from(errorResponse(0x143), "hex");
    if (code === 0x173) return readPublicAnswer(pub);
    throw new TpmConnectionLost("TPM_UNAVAILABLE", "no answer from the TPM at unix:/x within 60 s");
  };
  return { pem, transport };
}

describe("--wait-for-device and a command that presented a password and got no answer", () => {
  it("is not sent again with the password: the TPM may have counted it (before: Load with the parent password re-sent on every try)", async () => {
    const { pem, transport } = loadNeverAnswered();
    const opts = { key: { kind: "tss2-pem", path: "k.tss2", pem }, parentPassword: { kind: "value", value: "maybe" } } as const;
    let clock = 0;
    const open = () => openTpmSigner(opts, { transport, parameterEncryption: false });
    const error = await waitForDevice(open, { timeoutMs: 10_000, sleep: async () => {}, now: () => (clock += 1000) }).catch((e: unknown) => e);
    expect(transport.sent.filter((c) => c.readUInt32BE(6) === 0x157), "TPM2_Load commands sent").toHaveLength(1);
    expect(error).toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/after the parent password was presented; it is not presented again/) });
    // Another signer of this process (a reload, a retry) does not present it either.
    await expect(open()).rejects.toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/did not answer when this parent password was presented; it was not presented again$/) });
    expect(transport.sent.filter((c) => c.readUInt32BE(6) === 0x157)).toHaveLength(1);
    forgetRejectedSecrets();
  });

  it("with no parent password, a Load that got no answer is waited out and sent again: nothing secret was presented", async () => {
    // The other side of the mark: a mutant that marked every lost command (an empty password too) made --wait-for-device
    // give up at once with TPM_ERROR on a TPM that was only not up yet.
    const { pem, transport } = loadNeverAnswered();
    let clock = 0;
    const open = () => openTpmSigner({ key: { kind: "tss2-pem", path: "k.tss2", pem } }, { transport, parameterEncryption: false });
    const error = await waitForDevice(open, { timeoutMs: 10_000, sleep: async () => {}, now: () => (clock += 1000) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TPM_UNAVAILABLE" });
    expect(transport.sent.filter((c) => c.readUInt32BE(6) === 0x157).length, "TPM2_Load commands sent").toBeGreaterThan(1);
    forgetRejectedSecrets();
  });
});

describe("a TPM2_Sign answer that does not verify with the key", () => {
  it("is refused as a device fault (TPM_ERROR), never returned", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    const rs = sign("sha256", Buffer.from("m"), { key: other, dsaEncoding: "ieee-p1363" });
    const answer = signAnswer({ sigAlg: TPM_ALG.ECDSA, hash: TPM_ALG.SHA256, signatureR: rs.subarray(0, 32), signatureS: rs.subarray(32) });
    const signer = await openTpmSigner({ key: { kind: "handle", handle: 0x81000101 }, noKeyPassword: true }, { transport: tpmWithKey(undefined, eccSigningPublic(), [answer]) });
    try {
      await expect(signer.sign(Buffer.from("m"))).rejects.toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/the TPM's signature \(\d+ bytes\) does not verify with the key's public key; it was not used$/) });
    } finally {
      await signer.close();
    }
  });
});
