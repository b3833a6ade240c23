import { writeSync } from "node:fs";
import { InputError } from "../errors.js";
import type { TextOutput } from "./command.js";

/**
 * Writes straight to file descriptor 1 or 2, without creating process.stdout/stderr: building those
 * streams costs a few milliseconds of start-up, and on Linux their writes to files, pipes and terminals are
 * synchronous anyway. Should the descriptor be non-blocking (EAGAIN), the rest goes through the stream. When
 * nobody reads any more (EPIPE: the caller of credential_process gave up, a daemon's log pipe closed) the text
 * is dropped: there is no one left to tell, and a daemon must keep serving. Any other failure (a full disk, a file
 * over `ulimit -f`, a terminal gone: ENOSPC, EFBIG, EIO) drops a line on stderr too (a daemon's log line must not
 * stop it), and on stdout, where the command's answer goes, is the command's error: FILE_WRITE_FAILED, one line.
 */
export class FdOutput implements TextOutput {
  readonly #fd: 1 | 2;
  #stream: NodeJS.WriteStream | undefined;

  constructor(fd: 1 | 2) {
    this.#fd = fd;
  }

  /**
   * Whether the descriptor is a terminal (progress spinners only draw there). node:tty is loaded on this first
   * question: most runs never ask it, and loading it costs ~0.5 M instructions of every start (issue #18).
   */
  get isTTY(): boolean {
    return process.getBuiltinModule("node:tty").isatty(this.#fd);
  }

  write(text: string | Uint8Array): boolean {
    if (this.#stream) return this.#stream.write(text);
    let pending = typeof text === "string" ? Buffer.from(text, "utf8") : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
    try {
      while (pending.length > 0) pending = pending.subarray(writeSync(this.#fd, pending));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EPIPE" || (code !== "EAGAIN" && this.#fd === 2)) return false;
      if (code !== "EAGAIN") {
        const hint = "check where standard output goes: a full disk, a file size limit (ulimit -f), a closed terminal";
        const message = `cannot write to standard output: ${code ?? String(error)}`;
        throw new InputError("FILE_WRITE_FAILED", message, { cause: error, hint });
      }
      this.#stream = this.#fd === 1 ? process.stdout : process.stderr;
      this.#stream.on("error", () => {}); // its EPIPE later (the reader gone): dropped too, never an uncaught error
      return this.#stream.write(pending);
    }
    return true;
  }

  /** Resolves once everything written has left the process. */
  flush(): Promise<void> {
    const stream = this.#stream;
    return stream ? new Promise((resolve) => stream.write("", () => resolve())) : Promise.resolve();
  }
}
