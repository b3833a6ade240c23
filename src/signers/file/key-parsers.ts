import { InputError } from "../../errors.js";
import type { KeyMaterial } from "./key-material.js";
import type { KeyParseContext, KeyParser } from "./key-parser.js";
import { mlDsaKeyParser } from "./mldsa/parser.js";
import { pkcs1KeyParser } from "./parsers/pkcs1.js";
import { pkcs8KeyParser } from "./parsers/pkcs8.js";
import { sec1KeyParser } from "./parsers/sec1.js";
import { SUPPORTED_KEYS_HINT, unsupportedKeyError, type SigningKey } from "./signing-key.js";
import { ownValue } from "../../own-value.js";

export type { KeyParseContext, KeyParser } from "./key-parser.js";

/**
 * Private-key formats, tried in order (the Go helper's order: PKCS#8, then SEC1, then PKCS#1).
 * To support another key family, write `parsers/<name>.ts` exporting a {@link KeyParser} and add one line
 * here; a PKCS#8 family (e.g. ML-DSA) goes before `pkcs8KeyParser` and reads `material.privateKeyInfo()`,
 * which is decrypted once and shared.
 */
export const KEY_PARSERS: readonly KeyParser[] = [
  pkcs8KeyParser,
  mlDsaKeyParser,
  sec1KeyParser,
  pkcs1KeyParser,
];

/** PKCS#8 algorithm OIDs that no parser takes, named for the error message. */
const ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  "1.3.101.110": "X25519",
  "1.3.101.111": "X448",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
  "1.2.840.10040.4.1": "DSA",
  "1.2.840.113549.1.1.10": "RSA-PSS",
  "1.2.840.113549.1.3.1": "DH",
  "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
  "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
  "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
  "1.2.643.2.2.19": "GOST R 34.10-2001",
  "1.2.156.10197.1.301": "SM2",
};

/** Runs `parsers` over the material; the first that recognises its format wins. */
export async function loadSigningKey(
  material: KeyMaterial,
  context: KeyParseContext,
  parsers: readonly KeyParser[] = KEY_PARSERS,
): Promise<SigningKey> {
  for (const parser of parsers) {
    const key = await parser.parse(material, context);
    if (key !== undefined) {
      context.debug?.(`${material.source}: ${key.description} key (${parser.name}${material.encrypted ? ", encrypted" : ""})`);
      return key;
    }
  }
  const info = await material.privateKeyInfo();
  if (info !== undefined) {
    throw unsupportedKeyError(ownValue(ALGORITHM_NAMES, info.algorithmOid) ?? `with algorithm OID ${info.algorithmOid}`, material.source);
  }
  const otherKey = material.blocks.find((b) => b.label.endsWith("PRIVATE KEY"));
  if (otherKey !== undefined) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${material.source} holds a ${otherKey.label}, which is not supported`, {
      hint: `${SUPPORTED_KEYS_HINT}, as PKCS#8, SEC1 or PKCS#1 PEM/DER`,
    });
  }
  throw new InputError("PRIVATE_KEY_INVALID", `unable to parse private key: ${material.source} holds no private key`, {
    hint: "expected PEM or DER PKCS#8 (PRIVATE KEY / ENCRYPTED PRIVATE KEY), SEC1 (EC PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY)",
  });
}
