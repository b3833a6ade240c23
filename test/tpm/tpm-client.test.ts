/** The client's behaviour around the wire: retries, automatic Startup, response checks. Scripted transport. */
import { describe, expect, it } from "vitest";
import { Tpm, permanentEntity } from "../../src/tpm/client/tpm.js";
import { TpmResponseError } from "../../src/tpm/client/tpm-error.js";
import { PASSWORD_SESSION } from "../../src/tpm/sessions/password-session.js";
import { AuthSession } from "../../src/tpm/sessions/auth-session.js";
import { GetRandom, Load } from "../../src/tpm/wire/commands.js";
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
