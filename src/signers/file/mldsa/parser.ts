import type { KeyParser } from "../key-parser.js";
import { mlDsaParameterSetForOid } from "./params.js";
import { decodeMlDsaPrivateKeyInfo } from "./private-key-info.js";
import { mlDsaSigningKey } from "./signing-key.js";

/**
 * ML-DSA-44/65/87 PKCS#8 keys (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` once decrypted) in any of the three
 * RFC 9881 encodings: seed only, expanded key only, or both (OpenSSL 3.5's default).
 */
export const mlDsaKeyParser: KeyParser = {
  name: "ml-dsa",
  async parse(material, { debug }) {
    const info = await material.privateKeyInfo();
    if (info === undefined || mlDsaParameterSetForOid(info.algorithmOid) === undefined) return undefined;
    const key = decodeMlDsaPrivateKeyInfo(info.der, material.source);
    return key === undefined ? undefined : mlDsaSigningKey(key, material.source, debug);
  },
};
