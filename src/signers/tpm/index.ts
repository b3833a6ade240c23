import { DeviceError } from "../../errors.js";
import type { TpmSignerOptions } from "../options.js";
import type { Signer } from "../signer.js";

/**
 * The TPM 2.0 back-end: a key in a TSS2 PRIVATE KEY file or at a persistent handle, used through our own
 * TPM 2.0 client. Placeholder until the client lands; the signature is final.
 */
export async function createTpmSigner(_opts: TpmSignerOptions): Promise<Signer> {
  throw new DeviceError("TPM_UNAVAILABLE", "the TPM back-end is not built yet");
}
