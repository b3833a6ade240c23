import { createHash, createPublicKey, type KeyObject } from "node:crypto";

const FIXED_PREFIX = "AWS Roles Anywhere Credential Helper Signing Test" + "1";

/**
 * The string `sign-string` signs, byte for byte as aws_signing_helper builds it:
 * the fixed prefix, then SHA-256("IAM RA" || PUB) as 32 raw bytes, where PUB is the EC uncompressed point
 * (04 || X || Y) or the DER PKCS#1 RSAPublicKey. For any other key, or when the public key is unknown
 * (e.g. a PKCS#11 key used with a certificate from a file), the suffix is empty.
 */
export function fixedTestString(publicKey: KeyObject | undefined): Buffer {
  const prefix = Buffer.from(FIXED_PREFIX, "utf8");
  const pub = publicKey === undefined ? undefined : publicKeyBytes(publicKey);
  if (pub === undefined) return prefix;
  const suffix = createHash("sha256").update("IAM RA").update(pub).digest();
  return Buffer.concat([prefix, suffix]);
}

function publicKeyBytes(key: KeyObject): Buffer | undefined {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType === "rsa") return pub.export({ type: "pkcs1", format: "der" });
  if (pub.asymmetricKeyType !== "ec") return undefined;
  const { x, y } = pub.export({ format: "jwk" });
  if (x === undefined || y === undefined) return undefined;
  return Buffer.concat([Buffer.from([4]), Buffer.from(x, "base64url"), Buffer.from(y, "base64url")]);
}

