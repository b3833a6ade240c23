import { closeSync, constants, openSync, readSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import { escapeControls, InputError } from "../errors.js";
import { secretCopy } from "./secret-bytes.js";
import { Secret } from "./secret.js";
import { terminalCanAsk } from "./secret-source.js";

/**
 * Asks for a secret on the controlling terminal (/dev/tty) with echo off. Never reads stdin (which may be
 * a pipe carrying something else) and refuses to run without a terminal, e.g. under CI or credential_process
 * invoked by an SDK with no TTY, so that nothing ever hangs waiting for input nobody can give.
 */
export async function promptOnTerminal(prompt: string, what: string, signal?: AbortSignal): Promise<Secret> {
  signal?.throwIfAborted(); // closed while this module loaded: no prompt shown and taken back
  if (!terminalCanAsk()) {
    throw new InputError("PASSWORD_REQUIRED", `${what} is needed but there is no terminal to ask on`, {
      hint: "give it non-interactively: a file (file:/path), an environment variable (env:NAME) or the matching option",
    });
  }
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r+");
  } catch (cause) {
    throw new InputError("PASSWORD_REQUIRED", `${what} is needed but /dev/tty cannot be opened`, { cause });
  }
  const input = new ReadStream(fd);
  const output = new WriteStream(fd);
  // The terminal hung up (EIO): readLine ends and says so; an error event without a listener would end the process.
  for (const stream of [input, output]) stream.on("error", () => {});
  // Stopped (kill -TSTP) and continued (fg): the shell set its own modes meanwhile, echo on, so the PIN typed next
  // was shown. Raw mode is set again (off first: Node skips setting the mode it believes is set).
  const rawAgain = () => {
    try {
      input.setRawMode(false).setRawMode(true);
    } catch {
      /* the terminal is gone: readLine says so */
    }
  };
  process.on("SIGCONT", rawAgain);
  try {
    input.setRawMode(true);
    discardTypeAhead();
    output.write(escapeControls(prompt)); // a token label in it could retitle the terminal or set its clipboard
    return Secret.fromBytes(await readLine(input, signal));
  } catch (cause) {
    if (cause instanceof InputError || (signal?.aborted && cause === signal.reason)) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new InputError("PASSWORD_REQUIRED", `${what} is needed but the terminal cannot be used (${code})`, { cause });
  } finally {
    process.off("SIGCONT", rawAgain);
    output.write("\n"); // also after Ctrl-C or Ctrl-D: the error line then starts a line of its own
    try {
      input.setRawMode(false);
    } catch {
      /* the terminal is gone (EIO): nothing to restore */
    }
    input.destroy();
    output.destroy();
    try {
      closeSync(fd);
    } catch {
      /* already closed by the streams */
    }
  }
}

/**
 * Input typed before the prompt shows (type-ahead: the next shell command, typed while this one started) is not a
 * secret: read as one, it would cost one of a token's few PIN tries. Node has no tcflush; getpass() and sudo do this.
 */
function discardTypeAhead(): void {
  const fd = openSync("/dev/tty", constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  const junk = Buffer.alloc(256);
  try {
    while (readSync(fd, junk) > 0);
  } catch {
    /* EAGAIN: nothing more queued */
  } finally {
    junk.fill(0);
    closeSync(fd);
  }
}

const SPECIAL_KEY = "what was typed holds a special key (an arrow, a function or a control key); it was not used";
const TYPE_AGAIN = "run again and type it plainly; Ctrl-U clears what was typed";

/** One line typed on the terminal in raw mode, every byte of it wiped once read; never a control byte in it. */
export function readLine(input: ReadStream, signal?: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: number[] = [];
    const finish = (settle: () => void) => {
      input.off("data", onData);
      input.off("end", onEnd);
      input.off("error", onEnd);
      signal?.removeEventListener("abort", onAbort);
      input.pause();
      chunks.fill(0);
      settle();
    };
    let special = false; // an arrow or function key (ESC …) or another control byte, typed since the line was cleared
    const fail = (message: string, hint?: string) =>
      finish(() => reject(new InputError("PASSWORD_REQUIRED", message, { hint })));
    const onData = (data: Buffer) => {
      try {
        for (const byte of data) {
          if (byte === 0x0d || byte === 0x0a) {
            if (special) return fail(SPECIAL_KEY, TYPE_AGAIN);
            const out = secretCopy(chunks);
            return finish(() => resolve(out));
          }
          if (byte === 0x03) return fail("prompt interrupted");
          // Raw mode leaves the terminal's line editing to us: Ctrl-D on an empty line ends it (elsewhere it does
          // nothing), Ctrl-U and Ctrl-W clear it (a secret has no words to erase), backspace takes a UTF-8 character.
          if (byte === 0x04) {
            if (chunks.length === 0 && !special) return fail("the prompt was ended (Ctrl-D) with nothing typed");
          } else if (byte === 0x15 || byte === 0x17) {
            chunks.fill(0).length = 0;
            special = false;
          } else if (byte === 0x7f || byte === 0x08) {
            while ((chunks.pop()! & 0xc0) === 0x80 && chunks.length > 0);
          } else if (byte < 0x20 && byte !== 0x09) special = true;
          else chunks.push(byte);
        }
      } finally {
        // The chunk that ends the line usually holds the whole secret too.
        data.fill(0);
      }
    };
    const onEnd = () => finish(() => reject(new InputError("PASSWORD_REQUIRED", "terminal closed while reading the secret")));
    input.on("data", onData);
    input.on("end", onEnd);
    input.on("error", onEnd); // EIO: the terminal hung up
    const onAbort = () => finish(() => reject(signal!.reason));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    input.resume();
  });
}
