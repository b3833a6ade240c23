import type { Session } from "../client/tpm.js";
import { TPMA_SESSION, TPM_RH } from "../wire/constants.js";
import { secretCopy } from "../../secrets/secret-bytes.js";

/**
 * TPM_RS_PW: the password itself travels in the authorization area. Used only when the password is empty
 * or when the signer's parameter encryption was explicitly turned off (a test seam); the signer and keygen
 * authorize every other password through a salted HMAC session.
 */
export const PASSWORD_SESSION: Session = {
  handle: TPM_RH.PW,
  hashName: undefined,
  begin() {},
  commandAuth(_cpHash, authValue) {
    return { sessionHandle: TPM_RH.PW, nonce: Buffer.alloc(0), sessionAttributes: TPMA_SESSION.continueSession, hmac: secretCopy(authValue) };
  },
  acceptResponse() {},
};
