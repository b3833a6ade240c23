import { openSync, closeSync } from "node:fs";
import { ReadStream, WriteStream } from "node:tty";
import { InputError } from "../errors.js";
import { Secret } from "./secret.js";

/**
 * Asks for a secret on the controlling terminal (/dev/tty) with echo off. Never reads stdin (which may be
 * a pipe carrying something else) and refuses to run without a terminal, e.g. under CI or credential_process
 * invoked by an SDK with no TTY, so that nothing ever hangs waiting for input nobody can give.
 */
export async function promptOnTerminal(prompt: string, what: string): Promise<Secret> {
  if (process.env["CI"] === "true" || !process.stdin.isTTY) {
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
  try {
    output.write(prompt);
    input.setRawMode(true);
    const bytes = await readLine(input);
    output.write("\n");
    return Secret.fromBytes(bytes);
  } finally {
    input.setRawMode(false);
    input.destroy();
    output.destroy();
    try {
      closeSync(fd);
    } catch {
      /* already closed by the streams */
    }
  }
}

export function readLine(input: ReadStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: number[] = [];
    const finish = (settle: () => void) => {
      input.off("data", onData);
      input.off("end", onEnd);
      input.pause();
      chunks.fill(0);
      settle();
    };
    const onData = (data: Buffer) => {
      try {
        for (const byte of data) {
          if (byte === 0x0d || byte === 0x0a) {
            const out = Buffer.from(chunks);
            return finish(() => resolve(out));
          }
          if (byte === 0x03) return finish(() => reject(new InputError("PASSWORD_REQUIRED", "prompt interrupted")));
          if (byte === 0x7f || byte === 0x08) chunks.pop();
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
    input.resume();
  });
}
