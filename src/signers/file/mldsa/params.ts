import type { MlDsaKeyType } from "../../../x509/certificate.js";

/**
 * The implementation of a parameter set, @noble/post-quantum loaded on first use so that RSA/EC runs never load it;
 * from the package's own node_modules only (import() would look in every node_modules up to `/`). own-package.ts is
 * imported here, not above: set up at start, it cost every cold run ~5 M instructions.
 */
export async function loadMlDsa(name: MlDsaKeyType) {
  const { requireFromPackage } = await import("../../../os/own-package.js");
  const noble = requireFromPackage("@noble/post-quantum/ml-dsa.js") as typeof import("@noble/post-quantum/ml-dsa.js");
  return { "ML-DSA-44": noble.ml_dsa44, "ML-DSA-65": noble.ml_dsa65, "ML-DSA-87": noble.ml_dsa87 }[name];
}
