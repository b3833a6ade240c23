import { writeFile } from "node:fs/promises";
import { InputError } from "../errors.js";

export interface OutputFileOptions {
  /** Says what the file is, for messages ("certificate request"). */
  readonly what: string;
  readonly overwrite?: boolean;
  readonly mode?: number;
}

/** Writes a file the user named; never replaces one unless told to. */
export async function writeOutputFile(path: string, data: string | Uint8Array, options: OutputFileOptions): Promise<void> {
  const flags = { flag: options.overwrite ? "w" : "wx", mode: options.mode ?? 0o644 };
  await writeFile(path, data, flags).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === "EEXIST") throw outputFileExists(options.what, path, cause);
    throw new InputError("FILE_WRITE_FAILED", `cannot write ${options.what} ${path}: ${cause.code ?? String(cause)}`, { cause });
  });
}

/** The refusal to replace a file the user named without --force. */
export function outputFileExists(what: string, path: string, cause?: unknown): InputError {
  return new InputError("OBJECT_EXISTS", `${what} ${path} already exists`, { hint: "choose another path, or pass --force to replace it", cause });
}
