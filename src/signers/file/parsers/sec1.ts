import { createPrivateKey } from "node:crypto";
import { InputError } from "../../../errors.js";
import { assertNotLegacyEncrypted } from "../key-material.js";
import type { KeyParser } from "../key-parser.js";
import { keyObjectSigningKey } from "../signing-key.js";

/** SEC1 `EC PRIVATE KEY` (an `EC PARAMETERS` block before it, as `openssl ecparam -genkey` writes, is ignored). */
export const sec1KeyParser: KeyParser = {
  name: "sec1",
  async parse(material, { debug }) {
    const block = material.blocks.find((b) => b.label === "EC PRIVATE KEY");
    if (block === undefined) return undefined;
    assertNotLegacyEncrypted(block, material.source);
    let key;
    try {
      key = createPrivateKey({ key: block.der, format: "der", type: "sec1" });
    } catch (cause) {
      throw new InputError("PRIVATE_KEY_INVALID", `unable to parse private key: ${material.source} holds a malformed EC PRIVATE KEY`, {
        hint: "the file may be truncated or damaged; export the key again",
        cause,
      });
    }
    return keyObjectSigningKey(key, material.source, debug);
  },
};
