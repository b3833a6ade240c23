/** The TPM signer over a scripted TPM: what does not need a real one (native-test/tpm-signer.test.ts has swtpm). */
import { describe, expect, it } from "vitest";
import { openTpmSigner } from "../../../src/signers/tpm/tpm-signer.js";
import { encode } from "../../../src/tpm/wire/codec.js";
import { ReadPublic } from "../../../src/tpm/wire/commands.js";
import { TPMT_PUBLIC } from "../../../src/tpm/wire/structures.js";
import { objectName } from "../../../src/tpm/keys/public-area.js";
import { errorResponse, ScriptedTransport } from "../../tpm/fake-transport.js";
import { eccSigningPublic } from "../../helpers/tpm-public.js";

/**
 * A TPM holding a persistent P-256 key without a password: TPM2_ReadClock refused, TPM2_ReadPublic answered, with the
 * key's Name or `name`.
 */
function tpmWithKey(name?: Buffer): ScriptedTransport {
  const bytes = encode(TPMT_PUBLIC, eccSigningPublic());
  name ??= objectName({ bytes, public: eccSigningPublic() });
  const params = encode(ReadPublic.response, { outPublic: bytes, name, qualifiedName: Buffer.alloc(34) });
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0x8001, 0);
  header.writeUInt32BE(10 + params.length, 2);
  return new ScriptedTransport([errorResponse(0x143), Buffer.concat([header, params])]);
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
