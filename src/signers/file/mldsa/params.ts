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

/** The implementation of a parameter set, @noble/post-quantum imported on first use so that RSA/EC runs never load it. */
export async function loadMlDsa(name: MlDsaKeyType) {
  const noble = await import("@noble/post-quantum/ml-dsa.js");
  return { "ML-DSA-44": noble.ml_dsa44, "ML-DSA-65": noble.ml_dsa65, "ML-DSA-87": noble.ml_dsa87 }[name];
}
