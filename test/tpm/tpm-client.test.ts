/** The client's behaviour around the wire: retries, automatic Startup, response checks. Scripted transport. */
import { describe, expect, it } from "vitest";
import { Tpm, permanentEntity, type Authorization } from "../../src/tpm/client/tpm.js";
import { TpmResponseError } from "../../src/tpm/client/tpm-error.js";
import { PASSWORD_SESSION } from "../../src/tpm/sessions/password-session.js";
import { AuthSession, SessionIntegrityError } from "../../src/tpm/sessions/auth-session.js";
import { Secret } from "../../src/secrets/secret.js";
import { createHash, createHmac } from "node:crypto";
import { GetRandom, Load, Sign } from "../../src/tpm/wire/commands.js";
import { TPM_ALG, TPM_RH, TPM_ST } from "../../src/tpm/wire/constants.js";
import { createDecipheriv } from "node:crypto";
import { ScriptedTransport, errorResponse } from "./fake-transport.js";

const RANDOM_OK = "8001 00000010 00000000 0004 11223344";

describe("Tpm.execute", () => {
  it("resends the identical command on RETRY, YIELDED and TESTING", async () => {
    const t = new ScriptedTransport([errorResponse(0x922), errorResponse(0x908), errorResponse(0x90a), RANDOM_OK]);
    const { response } = await new Tpm(t).execute(GetRandom, {}, { bytesRequested: 4 });
    expect(response.randomBytes.toString("hex")).toBe("11223344");
    expect(t.sent).toHaveLength(4);
    expect(new Set(t.sent.map((b) => b.toString("hex"))).size).toBe(1);
  });

  it("tells its debug sink each answer's response code, resent ones included (doctor's 'TPM reachable' signal)", async () => {
    // Before: only a line of text, which doctor matched with a regex: rewording the line would break doctor.
    const t = new ScriptedTransport([errorResponse(0x922), RANDOM_OK]);
    const answers: unknown[] = [];
    await new Tpm(t, { debug: (_line, answer) => answers.push(answer) }).execute(GetRandom, {}, { bytesRequested: 4 });
    expect(answers).toEqual([{ rc: 0x922 }, { rc: 0 }]);
  });

  it("gives up after the bounded number of resends", async () => {
    const t = new ScriptedTransport(Array.from({ length: 6 }, () => errorResponse(0x922)));
    await expect(new Tpm(t, { maxRetries: 5 }).execute(GetRandom, {}, { bytesRequested: 4 })).rejects.toBeInstanceOf(TpmResponseError);
    expect(t.sent).toHaveLength(6);
  });

  it("never resends after an authorization failure or lockout", async () => {
    for (const rc of [0x98e, 0x9a2, 0x921]) {
      const t = new ScriptedTransport([errorResponse(rc), "80020000001300000000800000010000000000000100"]);
      const err = await new Tpm(t)
        .execute(Load, { parentHandle: permanentEntity(0x81000001) }, { inPrivate: Buffer.alloc(4), inPublic: Buffer.alloc(4) }, [{ session: PASSWORD_SESSION }])
        .catch((e: unknown) => e);
      expect((err as TpmResponseError).rc).toBe(rc);
      expect(t.sent).toHaveLength(1);
    }
  });

  it("a TPM that was never started gets TPM2_Startup(CLEAR), then the command again", async () => {
    const t = new ScriptedTransport([errorResponse(0x100), "80010000000a00000000", RANDOM_OK]);
    await new Tpm(t).execute(GetRandom, {}, { bytesRequested: 4 });
    expect(t.sent.map((b) => b.readUInt32BE(6))).toEqual([0x17b, 0x144, 0x17b]);
  });

  it("parses a response with a handle, a parameter area and an authorization area", async () => {
    const t = new ScriptedTransport(["8002 0000001b 00000000 80000001 00000004 0002 abcd 0000 01 0000"]);
    const { handle, response } = await new Tpm(t).execute(
      Load,
      { parentHandle: permanentEntity(0x81000001) },
      { inPrivate: Buffer.alloc(2), inPublic: Buffer.alloc(2) },
      [{ session: PASSWORD_SESSION }],
    );
    expect(handle).toBe(0x80000001);
    expect(response.name.toString("hex")).toBe("abcd");
  });

  it("rejects malformed responses: size field, trailing bytes, a TPM 1.2 answer", async () => {
    await expect(new Tpm(new ScriptedTransport(["8001 00000010 00000000 0004 112233"])).execute(GetRandom, {}, { bytesRequested: 4 })).rejects.toThrow(/size field 16, received 15/);
    await expect(new Tpm(new ScriptedTransport(["80010000000f0000000000021122ff"])).execute(GetRandom, {}, { bytesRequested: 2 })).rejects.toThrow(/trailing bytes/);
    await expect(new Tpm(new ScriptedTransport(["00c40000000a0000001e"])).execute(GetRandom, {}, { bytesRequested: 2 })).rejects.toThrow(/not a TPM 2.0/);
  });

  it("checks the number of authorizations against the command", async () => {
    await expect(new Tpm(new ScriptedTransport([])).execute(Load, { parentHandle: permanentEntity(0x81000001) }, { inPrivate: Buffer.alloc(0), inPublic: Buffer.alloc(0) })).rejects.toThrow(
      /needs 1 authorization/,
    );
  });

  it("refuses a parameter-encrypting session after the first before anything is sent, even on its first command", async () => {
    const encrypting = new AuthSession({
      handle: 0x02000000,
      kind: "hmac",
      hashName: "sha256",
      sessionKey: Buffer.alloc(32, 0x44),
      nonceTPM: Buffer.alloc(32, 0x22),
      nonceCaller: Buffer.alloc(32, 0x11),
      parameterEncryption: true,
    });
    const t = new ScriptedTransport([]);
    await expect(
      new Tpm(t).execute(Load, { parentHandle: permanentEntity(0x81000001) }, { inPrivate: Buffer.alloc(2), inPublic: Buffer.alloc(2) }, [
        { session: PASSWORD_SESSION },
        { session: encrypting },
      ]),
    ).rejects.toThrow(/only the first session may encrypt parameters/);
    expect(t.sent).toHaveLength(0);
  });
});

describe("Tpm.execute with an HMAC session: the response HMAC decides", () => {
  const KEY = Buffer.alloc(32, 0x42);
  const NONCE_TPM = Buffer.alloc(32, 0x22);
  const NONCE_NEW = Buffer.alloc(32, 0x33);
  const CALLER = Buffer.alloc(32, 0x11);
  const session = () => new AuthSession({ handle: 0x02000001, kind: "hmac", hashName: "sha256", sessionKey: KEY, nonceTPM: NONCE_TPM, nonceCaller: CALLER, parameterEncryption: false, random: (n) => Buffer.alloc(n, 0x11) });
  /** TPM2_Load's answer (handle 0x80000001, Name `name`) with an authorization area whose HMAC covers `signed`. */
  const answer = (name: Buffer, signedName = name, tag = 0x8002) => {
    const params = Buffer.concat([Buffer.from([0, name.length]), name]);
    const signed = Buffer.concat([Buffer.from([0, signedName.length]), signedName]);
    const rpHash = createHash("sha256").update(Buffer.from("0000000000000157", "hex")).update(signed).digest(); // rc ‖ command code ‖ parameters
    const hmac = createHmac("sha256", Buffer.concat([KEY, Buffer.from("pw")])).update(rpHash).update(NONCE_NEW).update(CALLER).update(Buffer.from([1])).digest();
    const auth = Buffer.concat([Buffer.from([0, 32]), NONCE_NEW, Buffer.from([1, 0, 32]), hmac]);
    const body = tag === 0x8002 ? Buffer.concat([Buffer.from("80000001", "hex"), Buffer.from([0, 0, 0, params.length]), params, auth]) : Buffer.concat([Buffer.from("80000001", "hex"), params]);
    const header = Buffer.alloc(10);
    header.writeUInt16BE(tag, 0);
    header.writeUInt32BE(10 + body.length, 2);
    return Buffer.concat([header, body]);
  };
  const load = (t: ScriptedTransport) =>
    new Tpm(t).execute(Load, { parentHandle: permanentEntity(0x81000001) }, { inPrivate: Buffer.alloc(4), inPublic: Buffer.alloc(4) }, [{ session: session(), authValue: Secret.fromUtf8("pw") }]);
  const name = Buffer.alloc(34, 7);

  it("accepts an answer whose HMAC covers its parameters", async () => {
    const { handle, response } = await load(new ScriptedTransport([answer(name)]));
    expect([handle, response.name]).toEqual([0x80000001, name]);
  });

  it("an answer altered on the way (another Name than the HMAC covers), or stripped of its authorization area: TPM_ERROR, the cause kept", async () => {
    const altered = await load(new ScriptedTransport([answer(Buffer.alloc(34, 8), name)])).catch((e: unknown) => e);
    expect(altered).toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/^malformed response to TPM2_Load: the TPM's response HMAC does not match/) });
    expect((altered as Error).cause).toBeInstanceOf(SessionIntegrityError);
    const stripped = await load(new ScriptedTransport([answer(name, name, 0x8001)])).catch((e: unknown) => e);
    expect(stripped).toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/^malformed response to TPM2_Load: response has no authorization area/) });
  });
});

describe("Tpm.execute: command parameter encryption by the first session", () => {
  const KEY = Buffer.alloc(32, 0x42);
  const NONCE_TPM = Buffer.alloc(32, 0x22);
  const CALLER = Buffer.alloc(32, 0x11);
  const session = (parameterEncryption: boolean, handle = 0x02000001) =>
    new AuthSession({ handle, kind: "hmac", hashName: "sha256", sessionKey: KEY, nonceTPM: NONCE_TPM, nonceCaller: CALLER, parameterEncryption, random: (n) => Buffer.alloc(n, 0x11) });
  const PRIVATE = Buffer.from("a key's private blob, never in clear on the wire");
  /** Sends TPM2_Load (answered with an authorization failure) and returns the first authorization's attributes and inPrivate as written. */
  const sentLoad = async (authorizations: Authorization[]) => {
    const t = new ScriptedTransport([errorResponse(0x98e)]);
    await expect(
      new Tpm(t).execute(Load, { parentHandle: permanentEntity(0x81000001) }, { inPrivate: Buffer.from(PRIVATE), inPublic: Buffer.alloc(4) }, authorizations),
    ).rejects.toBeInstanceOf(TpmResponseError);
    const bytes = t.sent[0]!;
    const area = bytes.subarray(18, 18 + bytes.readUInt32BE(14));
    const params = bytes.subarray(18 + area.length);
    const attributes = area[4 + 2 + area.readUInt16BE(4)]!; // handle, nonce (sized), then the attributes octet
    return { bytes, attributes, inPrivate: params.subarray(2, 2 + params.readUInt16BE(0)) };
  };
  /** AES-128-CFB with key and IV from KDFa(sha256, keyMaterial, "CFB", nonceCaller, nonceTPM, 256), computed here. */
  const decrypt = (data: Buffer, keyMaterial: Buffer) => {
    const fixed = Buffer.concat([Buffer.from("CFB\0"), CALLER, NONCE_TPM, Buffer.from("00000100", "hex")]);
    const keyIv = createHmac("sha256", keyMaterial).update(Buffer.from("00000001", "hex")).update(fixed).digest();
    const d = createDecipheriv("aes-128-cfb", keyIv.subarray(0, 16), keyIv.subarray(16, 32));
    return Buffer.concat([d.update(data), d.final()]);
  };

  it("the first parameter crosses the transport encrypted (decrypt attribute set), keyed by sessionKey ‖ the password; a second session that does not encrypt is allowed", async () => {
    const { bytes, attributes, inPrivate } = await sentLoad([{ session: session(true), authValue: Secret.fromUtf8("pw") }, { session: session(false, 0x02000002) }]);
    expect(bytes.includes(PRIVATE)).toBe(false);
    expect(attributes & 0x20).toBe(0x20);
    expect(inPrivate.length).toBe(PRIVATE.length);
    expect(decrypt(inPrivate, Buffer.concat([KEY, Buffer.from("pw")]))).toEqual(PRIVATE);
  });

  it("keyed by the sessionKey alone when the password is not the entity's (authValueInEncryptionKey false)", async () => {
    const { inPrivate } = await sentLoad([{ session: session(true), authValue: Secret.fromUtf8("pw"), authValueInEncryptionKey: false }]);
    expect(decrypt(inPrivate, KEY)).toEqual(PRIVATE);
  });

  it("a session without parameter encryption sends the parameter as it is, without the decrypt attribute", async () => {
    const { attributes, inPrivate } = await sentLoad([{ session: session(false), authValue: Secret.fromUtf8("pw") }]);
    expect([attributes & 0x60, inPrivate]).toEqual([0, PRIVATE]);
  });

  it("a second session that would encrypt only the command (Sign) or only the response (GetRandom) is refused before anything is sent", async () => {
    const t = new ScriptedTransport([]);
    const validation = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };
    await expect(
      new Tpm(t).execute(Sign, { keyHandle: permanentEntity(0x80000001) }, { digest: Buffer.alloc(32), inScheme: { scheme: TPM_ALG.NULL }, validation }, [
        { session: PASSWORD_SESSION },
        { session: session(true) },
      ]),
    ).rejects.toThrow(/only the first session may encrypt parameters/);
    await expect(new Tpm(t).execute(GetRandom, {}, { bytesRequested: 4 }, [{ session: PASSWORD_SESSION }, { session: session(true) }])).rejects.toThrow(
      /only the first session may encrypt parameters/,
    );
    expect(t.sent).toHaveLength(0);
  });
});
