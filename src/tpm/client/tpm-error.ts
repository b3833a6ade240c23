import { DeviceError } from "../../errors.js";
import { decodeResponseCode, formatResponseCode, type DecodedResponseCode } from "../wire/response-code.js";

/** A non-zero TPM response code; `explainTpmError` turns the ones users can act on into specific errors. */
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
