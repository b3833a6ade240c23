import type { ProfileArn, RoleArn, TrustAnchorArn } from "../../src/arn.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import type { Signer } from "../../src/signers/signer.js";
import type { Certificate } from "../../src/x509/certificate.js";

/** A device's settings for tests whose stand-in signer and session creator replace the key and the network. */
export const standInSettings = (certificate?: string, privateKey = "pkcs11:token=t;object=k"): CredentialSettings => ({
  signer: { ...(certificate ? { certificate } : {}), privateKey },
  session: {
    trustAnchorArn: "arn:aws:rolesanywhere:eu-west-1:1:trust-anchor/t" as TrustAnchorArn,
    profileArn: "arn:aws:rolesanywhere:eu-west-1:1:profile/p" as ProfileArn,
    roleArn: "arn:aws:iam::1:role/R" as RoleArn,
    durationSeconds: 3600,
  },
  endpoint: { verifyTls: true, connectTimeoutMs: 1000, timeoutMs: 1000 },
});

/** A signer without a key, for session creators that do not look at the signature; `certificate` if one is asked. */
export const standInSigner = (certificate?: Certificate): Signer => ({
  keyType: "EC",
  backend: "pkcs11",
  certificate: async () => certificate,
  certificateChain: async () => [],
  publicKey: async () => undefined,
  sign: async () => Buffer.alloc(0),
  close: async () => {},
});
