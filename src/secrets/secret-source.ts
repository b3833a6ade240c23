import { AsyncLocalStorage } from "node:async_hooks";
import { fileURLToPath } from "node:url";
import { InputError, UsageError } from "../errors.js";
import { secretFileAcl, warnIfExposed, type FileFacts } from "../os/exposed-file.js";
import { isFileInput, readInputFile, type InputBytes } from "../io/input-file.js";
import { Secret } from "./secret.js";
import { ownsItsStore, secretCopy } from "./secret-bytes.js";
import { isPlainObject, ownValue, type Kind } from "../own-value.js";

/**
 * Where a PIN or password comes from. Argv values are accepted for drop-in compatibility with the Go
 * helper, but the file, environment and fd forms keep the secret out of `ps` output.
 */
export type SecretSource =
  | { kind: "value"; value: string }
  | { kind: "file"; path: string }
  | { kind: "env"; name: string }
  | { kind: "prompt"; prompt: string };

/**
 * The secrets written as one value that names its source (`file:/path`, `env:NAME`, `prompt`), by their flag (a config
 * field too), with what their `prompt` asks: no back-end asks for these unasked. The others' `prompt` is their absence.
 */
export const SOURCE_VALUED_SECRETS: Readonly<Record<string, string>> = {
  "tpm-parent-password": "TPM parent password: ",
  "tpm-owner-password": "TPM owner password: ",
};

/**
 * Parses the compact textual forms users write in config files and flags:
 * `file:/path`, `file:///path`, `env:NAME`, `prompt`, or anything else as a literal value.
 */
export function parseSecretSource(text: string, promptText: string): SecretSource {
  if (typeof text !== "string") {
    throw new UsageError("USAGE", "parseSecretSource takes a string: env:NAME, file:/path, prompt or the value");
  }
  if (text === "prompt") return { kind: "prompt", prompt: promptText };
  if (text === "env:" || text === "file:") {
    const what = promptText.replace(/:\s*$/, "");
    throw new UsageError("USAGE", `${what}: "${text}" names no ${text === "env:" ? "environment variable" : "file"}`, {
      hint: "write env:NAME, file:/path or prompt",
    });
  }
  if (text.startsWith("env:")) return { kind: "env", name: text.slice(4) };
  if (text.startsWith("file://")) {
    const path = localPathOfFileUri(text);
    if (path !== undefined) return { kind: "file", path };
    const hint = "write file:/path or file:///path";
    const what = "names no local file (another host, an encoded / or a bad %-escape)";
    throw new InputError("INPUT_INVALID", `${text} ${what}`, { hint });
  }
  if (text.startsWith("file:")) return { kind: "file", path: text.slice(5) };
  return { kind: "value", value: text };
}

/** The local path a `file://` URI names (%-escapes decoded); undefined for another host, an encoded /, a bad escape. */
export function localPathOfFileUri(uri: string): string | undefined {
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

const SOURCE_FIELD: Readonly<Record<string, string>> = { value: "value", file: "path", env: "name", prompt: "prompt" };
/** What a secret source must be, for messages about one built wrongly in JavaScript. */
export const SECRET_SOURCE_FORMS = '{ kind: "file", path } or { kind: "env", name } with a non-empty path or name';

/**
 * A prompt's answer, or a value given directly (a flag, the SDK provider's options: kind "value" without the string),
 * as bytes its holder wipes (signer-holder.ts), rather than a `value` string kept for a daemon's life. Not in the
 * public type, and only those made here are accepted.
 */
const heldAnswers = new WeakMap<object, Secret>();
export function heldAnswer(secret: Secret, kind: "held" | "value" = "held"): SecretSource {
  const source = { kind } as unknown as SecretSource;
  heldAnswers.set(source, secret);
  return source;
}

/** A value given directly, held (heldAnswer); one that is not UTF-8 stays a string, for readSecret to refuse. */
export function heldValue(value: string): SecretSource {
  return value.includes("\uFFFD") ? { kind: "value", value } : heldAnswer(Secret.fromUtf8(value), "value");
}

/** The bytes `source` holds (heldAnswer, heldValue), which its holder wipes. */
export const heldSecret = (source: SecretSource | undefined): Secret | undefined => heldAnswers.get(source as object); // undefined for a primitive (a flag's 0, false)

/** Whether `source` (maybe from JavaScript) is of a known kind with a string field, non-empty for a path or name. */
export function isSecretSource(source: unknown): source is SecretSource {
  if (heldAnswers.has(source as object)) return true;
  if (!isPlainObject(source) || typeof source["kind"] !== "string") return false;
  const key = ownValue(SOURCE_FIELD, source["kind"]);
  const text = key && source[key];
  return typeof text === "string" && (text !== "" || key === "value" || key === "prompt");
}

/** A secret source as an option kind (own-value.ts wrongOption): the library entries that take a PIN or password. */
export const SECRET_SOURCE: Kind = [isSecretSource, SECRET_SOURCE_FORMS];

/**
 * A prompt on the terminal for a secret that was not given; with `allowed` false (SignerOptions.prompt), the error
 * a missing terminal gives, naming the `option` that gives the secret instead.
 */
export function promptFor(prompt: string, what: string, allowed: boolean | undefined, option: string): SecretSource {
  if (allowed !== false) return { kind: "prompt", prompt };
  throw new InputError("PASSWORD_REQUIRED", `${what} is needed but asking on the terminal is off`, {
    hint: `set ${option}: { kind: "file", path }, { kind: "env", name } or the value itself`,
  });
}

/** Whether a prompt can be shown: a terminal on stdin, and not under CI (promptOnTerminal refuses otherwise). */
export function terminalCanAsk(): boolean {
  return process.env["CI"] !== "true" && process.stdin.isTTY === true;
}

/** Describes the source without revealing the secret (for messages and --debug). */
export function describeSecretSource(source: SecretSource): string {
  if (source.kind === "file") return `file ${source.path}`;
  if (source.kind === "env") return `environment variable ${source.name}`;
  // Not "on the command line": a config file or the SDK provider's options give values too.
  return source.kind === "value" ? "a value given directly" : "a prompt on the terminal";
}

let beforeFirstSecret: (() => void) | undefined;

/**
 * `hook` runs once, before the first PIN or password is read: the CLI's (no inspector, no core file from then on, as
 * the daemons; long-running.ts). A library call never sets it: making the host application non-dumpable is not
 * ours to do.
 */
export function beforeFirstSecretRead(hook: () => void): void {
  beforeFirstSecret = hook;
}

/** Runs that hook: readSecret does, and so must whatever hands out a secret without it (a URI's pin-value). */
export function aboutToUseSecret(): void {
  beforeFirstSecret?.(); // throws where the secret must not be read (an open inspector): then at every read
  beforeFirstSecret = undefined;
}

/**
 * Runs that hook now if a source's secret is in this process from its start (argv, the environment): before a
 * PKCS#11 module is loaded, which may crash (a core file) before the PIN is read at C_Login.
 */
export function secretsAlreadyHeld(...sources: readonly (SecretSource | undefined)[]): void {
  if (sources.some((s) => s?.kind === "value" || s?.kind === "env")) aboutToUseSecret();
}

/** A secret file's bytes with what the warning judges (mode, owner, ACL), all from the one descriptor they were read from. */
export type SecretFileRead = InputBytes & FileFacts;

/** Always a file: `file:-` is ./-, not standard input. The reader's errors say what is wrong (too big, no writer). */
function readSecretFile({ path }: SecretSource & { kind: "file" }, what: string): Promise<SecretFileRead> {
  return readSecretInput(isFileInput(path) ? path : `./${path}`, `${what}: file`);
}

/** A secret file (a key, PIN or password) by readInputFile, with its ACL read from that descriptor (secretFileAcl). */
export async function readSecretInput(path: string, what: string): Promise<SecretFileRead> {
  let acl: FileFacts["acl"];
  const input = await readInputFile(path, what, (fd, stats) => (acl = secretFileAcl(fd, stats)));
  return Object.assign(input, { acl });
}

/**
 * Secret files one run read ahead, by path (doctor: each for its row), for the signer that run opens: within
 * {@link SecretReadAhead.lend}, the next readSecret of a file source of that path takes those bytes (once). Nothing
 * outside that call sees them: not another signer or agent of the process, not another doctor run, nor what the call
 * left running. What none took is wiped when the call settles ({@link wipe}; the run calls it on its every way out too).
 */
export class SecretReadAhead {
  readonly #reads = new Map<string, SecretFileRead>();
  #wiped = false;

  /** Reads a `file` source's file now (once per path: a second read of it is the first's). */
  async read(source: SecretSource & { kind: "file" }, what: string): Promise<SecretFileRead> {
    aboutToUseSecret();
    const known = this.#reads.get(source.path);
    if (known) return known;
    const input = await readSecretFile(source, what);
    if (this.#wiped) {
      input.bytes.fill(0); // read after the run ended: no signer of it can take it
      throw new UsageError("USAGE", `${what}: read ahead after its run ended`);
    }
    this.#reads.set(source.path, input);
    return input;
  }

  /**
   * Runs `open` (the run's signer) with these reads for its readSecret calls, and only them (AsyncLocalStorage); what it
   * did not take is wiped once it settles. The loan's context lives on in what `open` made (a timer, a socket's
   * handlers): emptied, it gives them nothing after.
   */
  async lend<T>(open: () => Promise<T>): Promise<T> {
    try {
      return await lentReads.run(this, open);
    } finally {
      this.wipe();
    }
  }

  /** The read of `path`, once: a later read (a re-open) reads the file again. */
  take(path: string): SecretFileRead | undefined {
    const input = this.#reads.get(path);
    this.#reads.delete(path);
    return input;
  }

  wipe(): void {
    this.#wiped = true;
    this.#reads.forEach((input) => input.bytes.fill(0));
    this.#reads.clear();
  }
}

// The async context of a SecretReadAhead.lend call, not a store: nothing is in it outside one.
const lentReads = new AsyncLocalStorage<SecretReadAhead>();

/**
 * Reads the secret. A file's or variable's single trailing newline (as `echo` writes) is dropped; a file other
 * users can read or change is used, with one warning line (src/os/exposed-file.ts). `signal` ends a prompt's wait.
 */
export async function readSecret(
  source: SecretSource, what: string, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal,
): Promise<Secret> {
  if (!isSecretSource(source)) throw new UsageError("USAGE", `${what}: a secret source must be ${SECRET_SOURCE_FORMS}`);
  aboutToUseSecret();
  const answer = heldAnswers.get(source);
  if (answer) return answer.clone();
  switch (source.kind) {
    case "value":
    case "env": {
      const value = source.kind === "value" ? source.value : ownValue(env, source.name);
      const named = `${what}: ${describeSecretSource(source)}`;
      if (value === undefined) throw new InputError("PASSWORD_REQUIRED", `${named} is not set`);
      // Node.js reads the environment and argv as UTF-8: other bytes are already U+FFFD, a wrong PIN for the token.
      if (value.includes("\uFFFD")) {
        throw new InputError("INPUT_INVALID", `${named} holds bytes that are not UTF-8`, {
          hint: "Node.js cannot pass them on as they are: give it in a file (file:/path), used byte for byte",
        });
      }
      // A variable filled from a file (a Kubernetes Secret made --from-file, $(cat) in a unit) may keep its newline:
      // one LF, then one CR, go, as from a file.
      return Secret.fromUtf8(source.kind === "env" ? value.replace(/\r?\n?$/, "") : value);
    }
    case "file": {
      const input = lentReads.getStore()?.take(source.path) ?? (await readSecretFile(source, what));
      warnIfExposed(input, source.path, `${what}: file`);
      const { bytes } = input;
      // A Windows editor's mark (UTF-16 is refused by the reader): presented with the secret, it makes it a wrong one
      // (a try on a token's counter).
      if (bytes.toString("hex", 0, 3) === "efbbbf") {
        bytes.fill(0);
        throw new InputError("INPUT_INVALID", `${what}: file ${source.path} starts with a UTF-8 byte-order mark; it was not used`, {
          hint: "save it as UTF-8 without one (printf '%s' SECRET > FILE)",
        });
      }
      let end = bytes.length;
      if (bytes[end - 1] === 0x0a) end--;
      if (bytes[end - 1] === 0x0d) end--;
      // Taken as read when the read has a store of its own (a large file: not one more copy), else copied out of it.
      if (ownsItsStore(bytes)) return Secret.fromBytes(bytes.subarray(0, end));
      const secret = Secret.fromBytes(secretCopy(bytes.subarray(0, end)));
      bytes.fill(0);
      return secret;
    }
    case "prompt":
      // Loaded only when prompting: it needs node:tty.
      return (await import("./terminal-prompt.js")).promptOnTerminal(source.prompt, what, signal);
  }
}
