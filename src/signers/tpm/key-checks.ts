/** What makes a TPM key unfit for this signer, checked before its first use, each with a clear message. */
import type { KeyObject } from "node:crypto";
import { InputError } from "../../errors.js";
import type { LoadedKey } from "../../tpm/keys/load-key.js";
import { computePolicyDigest } from "../../tpm/keys/policy.js";
import { describeKey, hasAttribute, publicKeyOf } from "../../tpm/keys/public-area.js";
import type { Tss2KeyFile } from "../../tpm/keys/tss2-key-file.js";
import { hashInfo, TPMA_OBJECT, TPM_ALG } from "../../tpm/wire/constants.js";
import { oneLineName, type Certificate } from "../../x509/certificate.js";
import { mismatchHint, type OptionNames } from "../options.js";

export function checkFilePolicy(file: Tss2KeyFile, what: string): void {
  if (file.policy.length === 0) return;
  const pub = file.public.public;
  const digest = computePolicyDigest(file.policy, hashInfo(pub.nameAlg).name);
  if (!digest.equals(pub.authPolicy)) {
    throw new InputError("TPM_KEY_INVALID", `${what}: the policy statements in the file do not produce the key's authPolicy`, {
      hint: "the file's policy section is damaged or belongs to another key",
    });
  }
}

/** The loaded key's public key, once its attributes allow signing arbitrary data with the authorization we have. */
export function checkSigningKey(key: LoadedKey, fromHandle: boolean, what: string): KeyObject {
  const pub = key.public.public;
  const publicKey = publicKeyOf(pub, what);
  if (hasAttribute(pub, TPMA_OBJECT.restricted)) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: restricted TPM keys (attestation or storage keys) cannot sign arbitrary data`);
  }
  // An RSA decryption key signs through raw RSA with PKCS#1 padding; an ECC one cannot sign at all.
  if (!hasAttribute(pub, TPMA_OBJECT.sign) && !(pub.type === TPM_ALG.RSA && hasAttribute(pub, TPMA_OBJECT.decrypt))) {
    const lacks = pub.type === TPM_ALG.RSA ? "neither the sign nor the decrypt attribute" : "no sign attribute";
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: this ${describeKey(pub)} TPM key has ${lacks}`);
  }
  if (key.session?.kind !== "policy" && !hasAttribute(pub, TPMA_OBJECT.userWithAuth)) {
    throw new InputError("TPM_KEY_INVALID", `${what}: the key can only be used with a policy session, but no policy for it is known`, {
      hint: fromHandle ? "use the key's TSS2 file, which carries its policy" : "the key file has no policy statements",
    });
  }
  return publicKey;
}

export function checkCertificateMatches(cert: Certificate, tpmKey: KeyObject, what: string, names?: OptionNames): void {
  const certKey = cert.publicKey;
  if (!certKey || !certKey.equals(tpmKey)) {
    const message = `the certificate (${oneLineName(cert.subject)}) does not belong to ${what}`;
    throw new InputError("KEY_CERTIFICATE_MISMATCH", message, { hint: mismatchHint(names) });
  }
}
