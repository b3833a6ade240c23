import { DeviceError } from "../../errors.js";

/**
 * Moves whole TPM command buffers to a TPM and whole responses back. Each implementation writes a command
 * in ONE write (the kernel driver and swtpm both reject split commands) and serialises commands.
 */
export interface TpmTransport {
  /** Where the TPM is, for messages: `/dev/tpmrm0`, `unix:/run/swtpm.sock`, `tcp:127.0.0.1:2321`. */
  readonly description: string;
  transmit(command: Buffer): Promise<Buffer>;
  /**
   * Changes each time the connection to the TPM is lost (a simulator socket reconnects on the next
   * command). Objects and sessions created before the change may be gone, or may belong to someone else
   * if the TPM restarted. Constant for transports that cannot lose their connection.
   */
  readonly epoch?: number;
  /**
   * Synchronous last-chance exchange used only from a process `exit` handler (to flush TPM objects), when the
   * transport can do it and is idle; undefined otherwise.
   */
  transmitSync(command: Buffer): Buffer | undefined;
  close(): Promise<void>;
}

/** Largest response we accept (TPM_BUFSIZE of the Linux driver; real responses are far smaller). */
export const MAX_RESPONSE_SIZE = 8192;

/** Reads the responseSize field of a (possibly partial) response header; undefined until 6 bytes are present. */
export function declaredResponseSize(buf: Buffer): number | undefined {
  return buf.length >= 6 ? buf.readUInt32BE(2) : undefined;
}

/**
 * The connection broke while a command was on its way or awaited its answer: the TPM may or may not have
 * executed it, and anything it answered is lost.
 */
export class TpmConnectionLost extends DeviceError {}
