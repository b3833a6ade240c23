import type { KeyParser } from "../key-parser.js";
import { rsaEcSigningKey } from "../signing-key.js";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";

/** PKCS#8 RSA and EC keys (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` once decrypted). */
export const pkcs8KeyParser: KeyParser = {
  name: "pkcs8",
  async parse(material, { debug }) {
    const info = await material.privateKeyInfo();
    if (info === undefined || (info.algorithmOid !== RSA_ENCRYPTION && info.algorithmOid !== EC_PUBLIC_KEY)) {
      return undefined;
    }
    return rsaEcSigningKey(info.der, "pkcs8", material.source, debug);
  },
};
