/** Which SRK a key file is loaded under, over a scripted TPM (native-test/tpm-signer.test.ts loads real keys). */
import { describe, expect, it } from "vitest";
import { Tpm } from "../../src/tpm/client/tpm.js";
import { loadTpmKey } from "../../src/tpm/keys/load-key.js";
import { decodePublicArea } from "../../src/tpm/keys/public-area.js";
import { SRK_TEMPLATE_ECC, SRK_TEMPLATE_RSA } from "../../src/tpm/keys/templates.js";
import type { Tss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { Secret } from "../../src/secrets/secret.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { GetCapability } from "../../src/tpm/wire/commands.js";
import { TPM_ALG, TPM_CAP, TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";
import { errorResponse, ScriptedTransport } from "./fake-transport.js";

function capabilityAnswer(alg: number | undefined): Buffer {
  const algorithms = alg === undefined ? [] : [{ alg, algProperties: 0 }];
  const params = encode(GetCapability.response, { moreData: 0, capabilityData: { capability: TPM_CAP.ALGS, algorithms } } as never);
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0x8001, 0);
  header.writeUInt32BE(10 + params.length, 2);
  return Buffer.concat([header, params]);
}

/** The commands loadTpmKey sends for a key file under the owner hierarchy, up to CreatePrimary (refused here). */
async function sentFor(rsaParent: boolean, answers: (string | Buffer)[]): Promise<Buffer[]> {
  const file: Tss2KeyFile = {
    emptyAuth: true, policy: [], description: undefined, rsaParent, parent: TPM_RH.OWNER,
    public: decodePublicArea(encode(TPMT_PUBLIC, eccSigningPublic()), "k"), privateBlob: Buffer.alloc(8),
  };
  const transport = new ScriptedTransport([...answers, errorResponse(0x0b0)]);
  const none = Secret.fromUtf8("");
  const input = { tpm: new Tpm(transport), source: { kind: "file", file } as const, keyPassword: none, parentPassword: none, parameterEncryption: true, what: "k" };
  await expect(loadTpmKey(input)).rejects.toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/TPM2_CreatePrimary/) }); // not a TypeError from cleaning up
  return transport.sent;
}

const cc = (command: Buffer) => command.readUInt32BE(6);
const carries = (command: Buffer, template: typeof SRK_TEMPLATE_RSA) => command.includes(encode(TPMT_PUBLIC, template));

describe("the SRK a key file is loaded under", () => {
  it("rsaParent: the RSA-2048 SRK, without asking whether the TPM has ECC", async () => {
    const [first] = await sentFor(true, []);
    expect(cc(first!)).toBe(0x131);
    expect(carries(first!, SRK_TEMPLATE_RSA)).toBe(true);
  });

  it("otherwise ECC P-256 when the TPM has ECC, RSA-2048 when it has not (or lists no algorithm at all)", async () => {
    for (const [alg, template] of [[TPM_ALG.ECC, SRK_TEMPLATE_ECC], [TPM_ALG.RSA, SRK_TEMPLATE_RSA], [undefined, SRK_TEMPLATE_RSA]] as const) {
      const [ask, create] = await sentFor(false, [capabilityAnswer(alg)]);
      expect([cc(ask!), cc(create!)]).toEqual([0x17a, 0x131]);
      expect(carries(create!, template)).toBe(true);
    }
  });
});
