import { createPrivateKey } from "node:crypto";
import { InputError } from "../../../errors.js";
import type { KeyParser } from "../key-parser.js";
import { keyObjectSigningKey } from "../signing-key.js";

const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";

/** PKCS#8 RSA and EC keys (`PRIVATE KEY`, or `ENCRYPTED PRIVATE KEY` once decrypted), via node:crypto. */
export const pkcs8KeyParser: KeyParser = {
  name: "pkcs8",
  async parse(material, { debug }) {
    const info = await material.privateKeyInfo();
    if (info === undefined || (info.algorithmOid !== RSA_ENCRYPTION && info.algorithmOid !== EC_PUBLIC_KEY)) {
      return undefined;
    }
    let key;
    try {
      key = createPrivateKey({ key: info.der, format: "der", type: "pkcs8" });
    } catch (cause) {
      throw new InputError("PRIVATE_KEY_INVALID", `unable to parse private key: ${material.source} holds a malformed PKCS#8 key`, {
        hint: "the file may be truncated or damaged; export the key again",
        cause,
      });
    }
    return keyObjectSigningKey(key, material.source, debug);
  },
};
