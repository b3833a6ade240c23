import type { KeyType } from "../../../x509/certificate.js";

export type MlDsaKeyType = Extract<KeyType, `ML-DSA-${string}`>;

/** One FIPS 204 parameter set: its X.509/PKCS#8 OID and byte lengths (FIPS 204 table 2). */
export interface MlDsaParameterSet {
  readonly name: MlDsaKeyType;
  readonly oid: string;
  readonly publicKeyLength: number;
  readonly secretKeyLength: number;
  readonly signatureLength: number;
}

export const ML_DSA_PARAMETER_SETS: Readonly<Record<MlDsaKeyType, MlDsaParameterSet>> = {
  "ML-DSA-44": { name: "ML-DSA-44", oid: "2.16.840.1.101.3.4.3.17", publicKeyLength: 1312, secretKeyLength: 2560, signatureLength: 2420 },
  "ML-DSA-65": { name: "ML-DSA-65", oid: "2.16.840.1.101.3.4.3.18", publicKeyLength: 1952, secretKeyLength: 4032, signatureLength: 3309 },
  "ML-DSA-87": { name: "ML-DSA-87", oid: "2.16.840.1.101.3.4.3.19", publicKeyLength: 2592, secretKeyLength: 4896, signatureLength: 4627 },
};

/** ML-DSA key generation seed (ξ) length. */
export const ML_DSA_SEED_LENGTH = 32;

export function mlDsaParameterSetForOid(oid: string): MlDsaParameterSet | undefined {
  return Object.values(ML_DSA_PARAMETER_SETS).find((p) => p.oid === oid);
}

export function isMlDsaKeyType(keyType: string | undefined): keyType is MlDsaKeyType {
  return keyType !== undefined && Object.hasOwn(ML_DSA_PARAMETER_SETS, keyType);
}

/** The operations used from an ML-DSA implementation (the shape of @noble/post-quantum's `ml_dsa*`). */
export interface MlDsaImplementation {
  keygen(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array };
  getPublicKey(secretKey: Uint8Array): Uint8Array;
  sign(message: Uint8Array, secretKey: Uint8Array, options: { extraEntropy: false }): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/**
 * The implementation for a parameter set. @noble/post-quantum is imported here, on first use, so that
 * RSA/EC runs never load it.
 */
export async function loadMlDsa(name: MlDsaKeyType): Promise<MlDsaImplementation> {
  const noble = await import("@noble/post-quantum/ml-dsa.js");
  switch (name) {
    case "ML-DSA-44":
      return noble.ml_dsa44;
    case "ML-DSA-65":
      return noble.ml_dsa65;
    case "ML-DSA-87":
      return noble.ml_dsa87;
  }
}
