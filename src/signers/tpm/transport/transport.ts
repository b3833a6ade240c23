/**
 * Moves whole TPM command buffers to a TPM and whole responses back. Each implementation writes a command
 * in ONE write (the kernel driver and swtpm both reject split commands) and serialises commands.
 */
export interface TpmTransport {
  /** Where the TPM is, for messages: `/dev/tpmrm0`, `unix:/run/swtpm.sock`, `tcp:127.0.0.1:2321`. */
  readonly description: string;
  transmit(command: Buffer): Promise<Buffer>;
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
