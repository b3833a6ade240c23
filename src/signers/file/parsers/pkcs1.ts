import { createPrivateKey } from "node:crypto";
import { InputError } from "../../../errors.js";
import { assertNotLegacyEncrypted } from "../key-material.js";
import type { KeyParser } from "../key-parser.js";
import { keyObjectSigningKey } from "../signing-key.js";

/** PKCS#1 `RSA PRIVATE KEY` (`openssl rsa -traditional`). */
export const pkcs1KeyParser: KeyParser = {
  name: "pkcs1",
  async parse(material, { debug }) {
    const block = material.blocks.find((b) => b.label === "RSA PRIVATE KEY");
    if (block === undefined) return undefined;
    assertNotLegacyEncrypted(block, material.source);
    let key;
    try {
      key = createPrivateKey({ key: block.der, format: "der", type: "pkcs1" });
    } catch (cause) {
      throw new InputError("PRIVATE_KEY_INVALID", `unable to parse private key: ${material.source} holds a malformed RSA PRIVATE KEY`, {
        hint: "the file may be truncated or damaged; export the key again",
        cause,
      });
    }
    return keyObjectSigningKey(key, material.source, debug);
  },
};
