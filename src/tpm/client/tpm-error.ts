import { DeviceError } from "../../errors.js";
import { decodeResponseCode, formatResponseCode, type DecodedResponseCode } from "../wire/response-code.js";

/**
 * A TPM command answered with a non-zero response code. It is a DeviceError with the raw code decoded;
 * the signer turns the codes users can act on (wrong password, lockout, policy, wrong parent…) into
 * specific errors.
 */
export class TpmResponseError extends DeviceError {
  readonly rc: number;
  readonly decoded: DecodedResponseCode;
  readonly command: string;
  readonly commandCode: number;

  constructor(command: string, commandCode: number, rc: number) {
    super("TPM_ERROR", `${command} failed: ${formatResponseCode(rc)}`);
    this.rc = rc;
    this.decoded = decodeResponseCode(rc);
    this.command = command;
    this.commandCode = commandCode;
  }

  /** True for this base code whatever parameter/handle/session number is attached (e.g. RC.AUTH_FAIL). */
  is(base: number): boolean {
    return this.decoded.base === base;
  }
}
