import { assertNotLegacyEncrypted } from "../key-material.js";
import type { KeyParser } from "../key-parser.js";
import { rsaEcSigningKey } from "../signing-key.js";

/** PKCS#1 `RSA PRIVATE KEY` (`openssl rsa -traditional`). */
export const pkcs1KeyParser: KeyParser = {
  name: "pkcs1",
  async parse(material, { debug }) {
    const block = material.blocks.find((b) => b.label === "RSA PRIVATE KEY");
    if (block === undefined) return undefined;
    assertNotLegacyEncrypted(block, material.source);
    return rsaEcSigningKey(block.der, "pkcs1", material.source, debug);
  },
};
