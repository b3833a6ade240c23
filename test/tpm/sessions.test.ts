/**
 * Session cryptography against the deterministic worked example of the reference notes (§8.4–8.5): key
 * `ec_auth.pem` (Name below), TPM2_Sign of SHA-256("hello"), nonces 0x11…/0x22…, password "abc", salt 0x33….
 */
import { describe, expect, it } from "vitest";
import { constants, createCipheriv, createECDH, createHash, createHmac, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { AuthSession, SessionIntegrityError } from "../../src/tpm/sessions/auth-session.js";
import { kdfa, kdfe } from "../../src/tpm/sessions/kdf.js";
import { errorResponse, hex, ScriptedTransport } from "./fake-transport.js";
import { runPolicy } from "../../src/tpm/sessions/policy-runner.js";
import { Tpm } from "../../src/tpm/client/tpm.js";
import { startAuthSession, type SaltKey } from "../../src/tpm/sessions/start-session.js";
import type { TpmtPublic, TpmtPublicEcc } from "../../src/tpm/wire/structures.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";
import { TPMA_OBJECT, TPM_ALG } from "../../src/tpm/wire/constants.js";

const NAME = hex("000b3765c82a0d8e4f7c0451294e1c5e97327da529c69f09e2ecb4e9c92700a14f8c");
const DIGEST = createHash("sha256").update("hello").digest();
const PARAMS = Buffer.concat([hex("0020"), DIGEST, hex("0018000b 8024 40000007 0000")]);
const NONCE_CALLER = Buffer.alloc(32, 0x11);
const NONCE_TPM = Buffer.alloc(32, 0x22);
const SALT = Buffer.alloc(32, 0x33);
const AUTH = Buffer.from("abc");
const SHAPE = { firstParamIsSized: true, firstResponseParamIsSized: false };

function cpHash(params = PARAMS): Buffer {
  return createHash("sha256").update(hex("0000015d")).update(NAME).update(params).digest();
}

function session(sessionKey: Buffer, parameterEncryption = false): AuthSession {
  return new AuthSession({
    handle: 0x02000000,
    kind: "hmac",
    hashName: "sha256",
    sessionKey,
    nonceTPM: NONCE_TPM,
    nonceCaller: NONCE_CALLER,
    parameterEncryption,
    random: (n) => Buffer.alloc(n, 0x11),
  });
}

describe("HMAC sessions", () => {
  it("cpHash = H(commandCode ‖ Name ‖ parameters)", () => {
    expect(cpHash().toString("hex")).toBe("07251955a27d15304442a5024fb07fe8702bc986921214081e965070bd292228");
  });

  it("unsalted, unbound: HMAC keyed with the password alone", () => {
    const s = session(Buffer.alloc(0));
    s.begin({ firstParamIsSized: false, firstResponseParamIsSized: false });
    const auth = s.commandAuth(cpHash(), AUTH);
    expect(auth.sessionAttributes).toBe(0x01);
    expect(auth.nonce.equals(NONCE_CALLER)).toBe(true);
    expect(auth.hmac.toString("hex")).toBe("2630431aec04ae905babbd69dd7ebcc1b9f6e04a125ed9a66f9db6b52d5e2eb5");
  });

  it("salted: sessionKey = KDFa(salt, \"ATH\", nonceTPM, nonceCaller), HMAC keyed with sessionKey ‖ password", () => {
    const sessionKey = kdfa("sha256", SALT, "ATH", NONCE_TPM, NONCE_CALLER, 256);
    expect(sessionKey.toString("hex")).toBe("c3327083075618df1a5e746e26200d7b527aa6fd1cb74fe9ffbfbbeb67dedd32");
    const s = session(sessionKey);
    s.begin({ firstParamIsSized: false, firstResponseParamIsSized: false });
    expect(s.commandAuth(cpHash(), AUTH).hmac.toString("hex")).toBe("3e9cce84c0de9d335e9b9efed7ddf1a42bc1e10478de54e632092433fe739351");
  });

  it("parameter encryption: AES-128-CFB keyed by KDFa(sessionKey ‖ password, \"CFB\", nonceCaller, nonceTPM)", () => {
    const sessionKey = kdfa("sha256", SALT, "ATH", NONCE_TPM, NONCE_CALLER, 256);
    expect(kdfa("sha256", Buffer.concat([sessionKey, AUTH]), "CFB", NONCE_CALLER, NONCE_TPM, 256).toString("hex")).toBe(
      "a9c3b034be1cab5be84add278003514745da65536b267c3bf3f82dd38e58030d",
    );
    const s = session(sessionKey, true);
    s.begin(SHAPE);
    expect(s.encryptsCommand).toBe(true);
    expect(s.encryptsResponse).toBe(false);
    const data = Buffer.from(DIGEST);
    s.cfb("command", data, AUTH);
    expect(data.toString("hex")).toBe("db78569db3be36b8bf65b7580591ba31a101ab13f434cd54023c5d1203b3cda9");
    expect(s.commandAuth(cpHash(), AUTH).sessionAttributes).toBe(0x21);
  });

  it("response HMAC is checked and the TPM nonce rolls; a tampered response is rejected", () => {
    const sessionKey = Buffer.alloc(32, 0x44);
    const s = session(sessionKey);
    s.begin({ firstParamIsSized: false, firstResponseParamIsSized: false });
    s.commandAuth(cpHash(), AUTH);
    const rpHash = createHash("sha256").update(hex("00000000 0000015d")).update(hex("0018000b")).digest();
    const newNonce = Buffer.alloc(32, 0x55);
    const good = createHmac("sha256", Buffer.concat([sessionKey, AUTH])).update(rpHash).update(newNonce).update(NONCE_CALLER).update(Buffer.from([1])).digest();
    s.acceptResponse(rpHash, { nonce: newNonce, sessionAttributes: 1, hmac: good }, AUTH);
    // Next command uses the new nonceTPM: recompute what the HMAC must be.
    s.begin({ firstParamIsSized: false, firstResponseParamIsSized: false });
    const next = s.commandAuth(cpHash(), AUTH);
    const expected = createHmac("sha256", Buffer.concat([sessionKey, AUTH])).update(cpHash()).update(NONCE_CALLER).update(newNonce).update(Buffer.from([1])).digest();
    expect(next.hmac.equals(expected)).toBe(true);
    const bad = Buffer.from(good);
    bad[0]! ^= 1;
    expect(() => s.acceptResponse(rpHash, { nonce: newNonce, sessionAttributes: 1, hmac: bad }, AUTH)).toThrow(/response HMAC does not match/);
  });

  it("policy sessions: empty HMAC without a key, the password itself after PolicyPassword, an HMAC after PolicyAuthValue", () => {
    const s = new AuthSession({ handle: 0x03000000, kind: "policy", hashName: "sha256", sessionKey: Buffer.alloc(0), nonceTPM: NONCE_TPM, nonceCaller: NONCE_CALLER, parameterEncryption: false, random: (n) => Buffer.alloc(n, 0x11) });
    s.begin(SHAPE);
    expect(s.commandAuth(cpHash(), AUTH).hmac).toHaveLength(0);
    s.policyMode = "password";
    expect(s.commandAuth(cpHash(), AUTH).hmac.toString()).toBe("abc");
    s.policyMode = "authValue";
    expect(s.commandAuth(cpHash(), AUTH).hmac.toString("hex")).toBe("2630431aec04ae905babbd69dd7ebcc1b9f6e04a125ed9a66f9db6b52d5e2eb5");
  });

  it("a salted policy session before PolicyAuthValue keys its HMAC with the session key on every command (the key is not wiped after the first)", () => {
    const s = new AuthSession({ handle: 0x03000000, kind: "policy", hashName: "sha256", sessionKey: Buffer.alloc(32, 0x5a), nonceTPM: NONCE_TPM, nonceCaller: NONCE_CALLER, parameterEncryption: false, random: (n) => Buffer.alloc(n, 0x11) });
    s.begin(SHAPE);
    const first = s.commandAuth(cpHash(), AUTH).hmac;
    s.begin(SHAPE);
    expect(first).toHaveLength(32);
    expect(s.commandAuth(cpHash(), AUTH).hmac).toEqual(first);
  });
});

describe("KDFs", () => {
  it("KDFa masks the unused high bits when the length is not a whole number of bytes", () => {
    const full = kdfa("sha256", Buffer.from("key"), "LABEL", Buffer.from("u"), Buffer.from("v"), 256);
    const odd = kdfa("sha256", Buffer.from("key"), "LABEL", Buffer.from("u"), Buffer.from("v"), 250);
    expect(odd).toHaveLength(32);
    expect(odd[0]).toBe(full[0]! & 0x03);
  });

  it("KDFa and KDFe produce more than one block when asked (counter mode)", () => {
    const long = kdfa("sha256", Buffer.from("key"), "L", Buffer.alloc(0), Buffer.alloc(0), 512);
    expect(long).toHaveLength(64);
    expect(long.subarray(0, 32).equals(long.subarray(32))).toBe(false);
    const z = Buffer.alloc(32, 7);
    const e = kdfe("sha256", z, "SECRET", Buffer.alloc(32, 1), Buffer.alloc(32, 2), 256);
    const expected = createHash("sha256").update(hex("00000001")).update(z).update(Buffer.from("SECRET\0")).update(Buffer.alloc(32, 1)).update(Buffer.alloc(32, 2)).digest();
    expect(e.equals(expected)).toBe(true);
  });
});

describe("salting to a key whose public area the TPM (or a relay) made up", () => {
  const parent = (change: Partial<TpmtPublicEcc>): SaltKey => {
    const pub = { ...eccSigningPublic(), objectAttributes: 0x00030072, ...change } as TpmtPublic;
    return { entity: { handle: 0x81000001, name: Buffer.alloc(34) }, public: { bytes: Buffer.alloc(0), public: pub } };
  };
  it.each([
    ["a point not on the curve", parent({ unique: { x: Buffer.alloc(32, 1), y: Buffer.alloc(32, 1) } })],
    ["an x longer than the curve", parent({ unique: { x: Buffer.alloc(40, 1), y: Buffer.alloc(32, 1) } })],
    ["an unknown name algorithm", parent({ nameAlg: 0x0099 })],
  ])("%s: TPM_KEY_INVALID naming the key, before any command", async (_, saltKey) => {
    const transport = new ScriptedTransport([]);
    const error = await startAuthSession(new Tpm(transport), { kind: "hmac", saltKey }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TPM_KEY_INVALID", message: expect.stringMatching(/^the TPM key 0x81000001 cannot salt a session/) });
    expect(transport.sent).toEqual([]);
  });
});

describe("response checks and session state (what a relay altering the answers could exploit)", () => {
  const respond = (key: Buffer, rpHash: Buffer, nonce: Buffer, attrs: number) =>
    createHmac("sha256", key).update(rpHash).update(nonce).update(NONCE_CALLER).update(Buffer.from([attrs])).digest();
  const RP = createHash("sha256").update("response").digest();
  const NEW_NONCE = Buffer.alloc(32, 0x66);
  const policy = (sessionKey = Buffer.alloc(0)) =>
    new AuthSession({ handle: 0x03000000, kind: "policy", hashName: "sha256", sessionKey, nonceTPM: NONCE_TPM, nonceCaller: NONCE_CALLER, parameterEncryption: false, random: (n) => Buffer.alloc(n, 0x11) });
  const plain = { firstParamIsSized: false, firstResponseParamIsSized: false };

  it("a response whose HMAC was stripped (empty) or cut short is refused on a keyed session, as a SessionIntegrityError", () => {
    for (const hmac of [Buffer.alloc(0), respond(Buffer.concat([SALT, AUTH]), RP, NEW_NONCE, 1).subarray(0, 31)]) {
      const s = session(SALT);
      s.begin(plain);
      s.commandAuth(cpHash(), AUTH);
      expect(() => s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 1, hmac }, AUTH)).toThrow(SessionIntegrityError);
    }
  });

  it("an unsalted policy session without PolicyAuthValue accepts the TPM's empty HMAC and refuses a made-up one", () => {
    const s = policy();
    s.begin(plain);
    s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 1, hmac: Buffer.alloc(0) }, AUTH);
    s.begin(plain);
    expect(() => s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 1, hmac: Buffer.alloc(32, 1) }, AUTH)).toThrow(SessionIntegrityError);
  });

  it("after PolicyAuthValue the response HMAC is checked (keyed with the password); after PolicyPassword it is not", () => {
    const s = policy();
    s.begin(plain);
    s.policyMode = "authValue";
    const good = respond(AUTH, RP, NEW_NONCE, 1);
    const bad = Buffer.from(good);
    bad[5]! ^= 1;
    expect(() => s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 1, hmac: bad }, AUTH)).toThrow(SessionIntegrityError);
    s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 1, hmac: good }, AUTH);
    expect(s.policyMode).toBe("none");

    s.policyMode = "password";
    s.begin(plain);
    s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 1, hmac: Buffer.alloc(0) }, AUTH);
    // The TPM resets the policy after each use: the next command's HMAC is keyed without the password again.
    expect(s.policyMode).toBe("none");
    s.begin(plain);
    expect(s.commandAuth(cpHash(), AUTH).hmac).toHaveLength(0);
  });

  it("the session closes when the TPM's answer clears continueSession, and is then refused", () => {
    const s = session(SALT);
    s.begin(plain);
    const key = Buffer.concat([SALT, AUTH]);
    s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 1, hmac: respond(key, RP, NEW_NONCE, 1) }, AUTH);
    expect(s.closed).toBe(false);
    s.begin(plain);
    s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 0, hmac: respond(key, RP, NEW_NONCE, 0) }, AUTH);
    expect(s.closed).toBe(true);
    expect(() => s.begin(plain)).toThrow(/session 0x2000000 is closed/);
  });

  it("a salted session reports salted; dispose closes it", () => {
    expect(session(SALT).salted).toBe(true);
    expect(session(Buffer.alloc(0)).salted).toBe(false);
    const s = session(SALT);
    s.dispose();
    expect(s.closed).toBe(true);
    expect(() => s.begin(plain)).toThrow(/is closed/);
  });

  it("response parameter encryption: the encrypt attribute, and AES-128-CFB decryption keyed by KDFa(sessionKey ‖ password, \"CFB\", nonceTPM, nonceCaller)", () => {
    const s = session(SALT, true);
    s.begin({ firstParamIsSized: false, firstResponseParamIsSized: true });
    expect([s.encryptsCommand, s.encryptsResponse]).toEqual([false, true]);
    expect(s.commandAuth(cpHash(), AUTH).sessionAttributes).toBe(0x41);
    const key = Buffer.concat([SALT, AUTH]);
    s.acceptResponse(RP, { nonce: NEW_NONCE, sessionAttributes: 0x41, hmac: respond(key, RP, NEW_NONCE, 0x41) }, AUTH);
    const fixed = Buffer.concat([Buffer.from("CFB\0"), NEW_NONCE, NONCE_CALLER, hex("00000100")]);
    const keyIv = createHmac("sha256", key).update(hex("00000001")).update(fixed).digest();
    const plainText = Buffer.from("the TPM's answer, encrypted on the way back");
    const cipher = createCipheriv("aes-128-cfb", keyIv.subarray(0, 16), keyIv.subarray(16, 32));
    const data = Buffer.concat([cipher.update(plainText), cipher.final()]);
    s.cfb("response", data, AUTH);
    expect(data.toString()).toBe(plainText.toString());
  });
});

describe("KDFa counter and length (independent HMAC computation)", () => {
  it("the second block uses counter 2, and a length under one block is cut to it", () => {
    const key = Buffer.from("key");
    const fixed = (bits: string) => Buffer.concat([Buffer.from("L\0"), Buffer.from("u"), Buffer.from("v"), hex(bits)]);
    const block = (i: string, bits: string) => createHmac("sha256", key).update(hex(i)).update(fixed(bits)).digest();
    expect(kdfa("sha256", key, "L", Buffer.from("u"), Buffer.from("v"), 512)).toEqual(Buffer.concat([block("00000001", "00000200"), block("00000002", "00000200")]));
    expect(kdfa("sha256", key, "L", Buffer.from("u"), Buffer.from("v"), 128)).toEqual(block("00000001", "00000080").subarray(0, 16));
  });
});

describe("salting: the TPM holding the salt key's private half derives the same session key", () => {
  const TPM_NONCE = Buffer.alloc(32, 0x77);
  const answer = () => Buffer.concat([hex("80010000003000000000 02000005 0020"), TPM_NONCE]);
  const decryptAttrs = TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt;
  /** The command's parameters after its 10-byte header and two handles: nonceCaller, encryptedSalt, the rest. */
  const parse = (command: Buffer) => {
    const handles = [command.readUInt32BE(10), command.readUInt32BE(14)];
    let at = 18;
    const sized = () => {
      const size = command.readUInt16BE(at);
      const value = command.subarray(at + 2, at + 2 + size);
      at += 2 + size;
      return value;
    };
    const nonceCaller = sized();
    const encryptedSalt = sized();
    return { handles, nonceCaller, encryptedSalt, rest: command.subarray(at).toString("hex") };
  };
  /** What the TPM computes: KDFa(salt, "ATH", nonceTPM, nonceCaller), written out here independently. */
  const sessionKeyFor = (salt: Buffer, nonceCaller: Buffer) =>
    createHmac("sha256", salt).update(hex("00000001")).update(Buffer.concat([Buffer.from("ATH\0"), TPM_NONCE, nonceCaller, hex("00000100")])).digest();
  const expectKeyedWith = (s: AuthSession, sessionKey: Buffer) => {
    s.begin({ firstParamIsSized: false, firstResponseParamIsSized: false });
    const auth = s.commandAuth(cpHash(), AUTH);
    const expected = createHmac("sha256", Buffer.concat([sessionKey, AUTH])).update(cpHash()).update(auth.nonce).update(TPM_NONCE).update(Buffer.from([1])).digest();
    expect(auth.hmac).toEqual(expected);
  };

  it("ECC: one-pass ECDH to the key's point, salt = KDFe(Z, \"SECRET\", ephemeral x, key x); policy session with AES-128-CFB", async () => {
    const tpmSide = createECDH("prime256v1");
    const point = tpmSide.generateKeys();
    const pub = { ...eccSigningPublic(), objectAttributes: decryptAttrs, unique: { x: point.subarray(1, 33), y: point.subarray(33) } } as TpmtPublic;
    const transport = new ScriptedTransport([answer()]);
    const s = await startAuthSession(new Tpm(transport), { kind: "policy", saltKey: { entity: { handle: 0x81000001, name: Buffer.alloc(34) }, public: { bytes: Buffer.alloc(0), public: pub } }, parameterEncryption: true });
    const sent = parse(transport.sent[0]!);
    expect(sent.handles).toEqual([0x81000001, 0x40000007]);
    expect(sent.rest).toBe("01" + "0006" + "0080" + "0043" + "000b"); // policy, AES 128 CFB, SHA-256
    const [qx, qy] = [sent.encryptedSalt.subarray(2, 34), sent.encryptedSalt.subarray(36, 68)];
    expect(sent.encryptedSalt.subarray(0, 2).toString("hex") + sent.encryptedSalt.subarray(34, 36).toString("hex")).toBe("00200020");
    const z = tpmSide.computeSecret(Buffer.concat([Buffer.from([4]), qx, qy]));
    const salt = createHash("sha256").update(hex("00000001")).update(z).update(Buffer.from("SECRET\0")).update(qx).update(point.subarray(1, 33)).digest();
    expect([s.handle, s.kind, s.salted]).toEqual([0x02000005, "policy", true]);
    s.policyMode = "authValue";
    expectKeyedWith(s, sessionKeyFor(salt, sent.nonceCaller));
  });

  it("RSA: salt encrypted with OAEP-SHA-256, label \"SECRET\"; HMAC session without parameter encryption", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const n = Buffer.from(publicKey.export({ format: "jwk" }).n!, "base64url");
    const pub = {
      type: TPM_ALG.RSA, nameAlg: TPM_ALG.SHA256, objectAttributes: decryptAttrs, authPolicy: Buffer.alloc(0),
      parameters: { symmetric: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB }, scheme: { scheme: TPM_ALG.NULL }, keyBits: 2048, exponent: 0 },
      unique: n,
    } as TpmtPublic;
    const transport = new ScriptedTransport([answer()]);
    const s = await startAuthSession(new Tpm(transport), { kind: "hmac", saltKey: { entity: { handle: 0x80000001, name: Buffer.alloc(34) }, public: { bytes: Buffer.alloc(0), public: pub } } });
    const sent = parse(transport.sent[0]!);
    expect(sent.handles).toEqual([0x80000001, 0x40000007]);
    expect(sent.rest).toBe("00" + "0010" + "000b"); // HMAC, no symmetric, SHA-256
    const salt = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: Buffer.from("SECRET\0") }, sent.encryptedSalt);
    expect(salt).toHaveLength(32);
    expectKeyedWith(s, sessionKeyFor(salt, sent.nonceCaller));
  });

  it("unsalted: TPM_RH_NULL as tpmKey, an empty encrypted salt, an empty session key", async () => {
    const transport = new ScriptedTransport([answer()]);
    const s = await startAuthSession(new Tpm(transport), { kind: "hmac" });
    const sent = parse(transport.sent[0]!);
    expect(sent.handles).toEqual([0x40000007, 0x40000007]);
    expect([sent.nonceCaller.length, sent.encryptedSalt.length, sent.rest]).toEqual([32, 0, "00" + "0010" + "000b"]);
    expect(s.salted).toBe(false);
  });

  it("a key that is neither RSA nor ECC, or an ECC curve without ECDH here, cannot salt: TPM_KEY_INVALID before any command", async () => {
    for (const change of [{ type: TPM_ALG.KEYEDHASH }, { parameters: { ...eccSigningPublic().parameters, curveID: 0x0010 } }]) {
      const pub = { ...eccSigningPublic(), objectAttributes: decryptAttrs, ...change } as TpmtPublic;
      const transport = new ScriptedTransport([]);
      const error = await startAuthSession(new Tpm(transport), { kind: "hmac", saltKey: { entity: { handle: 0x81000001, name: Buffer.alloc(34) }, public: { bytes: Buffer.alloc(0), public: pub } } }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "TPM_KEY_INVALID", message: expect.stringMatching(/cannot salt a session: its public area is not usable \((a session can only be salted with an RSA or ECC key|cannot salt a session with an ECC key on curve 0x10)\)$/) });
      expect(transport.sent).toEqual([]);
      expect((error as Error).cause).toBeInstanceOf(Error);
    }
  });

  it("an RSA key too large to be a key is refused by the public-key check itself, naming the salt key", async () => {
    const pub = { type: TPM_ALG.RSA, nameAlg: TPM_ALG.SHA256, objectAttributes: decryptAttrs, authPolicy: Buffer.alloc(0), parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, keyBits: 2048, exponent: 0 }, unique: Buffer.alloc(2049, 0xff) } as TpmtPublic;
    const transport = new ScriptedTransport([]);
    const error = await startAuthSession(new Tpm(transport), { kind: "hmac", saltKey: { entity: { handle: 0x81000001, name: Buffer.alloc(34) }, public: { bytes: Buffer.alloc(0), public: pub } } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TPM_KEY_INVALID", message: "session salt key: an RSA key above 16384 bits is not accepted" });
    expect(transport.sent).toEqual([]);
  });
});

describe("replaying a key file's policy (runPolicy)", () => {
  const ok = "80010000000a00000000";
  const policySession = (sessionKey: Buffer) =>
    new AuthSession({ handle: 0x03000001, kind: "policy", hashName: "sha256", sessionKey, nonceTPM: NONCE_TPM, nonceCaller: NONCE_CALLER, parameterEncryption: false });
  const codes = (t: ScriptedTransport) => t.sent.map((c) => c.readUInt32BE(6).toString(16));

  it("PolicyPassword becomes PolicyAuthValue in a salted session (the password never sent in clear); kept as is unsalted", async () => {
    for (const [key, code, mode] of [[SALT, "16b", "authValue"], [Buffer.alloc(0), "18c", "password"]] as const) {
      const transport = new ScriptedTransport([ok, ok, ok]);
      const s = policySession(key);
      s.policyMode = "password";
      await runPolicy(new Tpm(transport), s, [{ command: "PolicyCommandCode", code: 0x15d }, { command: "PolicyPassword" }], "the key");
      expect(codes(transport)).toEqual(["180", "16c", code]);
      expect(transport.sent.every((c) => c.readUInt32BE(10) === 0x03000001)).toBe(true);
      expect(s.policyMode).toBe(mode);
    }
  });

  it("a restart clears a mode left from before; PolicyAuthValue sets it; a refused PCR statement is named", async () => {
    const transport = new ScriptedTransport([ok, ok]);
    const s = policySession(SALT);
    s.policyMode = "password";
    await runPolicy(new Tpm(transport), s, [{ command: "PolicyCommandCode", code: 0x15d }], "the key");
    expect(s.policyMode).toBe("none");
    await runPolicy(new Tpm(new ScriptedTransport([ok, ok])), s, [{ command: "PolicyAuthValue" }], "the key");
    expect(s.policyMode).toBe("authValue");
    const pcr = { command: "PolicyPCR" as const, pcrs: [{ hash: 0x000b, pcrSelect: Buffer.from([0, 0, 1]) }], pcrDigest: Buffer.alloc(32) };
    const refused = await runPolicy(new Tpm(new ScriptedTransport([ok, errorResponse(0x1c4)])), s, [pcr], "the key").catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "TPM_POLICY_FAILED", message: expect.stringContaining("the key: the TPM refused the key's policy: the PCR policy on PCR 16 (sha256) does not hold") });
    const cc = await runPolicy(new Tpm(new ScriptedTransport([ok, errorResponse(0x99d)])), s, [{ command: "PolicyCommandCode", code: 0x15d }], "the key").catch((e: unknown) => e);
    expect(cc).toMatchObject({ code: "TPM_POLICY_FAILED", message: expect.stringContaining("the key's policy: PolicyCommandCode(0x0000015d) does not hold") });
  });
});
