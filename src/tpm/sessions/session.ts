import type { TpmsAuthCommand, TpmsAuthResponse } from "../wire/structures.js";

/** What a session needs to know about the command it authorizes. */
export interface CommandShape {
  /** Whether the first command / response parameter is a sized buffer (parameter encryption is possible). */
  readonly firstParamIsSized: boolean;
  readonly firstResponseParamIsSized: boolean;
}

/**
 * One authorization in a command's authorization area: TPM_RS_PW, an HMAC session or a policy session.
 * The `authValue` passed in is the authorized entity's password with trailing zero octets removed; a
 * session must never keep it beyond the call.
 */
export interface Session {
  readonly handle: number;
  /** Starts a command: fresh caller nonce, decides on parameter encryption for this command. */
  begin(command: CommandShape): void;
  /** True when this session encrypts the first command parameter of the current command. */
  readonly encryptsCommand: boolean;
  /** True when the TPM will encrypt the first response parameter of the current command. */
  readonly encryptsResponse: boolean;
  /** Hash algorithm (node:crypto name) for cpHash/rpHash; undefined for TPM_RS_PW. */
  readonly hashName: string | undefined;
  /** Encrypts the data bytes of the first command parameter in place. */
  encryptParameter(data: Buffer, encryptionAuth: Buffer): void;
  commandAuth(cpHash: Buffer | undefined, authValue: Buffer): TpmsAuthCommand;
  /** Checks the response HMAC (rpHash over the parameters as received) and rolls the nonces. */
  acceptResponse(rpHash: Buffer | undefined, auth: TpmsAuthResponse, authValue: Buffer): void;
  /** Decrypts the data bytes of the first response parameter in place (after acceptResponse). */
  decryptParameter(data: Buffer, encryptionAuth: Buffer): void;
}
