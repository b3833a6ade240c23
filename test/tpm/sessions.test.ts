/**
 * Session cryptography against the deterministic worked example of the reference notes (§8.4–8.5): key
 * `ec_auth.pem` (Name below), TPM2_Sign of SHA-256("hello"), nonces 0x11…/0x22…, password "abc", salt 0x33….
 */
import { describe, expect, it } from "vitest";
import { createHash, createHmac } from "node:crypto";
import { AuthSession } from "../../src/tpm/sessions/auth-session.js";
import { kdfa, kdfe } from "../../src/tpm/sessions/kdf.js";
import { hex, ScriptedTransport } from "./fake-transport.js";
import { Tpm } from "../../src/tpm/client/tpm.js";
import { startAuthSession, type SaltKey } from "../../src/tpm/sessions/start-session.js";
import type { TpmtPublic, TpmtPublicEcc } from "../../src/tpm/wire/structures.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";

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
