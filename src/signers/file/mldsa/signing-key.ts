import { createHash } from "node:crypto";
import type { DebugLog } from "../../options.js";
import { inconsistentKeyError, type SigningKey } from "../signing-key.js";
import { malformed, type MlDsaPrivateKeyInfo } from "./private-key-info.js";
import { loadMlDsa } from "./params.js";
import { encodeMlDsaSpki } from "./spki.js";

/** Bytes of `tr` = H(pk) inside the FIPS 204 private key encoding, after ρ (32) and K (32). */
const TR_OFFSET = 64;
const TR_LENGTH = 64;

/**
 * Turns a decoded ML-DSA private key into a {@link SigningKey}, after checking that its parts agree:
 * - `both`: the expanded key regenerated from the seed must equal the one in the file (RFC 9881 §6 seed
 *   consistency check; the Go helper ignores the expanded key instead);
 * - `expanded`: `tr` must be the hash of the public key recomputed from s1 and s2;
 * - an embedded public key (OneAsymmetricKey `publicKey`) must equal the derived one.
 * Signing is pure ML-DSA over the message itself, with an empty context and no randomness (hedging off), as
 * aws_signing_helper does; the digest argument is ignored. Each signature is verified before it is returned: a
 * damaged t0 (left out of tr) passes the checks above and signs wrongly, and a faulted deterministic signature
 * would give s1 away.
 */
export async function mlDsaSigningKey(info: MlDsaPrivateKeyInfo, source: string, debug?: DebugLog): Promise<SigningKey> {
  const { parameterSet, form } = info;
  const name = parameterSet.name;
  const mlDsa = await loadMlDsa(name);
  let secretKey: Uint8Array;
  let publicKey: Uint8Array;
  const refuse = (what: string, cause?: unknown): never => {
    secretKey.fill(0);
    throw malformed(source, name, what, cause);
  };
  if (info.seed !== undefined) {
    ({ secretKey, publicKey } = mlDsa.keygen(info.seed));
    if (info.expandedKey !== undefined && !info.expandedKey.equals(secretKey)) {
      refuse("a seed that does not generate its expanded key (inconsistent seed and expanded key)");
    }
  } else if (info.expandedKey !== undefined) {
    secretKey = Uint8Array.from(info.expandedKey);
    try {
      publicKey = mlDsa.getPublicKey(secretKey);
    } catch (cause) {
      // @noble/post-quantum throws a plain Error for coefficients out of range (e.g. s1/s2 outside ±η).
      return refuse("an expanded key that is not a valid FIPS 204 private key", cause);
    }
    const tr = createHash("shake256", { outputLength: TR_LENGTH }).update(publicKey).digest();
    if (!tr.equals(secretKey.subarray(TR_OFFSET, TR_OFFSET + TR_LENGTH))) {
      refuse("an expanded key whose public-key hash (tr) does not match its s1 and s2");
    }
  } else {
    throw malformed(source, name, "neither a seed nor an expanded key");
  }
  if (info.publicKey !== undefined && !info.publicKey.equals(publicKey)) {
    refuse("an embedded public key that does not belong to the private key");
  }
  if (form !== "both") {
    debug?.(`${source}: ${name} key in the ${FORM_NAMES[form]} encoding (aws_signing_helper reads only the seed + expanded key encoding)`);
  }
  return {
    keyType: name,
    description: name,
    publicKey: undefined,
    spki: encodeMlDsaSpki(parameterSet, publicKey),
    sign: (message) => {
      const signature = mlDsa.sign(message, secretKey, { extraEntropy: false });
      if (!mlDsa.verify(signature, message, publicKey)) throw inconsistentKeyError(source);
      return Buffer.from(signature);
    },
  };
}

const FORM_NAMES = { seed: "seed-only", expanded: "expanded-key-only", both: "seed + expanded key" } as const;
