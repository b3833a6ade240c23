import { constants, createECDH, publicEncrypt, randomBytes } from "node:crypto";
import { encode } from "../wire/codec.js";
import { curveInfo, hashInfo, TPM_ALG } from "../wire/constants.js";
import { TPMS_ECC_POINT, type TpmtPublic } from "../wire/structures.js";
import { publicKeyOf } from "../keys/public-area.js";
import { kdfe } from "./kdf.js";

export interface Salt {
  /** The secret shared with the TPM (nameAlg-digest sized). */
  readonly salt: Buffer;
  /** TPM2B_ENCRYPTED_SECRET contents for TPM2_StartAuthSession. */
  readonly encryptedSalt: Buffer;
}

/**
 * A session salt only the TPM holding `tpmKey` can recover (Part 1 Annex C.6/B.10): ECC — one-pass
 * Diffie-Hellman with an ephemeral key and KDFe("SECRET"); RSA — OAEP with the label "SECRET".
 */
export function makeSalt(tpmKey: TpmtPublic): Salt {
  const hash = hashInfo(tpmKey.nameAlg);
  if (tpmKey.type === TPM_ALG.ECC) {
    const curve = curveInfo(tpmKey.parameters.curveID);
    if (!curve) throw new Error(`cannot salt a session with an ECC key on curve 0x${tpmKey.parameters.curveID.toString(16)}`);
    const pad = (b: Buffer) => (b.length >= curve.size ? b : Buffer.concat([Buffer.alloc(curve.size - b.length), b]));
    const tpmX = pad(tpmKey.unique.x);
    const ephemeral = createECDH(curve.nodeName);
    const q = ephemeral.generateKeys();
    const qx = q.subarray(1, 1 + curve.size);
    const qy = q.subarray(1 + curve.size);
    const z = ephemeral.computeSecret(Buffer.concat([Buffer.from([4]), tpmX, pad(tpmKey.unique.y)]));
    const salt = kdfe(hash.name, z, "SECRET", qx, tpmX, hash.size * 8);
    z.fill(0);
    return { salt, encryptedSalt: encode(TPMS_ECC_POINT, { x: qx, y: qy }) };
  }
  if (tpmKey.type === TPM_ALG.RSA) {
    const salt = randomBytes(hash.size);
    const encryptedSalt = publicEncrypt(
      { key: publicKeyOf(tpmKey, "session salt key"), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash.name, oaepLabel: Buffer.from("SECRET\0", "latin1") },
      salt,
    );
    return { salt, encryptedSalt };
  }
  throw new Error("a session can only be salted with an RSA or ECC key");
}
