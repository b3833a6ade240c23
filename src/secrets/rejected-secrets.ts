import { createHmac, randomBytes } from "node:crypto";
import type { Secret } from "./secret.js";

/**
 * The PINs and passwords a device rejected in this process, as keyed digests (never the secrets): a signer opened
 * anew (each SIGHUP after a config change, an SDK provider made again) would present one once more each time, a try
 * on the token's or the TPM's counter each, until it locks.
 */
const rejected = new Map<string, Rejection>();
/** "unanswered": presented in a command the device never answered; it may have counted as a wrong one. */
type Rejection = "rejected" | "unanswered";
const digestKey = randomBytes(32);

/** `secret`'s keyed digest, bound to what it is presented to (module and token, TPM and key, its role). */
export function secretDigest(about: readonly (string | Uint8Array)[], secret: Secret): string {
  const digest = createHmac("sha256", digestKey);
  for (const part of about) digest.update(part).update("\0");
  return secret.use((bytes) => digest.update(bytes).digest("hex"));
}

export function wasRejected(digest: string): Rejection | undefined {
  return rejected.get(digest);
}

export function rememberRejected(digest: string, why: Rejection = "rejected"): void {
  rejected.set(digest, why);
}

/** For tests whose stand-in devices share a name and a secret: forgets what was rejected so far. */
export function forgetRejectedSecrets(): void {
  rejected.clear();
}
