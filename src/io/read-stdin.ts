import { readDescriptor } from "./read-opened-file.js";
import { InputError } from "../errors.js";
import { fileError } from "./input-file.js";

/** All of standard input (`-` as a certificate, key or chain), refused when it is a terminal or empty. */
export async function readStdin(what: string): Promise<Buffer> {
  // node:tty only on this path (not process.stdin, which would set up a stream): the cold path never loads it.
  if ((await import("node:tty")).isatty(0)) {
    throw new InputError("INPUT_MISSING", `${what}: - means standard input, which is a terminal`, { hint: "pipe the PEM text in, e.g. cmd --certificate - < cert.pem" });
  }
  let bytes: Buffer;
  try {
    bytes = await readDescriptor(0);
  } catch (cause) {
    throw fileError(cause, "standard input", `${what}:`);
  }
  if (bytes.length === 0) throw new InputError("INPUT_MISSING", `${what}: standard input is empty`, { hint: "pipe the PEM text in, e.g. cmd --certificate - < cert.pem" });
  return bytes;
}
