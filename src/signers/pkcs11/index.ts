import type { Pkcs11SignerOptions } from "../options.js";
import type { Signer } from "../signer.js";
import { DeviceError } from "../../errors.js";

/** Opens the token named by `opts.keyUri`, finds the key (and certificate) and returns a Signer. */
export async function createPkcs11Signer(opts: Pkcs11SignerOptions): Promise<Signer> {
  void opts;
  throw new DeviceError("PKCS11_ERROR", "the PKCS#11 back-end is not built yet");
}
