import type { MlDsaKeyType } from "../../../x509/certificate.js";

/** The implementation of a parameter set, @noble/post-quantum imported on first use so that RSA/EC runs never load it. */
export async function loadMlDsa(name: MlDsaKeyType) {
  const noble = await import("@noble/post-quantum/ml-dsa.js");
  return { "ML-DSA-44": noble.ml_dsa44, "ML-DSA-65": noble.ml_dsa65, "ML-DSA-87": noble.ml_dsa87 }[name];
}
