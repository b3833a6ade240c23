import { InputError } from "../../errors.js";
import { namePemBlock } from "../../encoding/pem.js";
import type { DebugLog } from "../options.js";
import type { KeyMaterial } from "./key-material.js";
import { EC_PUBLIC_KEY, mlDsaParameterSetForOid, RSA_ENCRYPTION } from "../../x509/certificate.js";
import { decodeMlDsaPrivateKeyInfo } from "./mldsa/private-key-info.js";
import { mlDsaSigningKey } from "./mldsa/signing-key.js";
import { SUPPORTED_KEYS_HINT, rsaEcSigningKey, unparsableKeyError, unsupportedKeyError, type SigningKey } from "./signing-key.js";
import { ownValue } from "../../own-value.js";

/** PKCS#8 algorithm OIDs that no format takes, named for the error message. */
const ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  "1.3.101.110": "X25519",
  "1.3.101.111": "X448",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
  "1.2.840.10040.4.1": "DSA",
  "1.2.840.113549.1.1.10": "RSA-PSS",
  "1.2.840.113549.1.3.1": "DH",
  "1.2.643.2.2.19": "GOST R 34.10-2001",
  "1.2.156.10197.1.301": "SM2",
};

/**
 * The signing key in `material`, formats tried in the Go helper's order: PKCS#8 (RSA, EC, ML-DSA in any
 * RFC 9881 encoding; decrypted once when encrypted), then SEC1 `EC PRIVATE KEY` (an `EC PARAMETERS` block
 * before it is ignored), then PKCS#1 `RSA PRIVATE KEY`.
 */
export async function loadSigningKey(material: KeyMaterial, debug?: DebugLog): Promise<SigningKey> {
  const { source, privateKeyInfo: info } = material;
  const loaded = (key: SigningKey, format: string): SigningKey => {
    debug?.(`${source}: ${key.description} key (${format}${material.encrypted ? ", encrypted" : ""})`);
    return key;
  };
  if (info?.algorithmOid === RSA_ENCRYPTION || info?.algorithmOid === EC_PUBLIC_KEY) {
    return loaded(rsaEcSigningKey(info.der, "pkcs8", source, debug), "pkcs8");
  }
  if (info !== undefined && mlDsaParameterSetForOid(info.algorithmOid) !== undefined) {
    return loaded(await mlDsaSigningKey(decodeMlDsaPrivateKeyInfo(info.der, source)!, source, debug), "ml-dsa");
  }
  const legacy = material.blocks.find((b) => b.label === "EC PRIVATE KEY") ?? material.blocks.find((b) => b.label === "RSA PRIVATE KEY");
  if (legacy !== undefined) {
    const format = legacy.label === "EC PRIVATE KEY" ? "sec1" : "pkcs1";
    return loaded(rsaEcSigningKey(legacy.der, format, source, debug), format);
  }
  if (info !== undefined) {
    throw unsupportedKeyError(ownValue(ALGORITHM_NAMES, info.algorithmOid) ?? `with algorithm OID ${info.algorithmOid}`, source);
  }
  const otherKey = material.blocks.find((b) => b.label.endsWith("PRIVATE KEY"));
  if (otherKey !== undefined) {
    const block = namePemBlock(otherKey.label, "a private key block of another kind");
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${source} holds ${block}, which is not supported`, {
      hint: `${SUPPORTED_KEYS_HINT}, as PKCS#8, SEC1 or PKCS#1 PEM/DER`,
    });
  }
  const expected = "expected PEM or DER PKCS#8 (PRIVATE KEY / ENCRYPTED PRIVATE KEY), SEC1 (EC PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY)";
  throw unparsableKeyError(`${source} holds no private key`, undefined, expected);
}
