import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { isatty } from "node:tty";
import { DeviceError, InputError } from "../../errors.js";
import { fileKind } from "../../io/trusted-path.js";
import { ownValue } from "../../own-value.js";
import { completeResponse, deviceOption, exchangeSync, MAX_RESPONSE_SIZE, type TpmTransport } from "./transport.js";

/** The subset of a FileHandle the transport uses (a seam for unit tests). */
export interface DeviceFile {
  readonly fd: number;
  write(buffer: Buffer, offset: number, length: number, position: null): Promise<{ bytesWritten: number }>;
  read(buffer: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/**
 * A TPM character device: /dev/tpmrm0 (the kernel resource manager, which also flushes our objects when the
 * file is closed) or /dev/tpm0. A blocking write() returns once the TPM has answered; read() then returns
 * the response.
 */
export class DeviceTransport implements TpmTransport {
  readonly description: string;
  #file: DeviceFile | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  #inFlight = false;

  constructor(path: string, file: DeviceFile) {
    this.description = path;
    this.#file = file;
  }

  /** `option`: how hints name the device option (see {@link deviceOption}). */
  static async open(path: string, option?: string): Promise<DeviceTransport> {
    // O_NOCTTY: a terminal opened here must not become the controlling one of a daemon (its holder could signal it).
    const file = await open(path, constants.O_RDWR | constants.O_NOCTTY).catch((cause: unknown) => {
      throw deviceOpenError(path, cause, option);
    });
    // What was opened, not the name looked at before: a link switched to another user's FIFO would be a fake TPM, as
    // would a pseudo-terminal of theirs (a character device whose master they hold).
    const info = await file.stat();
    if (!info.isCharacterDevice() || isatty(file.fd)) {
      await file.close();
      const kind = info.isCharacterDevice() ? "a terminal" : fileKind(info);
      throw new InputError("TPM_DEVICE_INVALID", `the TPM device ${path} is ${kind}, not a TPM character device`, {
        hint: `point ${deviceOption(option)} at the TPM: /dev/tpmrm0, unix:/path/to/swtpm.sock or tcp:HOST:PORT`,
      });
    }
    return new DeviceTransport(path, file as unknown as DeviceFile);
  }

  transmit(command: Buffer): Promise<Buffer> {
    const run = this.#busy.then(() => this.#exchange(command));
    this.#busy = run.catch(() => undefined);
    return run;
  }

  async #exchange(command: Buffer): Promise<Buffer> {
    const file = this.#file;
    if (!file) throw new DeviceError("TPM_UNAVAILABLE", `the TPM at ${this.description} was already closed`);
    this.#inFlight = true;
    try {
      const { bytesWritten } = await file.write(command, 0, command.length, null);
      if (bytesWritten !== command.length) {
        throw new DeviceError("TPM_ERROR", `short write to ${this.description}: ${bytesWritten} of ${command.length} bytes`);
      }
      const buf = Buffer.alloc(MAX_RESPONSE_SIZE);
      for (let have = 0; ; ) {
        const { bytesRead } = await file.read(buf, have, buf.length - have, null);
        if (bytesRead === 0) throw new DeviceError("TPM_ERROR", `${this.description} returned an incomplete response`);
        have += bytesRead;
        const response = completeResponse(buf.subarray(0, have), this.description);
        if (response) return response;
      }
    } catch (cause) {
      if (cause instanceof DeviceError) throw cause;
      throw new DeviceError("TPM_ERROR", `I/O error on ${this.description}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
    } finally {
      this.#inFlight = false;
    }
  }

  transmitSync(command: Buffer): Buffer | undefined {
    const file = this.#file;
    if (!file || this.#inFlight) return undefined;
    return exchangeSync(file.fd, command, (received) => completeResponse(received, this.description));
  }

  async close(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    if (!file) return;
    await this.#busy;
    await file.close().catch(() => undefined);
  }
}

/** Why a device could not be opened, by errno code (EPERM as EACCES): the message for the path, and what to do. */
const OPEN_ERRORS: Readonly<Record<string, readonly [(path: string) => string, (option?: string) => string]>> = {
  ENOENT: [(p) => `no TPM at ${p}`,
    (o) => `check that the machine has a TPM 2.0 enabled, or select one with ${deviceOption(o)}`],
  EACCES: [(p) => `permission denied opening ${p}`,
    () => "add your user to the group that owns the device (usually 'tss') and log in again"],
  EBUSY: [(p) => `${p} is in use by another process`,
    () => "use the kernel resource manager /dev/tpmrm0, which many processes can share"],
};

function deviceOpenError(path: string, cause: unknown, option: string | undefined): DeviceError {
  const code = (cause as NodeJS.ErrnoException).code;
  const key = code === "EPERM" ? "EACCES" : code;
  const known = key === undefined ? undefined : ownValue(OPEN_ERRORS, key);
  if (!known) return new DeviceError("TPM_UNAVAILABLE", `cannot open ${path}: ${code ?? String(cause)}`, { cause });
  return new DeviceError("TPM_UNAVAILABLE", known[0](path), { cause, hint: known[1](option) });
}
