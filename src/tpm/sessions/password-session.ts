import type { Session } from "../client/tpm.js";
import { TPMA_SESSION, TPM_RH } from "../wire/constants.js";
import type { TpmsAuthCommand } from "../wire/structures.js";

/**
 * TPM_RS_PW: the password itself travels in the authorization area. Used only when the password is empty
 * or when parameter encryption was explicitly turned off; otherwise a salted HMAC session is used.
 */
export class PasswordSession implements Session {
  readonly handle = TPM_RH.PW;
  readonly hashName = undefined;

  begin(): void {}

  commandAuth(_cpHash: Buffer | undefined, authValue: Buffer): TpmsAuthCommand {
    return { sessionHandle: this.handle, nonce: Buffer.alloc(0), sessionAttributes: TPMA_SESSION.continueSession, hmac: Buffer.from(authValue) };
  }

  acceptResponse(): void {}
}
