import { DeviceError } from "../../errors.js";
import { decodeResponseCode, formatResponseCode, type DecodedResponseCode } from "../wire/response-code.js";

/**
 * A TPM command answered with a non-zero response code: a DeviceError with the code decoded. `explainTpmError`
 * turns the codes users can act on (wrong password, lockout, policy, wrong parent…) into specific errors.
 */
export class TpmResponseError extends DeviceError {
  readonly decoded: DecodedResponseCode;

  constructor(
    command: string,
    readonly rc: number,
  ) {
    super("TPM_ERROR", `${command} failed: ${formatResponseCode(rc)}`);
    this.decoded = decodeResponseCode(rc);
  }

  /** True for this base code whatever parameter/handle/session number is attached (e.g. RC.AUTH_FAIL). */
  is(base: number): boolean {
    return this.decoded.base === base;
  }
}
