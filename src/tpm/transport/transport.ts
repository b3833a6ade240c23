import { readSync, writeSync } from "node:fs";
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
  /** Connects now where the first command would (a simulator's socket): fails as it would when the TPM is not there. */
  ready?(): Promise<unknown>;
  close(): Promise<void>;
}

/** Where hints say the TPM is chosen: `option`, the caller's name for it (default the CLI's flag), or TPM_DEVICE. */
export const deviceOption = (option = "--tpm-device"): string => `${option} / TPM_DEVICE`;

/** Largest response we accept (TPM_BUFSIZE of the Linux driver; real responses are far smaller). */
export const MAX_RESPONSE_SIZE = 8192;

/** The response at the start of `buf` (a copy) once its responseSize bytes are there; undefined until then. */
export function completeResponse(buf: Buffer, description: string): Buffer | undefined {
  if (buf.length < 6) return undefined;
  const size = buf.readUInt32BE(2);
  if (size < 10 || size > MAX_RESPONSE_SIZE) {
    throw new DeviceError("TPM_ERROR", `${description} sent a response with an invalid size (${size})`);
  }
  return buf.length >= size ? Buffer.from(buf.subarray(0, size)) : undefined;
}

/** `transmitSync`'s exchange: 2 s at most (a non-blocking socket answers EAGAIN until then); undefined on failure. */
export function exchangeSync(fd: number, command: Buffer, complete: (received: Buffer) => Buffer | undefined): Buffer | undefined {
  try {
    writeSync(fd, command);
    const buf = Buffer.alloc(MAX_RESPONSE_SIZE + 8);
    // Monotonic: this runs in the exit handler, maybe as NTP steps the clock at boot (back: an hour's wait).
    const deadline = performance.now() + 2000;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (let have = 0; performance.now() < deadline; ) {
      let n: number;
      try {
        n = readSync(fd, buf, have, buf.length - have, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") return undefined;
        Atomics.wait(nap, 0, 0, 1);
        continue;
      }
      if (n === 0) return undefined;
      have += n;
      const response = complete(buf.subarray(0, have));
      if (response) return response;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * The connection broke while a command was on its way or awaited its answer: the TPM may or may not have
 * executed it, and anything it answered is lost.
 */
export class TpmConnectionLost extends DeviceError {
  /** The command carried a non-empty password (set by Tpm.execute): a wrong one may have counted as a dictionary-attack try. */
  presentedPassword = false;
}
