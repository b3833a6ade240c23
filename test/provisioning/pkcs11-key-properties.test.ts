import { describe, expect, it } from "vitest";
import { keyWeaknesses, type KeyProperties } from "../../src/provisioning/pkcs11/key-properties.js";

const SIGN_ONLY: KeyProperties = {
  token: true,
  private: true,
  sensitive: true,
  extractable: false,
  alwaysSensitive: true,
  neverExtractable: true,
  sign: true,
  decrypt: false,
  unwrap: false,
  derive: false,
  signRecover: false,
};

describe("keyWeaknesses: what a generated key must be", () => {
  it("a sensitive, non-extractable, sign-only token key has none", () => {
    expect(keyWeaknesses(SIGN_ONLY)).toEqual([]);
  });

  it("usage attributes the token does not know count as not offered", () => {
    expect(keyWeaknesses({ ...SIGN_ONLY, derive: undefined, signRecover: undefined, alwaysSensitive: undefined, neverExtractable: undefined })).toEqual([]);
  });

  it.each([
    [{ extractable: true }, "extractable (CKA_EXTRACTABLE=true)"],
    [{ sensitive: false }, "not sensitive (CKA_SENSITIVE=false)"],
    [{ token: false }, "not stored on the token (CKA_TOKEN=false)"],
    [{ private: false }, "usable without logging in (CKA_PRIVATE=false)"],
    [{ decrypt: true }, "can decrypt (CKA_DECRYPT=true)"],
    [{ unwrap: true }, "can unwrap keys (CKA_UNWRAP=true)"],
    [{ derive: true }, "can derive keys (CKA_DERIVE=true)"],
    [{ signRecover: true }, "CKA_SIGN_RECOVER=true"],
    [{ neverExtractable: false }, "CKA_NEVER_EXTRACTABLE=false"],
    [{ alwaysSensitive: false }, "not always sensitive (CKA_ALWAYS_SENSITIVE=false)"],
    [{ extractable: undefined }, "CKA_EXTRACTABLE cannot be read back"],
    [{ token: undefined }, "CKA_TOKEN cannot be read back"],
    [{ private: undefined }, "CKA_PRIVATE cannot be read back"],
    [{ sign: undefined }, "CKA_SIGN cannot be read back"],
    [{ unwrap: undefined }, "CKA_UNWRAP cannot be read back"],
    [{ sign: false }, "cannot sign (CKA_SIGN=false)"],
    [{ sensitive: undefined }, "CKA_SENSITIVE cannot be read back"],
    [{ decrypt: undefined }, "CKA_DECRYPT cannot be read back"],
  ] as [Partial<KeyProperties>, string][])("%j is reported", (change, words) => {
    const found = keyWeaknesses({ ...SIGN_ONLY, ...change });
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(words);
  });

  it("what NSS softokn makes from a template without usage attributes is refused on three counts", () => {
    expect(keyWeaknesses({ ...SIGN_ONLY, decrypt: true, unwrap: true, signRecover: true })).toHaveLength(3);
  });
});
