/** Command marshalling against the byte layouts in the reference notes (verified there on swtpm and in go-tpm's tests). */
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { Secret } from "../../src/secrets/secret.js";
import { Tpm, permanentEntity } from "../../src/tpm/client/tpm.js";
import { SRK_TEMPLATE_ECC, SRK_TEMPLATE_RSA } from "../../src/tpm/keys/templates.js";
import { PASSWORD_SESSION } from "../../src/tpm/sessions/password-session.js";
import { CreatePrimary, FlushContext, GetCapability, PolicyPCR, Sign, StartAuthSession, Startup } from "../../src/tpm/wire/commands.js";
import { TPM_ALG, TPM_CAP, TPM_RH, TPM_ST } from "../../src/tpm/wire/constants.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPM2B_PUBLIC } from "../../src/tpm/wire/structures.js";
import { ScriptedTransport, hex } from "./fake-transport.js";

const OK_NO_SESSIONS = "80010000000a00000000";

async function commandBytes(run: (tpm: Tpm) => Promise<unknown>, answer = OK_NO_SESSIONS): Promise<string> {
  const t = new ScriptedTransport([answer]);
  await run(new Tpm(t)).catch(() => undefined);
  return t.sent[0]!.toString("hex");
}

const emptySensitive = { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) };

describe("command bytes", () => {
  it("TPM2_Startup(CLEAR)", async () => {
    expect(await commandBytes((tpm) => tpm.execute(Startup, {}, { startupType: 0 }))).toBe("80010000000c000001440000");
  });

  it("TPM2_CreatePrimary with the ECC SRK (H-2) template under the owner, empty password", async () => {
    const bytes = await commandBytes((tpm) =>
      tpm.execute(
        CreatePrimary,
        { primaryHandle: permanentEntity(TPM_RH.OWNER) },
        { inSensitive: emptySensitive, inPublic: SRK_TEMPLATE_ECC, outsideInfo: Buffer.alloc(0), creationPCR: [] },
        [{ session: PASSWORD_SESSION }],
      ),
    );
    expect(bytes).toBe(
      hex(`8002 00000043 00000131 40000001
           00000009 40000009 0000 01 0000
           0004 0000 0000
           001a 0023 000b 00030472 0000 0006 0080 0043 0010 0003 0010 0000 0000
           0000
           00000000`).toString("hex"),
    );
  });

  it("the RSA-2048 SRK (H-1) template", () => {
    expect(encode(TPM2B_PUBLIC, SRK_TEMPLATE_RSA).toString("hex")).toBe(hex("001a 0001 000b 00030472 0000 0006 0080 0043 0010 0800 00000000 0000").toString("hex"));
  });

  it("TPM2_Sign ECDSA/SHA-256 with the NULL ticket and password \"abc\"", async () => {
    const digest = createHash("sha256").update("hello").digest();
    const bytes = await commandBytes((tpm) =>
      tpm.execute(
        Sign,
        { keyHandle: permanentEntity(0x80000001) },
        { digest, inScheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 }, validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) } },
        [{ session: PASSWORD_SESSION, authValue: Secret.fromUtf8("abc") }],
      ),
    );
    expect(bytes).toBe(
      hex(`8002 0000004c 0000015d 80000001
           0000000c 40000009 0000 01 0003 616263
           0020 ${digest.toString("hex")}
           0018 000b
           8024 40000007 0000`).toString("hex"),
    );
  });

  it("a password's trailing zero octets are not sent (the TPM ignores them anyway)", async () => {
    const bytes = await commandBytes((tpm) =>
      tpm.execute(
        Sign,
        { keyHandle: permanentEntity(0x80000001) },
        { digest: Buffer.alloc(32), inScheme: { scheme: TPM_ALG.NULL }, validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) } },
        [{ session: PASSWORD_SESSION, authValue: Secret.fromBytes(Buffer.from("abc\0\0")) }],
      ),
    );
    expect(bytes).toContain("0000000c400000090000010003616263");
  });

  it("TPM2_StartAuthSession: unsalted, unbound HMAC session", async () => {
    const nonce = Buffer.alloc(32, 0x11);
    const bytes = await commandBytes((tpm) =>
      tpm.execute(
        StartAuthSession,
        { tpmKey: permanentEntity(TPM_RH.NULL), bind: permanentEntity(TPM_RH.NULL) },
        { nonceCaller: nonce, encryptedSalt: Buffer.alloc(0), sessionType: 0, symmetric: { algorithm: TPM_ALG.NULL }, authHash: TPM_ALG.SHA256 },
      ),
    );
    expect(bytes).toBe(`80010000003b000001764000000740000007 0020${nonce.toString("hex")}0000000010000b`.replace(/\s+/g, ""));
  });

  it("TPM2_PolicyPCR with an empty digest, PCR 7 of the SHA-1 bank (go-tpm's TestEncodePolicyPCR)", async () => {
    const bytes = await commandBytes((tpm) =>
      tpm.execute(PolicyPCR, { policySession: permanentEntity(0x03000000) }, { pcrDigest: Buffer.alloc(0), pcrs: [{ hash: TPM_ALG.SHA1, pcrSelect: Buffer.from([0x80, 0, 0]) }] }),
    );
    expect(bytes).toBe("80010000001a0000017f03000000000000000001000403800000");
  });

  it("TPM2_GetCapability for persistent handles, TPM2_FlushContext", async () => {
    const getCap = await commandBytes((tpm) => tpm.execute(GetCapability, {}, { capability: TPM_CAP.HANDLES, property: 0x81000000, propertyCount: 64 }));
    expect(getCap).toBe(hex("8001 00000016 0000017a 00000001 81000000 00000040").toString("hex"));
    expect(await commandBytes((tpm) => tpm.flush(0x80000001))).toBe("80010000000e0000016580000001");
  });
});
