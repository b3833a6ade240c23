import type { TpmSignerOptions } from "../options.js";
import type { Signer } from "../signer.js";
import { TpmSigner } from "./tpm-signer.js";

/**
 * The TPM 2.0 back-end: a key in a TSS2 PRIVATE KEY file (loaded under its parent) or at a persistent
 * handle, used through our own TPM 2.0 client over /dev/tpmrm0, /dev/tpm0 or a simulator socket.
 * The key stays loaded until `close()` (or process exit).
 */
export async function createTpmSigner(opts: TpmSignerOptions): Promise<Signer> {
  return TpmSigner.open(opts);
}
