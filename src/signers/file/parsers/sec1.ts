import { assertNotLegacyEncrypted } from "../key-material.js";
import type { KeyParser } from "../key-parser.js";
import { rsaEcSigningKey } from "../signing-key.js";

/** SEC1 `EC PRIVATE KEY` (an `EC PARAMETERS` block before it, as `openssl ecparam -genkey` writes, is ignored). */
export const sec1KeyParser: KeyParser = {
  name: "sec1",
  async parse(material, { debug }) {
    const block = material.blocks.find((b) => b.label === "EC PRIVATE KEY");
    if (block === undefined) return undefined;
    assertNotLegacyEncrypted(block, material.source);
    return rsaEcSigningKey(block.der, "sec1", material.source, debug);
  },
};
