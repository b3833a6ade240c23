/**
 * Every failure the agent reports is an {@link AgentError}: a stable `code`, a one-line message (never a secret)
 * and an optional hint that says what to do. The CLI maps the code's category to an exit code (cli/exit-codes.ts).
 */

/** Broad classes of failure; each has one documented exit code. */
export type ErrorCategory =
  | "usage" // bad command line or option combination
  | "input" // a file, certificate, key, ARN or config that cannot be used
  | "auth" // wrong PIN / password / TPM authorisation (never retried)
  | "device" // PKCS#11 module, token or TPM unavailable or failing
  | "service" // the CreateSession endpoint rejected the request (4xx)
  | "network" // endpoint unreachable, timed out, or kept failing (5xx/429) after retries
  | "internal"; // a bug: please report

/**
 * Every code and its category. A null prototype makes V8 build this table as a dictionary: as a plain literal its
 * 62 named properties cost ~0.4 M instructions of hidden-class transitions at every start (every bundle runs this
 * module's top level), and `code in ERROR_CODES` now sees the codes only, not Object.prototype's names.
 */
const CATEGORY_OF_CODE = {
  __proto__: null,
  USAGE: "usage",
  UNSUPPORTED_ON_PLATFORM: "usage",
  LISTEN_FAILED: "usage",
  FILE_NOT_FOUND: "input",
  PEM_TEXT_NOT_PATH: "input",
  FILE_UNREADABLE: "input",
  FILE_NOT_REGULAR: "input",
  INPUT_MISSING: "input",
  INPUT_INVALID: "input",
  PEM_INVALID: "input",
  CERTIFICATE_INVALID: "input",
  CERTIFICATE_MISSING: "input",
  CERTIFICATE_EXPIRED: "input",
  CERTIFICATE_NOT_YET_VALID: "input",
  PRIVATE_KEY_INVALID: "input",
  PRIVATE_KEY_UNSUPPORTED: "input",
  KEY_CERTIFICATE_MISMATCH: "input",
  CHAIN_INVALID: "input",
  PKCS12_INVALID: "input",
  PASSWORD_REQUIRED: "input",
  ARN_INVALID: "input",
  REGION_MISMATCH: "input",
  REGION_UNKNOWN: "input",
  ENDPOINT_INVALID: "input",
  CONFIG_INVALID: "input",
  PKCS11_URI_INVALID: "input",
  PKCS11_OBJECT_NOT_FOUND: "input",
  PKCS11_AMBIGUOUS: "input",
  TPM_KEY_INVALID: "input",
  TPM_DEVICE_INVALID: "input",
  CONFIG_NOT_FOUND: "input",
  CONFIG_PROFILE_NOT_FOUND: "input",
  SOCKET_UNSAFE: "input",
  FILE_UNSAFE: "input",
  FILE_LOCKED: "input",
  FILE_WRITE_FAILED: "input",
  PUBLIC_KEY_MISMATCH: "input",
  OBJECT_EXISTS: "input",
  PASSWORD_INCORRECT: "auth",
  PIN_INCORRECT: "auth",
  PIN_LOCKED: "auth",
  TPM_AUTH_FAILED: "auth",
  TPM_LOCKOUT: "auth",
  TPM_POLICY_FAILED: "auth",
  PKCS11_MODULE_NOT_FOUND: "device",
  PKCS11_TOKEN_NOT_FOUND: "device",
  PKCS11_ERROR: "device",
  PKCS11_NOT_INSTALLED: "device",
  PKCS11_KEY_CANNOT_SIGN: "device",
  TPM_UNAVAILABLE: "device",
  TPM_ERROR: "device",
  ACCESS_DENIED: "service",
  VALIDATION_FAILED: "service",
  RESOURCE_NOT_FOUND: "service",
  SERVICE_ERROR: "service",
  NETWORK_ERROR: "network",
  TIMEOUT: "network",
  SERVICE_UNAVAILABLE: "network",
  THROTTLED: "network",
  RESPONSE_INVALID: "network",
  CREDENTIALS_EXPIRED: "network",
  AGENT_UNAVAILABLE: "network",
  INTERNAL: "internal",
} as const;

export type ErrorCode = Exclude<keyof typeof CATEGORY_OF_CODE, "__proto__">;
export const ERROR_CODES: { readonly [C in ErrorCode]: (typeof CATEGORY_OF_CODE)[C] } = CATEGORY_OF_CODE;
ERROR_CODES satisfies Record<ErrorCode, ErrorCategory>;

export interface AgentErrorOptions {
  /** What to do about it, shown after the message. */
  hint?: string;
  cause?: unknown;
}

export class AgentError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: AgentErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }

  get category(): ErrorCategory {
    return ERROR_CODES[this.code];
  }

  /**
   * The single line printed to stderr: message, then the hint when there is one, each cut at
   * {@link MAX_ERROR_TEXT} (what a token, file or peer wrote into it may be megabytes long: a 1 MiB CKA_LABEL).
   */
  toOneLine(): string {
    const message = boundedLine(this.message, MAX_ERROR_TEXT);
    return this.hint ? `${message} (${boundedLine(this.hint, MAX_ERROR_TEXT)})` : message;
  }
}

/**
 * What no line may carry raw: C0/C1 controls, line and paragraph separators, format characters (bidi, zero-width,
 * tags), the rest of Unicode's Default_Ignorable_Code_Point (soft hyphen, variation selectors, Hangul fillers: drawn
 * as nothing), lone surrogates (written as U+FFFD), and the spaces other than U+0020 (drawn as one): each would make
 * a name look like another one (`dev\u00adice` as `device`). Variation selectors too, U+FE0F after an emoji: after
 * one drawn as an emoji already (🔑) it changes nothing on screen, so two labels would look the same. Unassigned code
 * points (noncharacters too) and private-use characters: a terminal draws them as nothing, a box or whatever glyph its
 * font has there (Powerline and Nerd fonts: icons), so `dev\ue000ice` could look like `device` (one assigned after
 * this Node's Unicode, a newer emoji, is escaped too: the terminal of that machine would not draw it either).
 */
const UNPRINTABLE = String.raw`[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Cn}\p{Co}\p{Default_Ignorable_Code_Point}\u00a0\u1680\u2000-\u200a\u202f\u205f\u2800\u3000]`;
// Tried only where white space starts (the lookbehind): from each space of a run, a run not followed by one of them
// was read to its end again, a Host header of 16,000 spaces cost 0.6 s of serve's time.
const UNPRINTABLE_RUNS = compiledOnUse(String.raw`(?<!\s)\s*(?:${UNPRINTABLE}\s*)+`, "gu");
const UNPRINTABLE_EACH = compiledOnUse(UNPRINTABLE, "gu");
const UNPRINTABLE_ONE = compiledOnUse(UNPRINTABLE, "u");

/**
 * A regular expression made at its first use: V8 builds a Unicode property class's ranges when it parses the pattern,
 * and these three cost every start +7.3 M instructions (+2.9 % of a cold sign-string) made at load time.
 */
function compiledOnUse(source: string, flags: string): () => RegExp {
  let made: RegExp | undefined;
  return () => (made ??= new RegExp(source, flags));
}

/**
 * Text of characters none of which is in the class: printable ASCII, Latin-1's letters and signs from U+00B7, and the
 * punctuation, arrows and symbols our own texts use (…, —, →, ✔, ✘; not U+2800, nor the unassigned U+242A-243F,
 * U+244B-245F, U+2B74-2B75, nor U+2427-2429 and U+2B96, unassigned before Unicode 16 and 17: an older Node's tables).
 * Such text, most text (every cold credential-process formats some), is answered without making the class, whose
 * making cost that start +7 M instructions (cachegrind, 188 M → 195 M). test/errors/invisible-characters.test.ts
 * checks that no character of these ranges is in the class.
 */
export const PLAIN = /^[\x20-\x7e\u00b7-\u00ff\u2010-\u2027\u2030-\u205e\u2190-\u2426\u2440-\u244a\u2460-\u27ff\u2801-\u2b73\u2b76-\u2b95\u2b97-\u2bff]*$/;

/**
 * `text` on one printable line: each run of C0/C1 controls (line breaks, terminal escapes), line separators, bidi and
 * invisible characters (the class above), with the white space around it, becomes one space. Text from argv, the
 * environment, files or the network can then never move the cursor, retitle the terminal or hide what follows.
 */
export function printableLine(text: string): string {
  return PLAIN.test(text) ? text : text.replace(UNPRINTABLE_RUNS(), " ");
}

/**
 * `path` as one word of a POSIX shell command in a hint, which an operator may paste into a root shell: a path another
 * user named (`/tmp/x; touch y`, `$(…)`) stays one argument. Plain when nothing in it is special (today's hints
 * unchanged); else single-quoted, `'\''` for a quote; one holding a character printableLine would turn into a space
 * (a newline) as `"$(printf '…')"` with it escaped (see {@link quotedWord}), so the printed word still names that path.
 * One starting with `-` as `./-…`: chmod, chown, chgrp, setfacl, getfacl, ls and mkdir would read it as options. One
 * whose word is longer than {@link MAX_SHELL_WORD} as {@link PATH_TOO_LONG}: the hint it is in is then never cut (at
 * {@link MAX_ERROR_TEXT}) inside an open quote, which would make the pasted line wait for more and take what is typed next.
 */
export function shellWord(path: string): string {
  const word = quotedWord(path.startsWith("-") ? `./${path}` : path);
  return word.length > MAX_SHELL_WORD ? PATH_TOO_LONG : word;
}

/**
 * Any text (a token's label) as one shell word that runs nothing when pasted; a path goes through {@link shellWord}.
 * Text holding a character of the class is `"$(printf '…')"` with that character's UTF-8 bytes as octal escapes, as
 * are `\`, `'` and a leading `-` (an option to printf); `%` is `%%`. Every POSIX shell (dash, Debian's sh, too) in
 * any locale gives those bytes back; `$'…'` was bash's, zsh's and ksh's only: dash read `$'dev\xc2\xadice'` as the
 * name `$dev\xc2\xadice`. A command substitution drops trailing newlines, and a NUL (bash, dash: `a\000b` is `ab`, ksh93:
 * `a`): text ending in a newline or holding a NUL is {@link UNQUOTABLE}.
 */
export function quotedWord(text: string): string {
  if (/^[\w@%+:,./-]+$/.test(text)) return text; // not `=`: zsh reads a leading one as a command's path
  if (PLAIN.test(text) || !UNPRINTABLE_ONE().test(text)) return `'${text.replace(/'/g, "'\\''")}'`;
  if (text.endsWith("\n") || text.includes("\0")) return UNQUOTABLE;
  const octal = (c: string) => Buffer.from(c).reduce((escaped, byte) => `${escaped}\\${byte.toString(8).padStart(3, "0")}`, "");
  return `"$(printf '${escapeUnprintable(text.replace(/^-|[\\'%]/g, (c) => (c === "%" ? "%%" : octal(c))), octal)}')"`;
}

/**
 * The longest path word {@link shellWord} puts into a command: two of them (`chown 0 P && chmod 600 P`) and our longest
 * hint's own words stay under {@link MAX_ERROR_TEXT}. A path may be 4,095 bytes (PATH_MAX).
 */
export const MAX_SHELL_WORD = 800;

/**
 * What {@link shellWord} writes for a longer path: no word but a syntax error (its `>` takes no file), so the shell
 * refuses the command it is pasted in. Quoted, it was a name: `mkdir -p -m 700 '<…>'` made a directory of it.
 */
export const PATH_TOO_LONG = "<path too long to quote here>";

/**
 * What {@link quotedWord} writes for text ending in a newline or holding a NUL, which no one-line word gives back in
 * every shell: a syntax error like {@link PATH_TOO_LONG}, never the name without them.
 */
export const UNQUOTABLE = "<name no one-line shell word holds: not quoted here>";

/** How a message names a character it must not quote: `U+000A`. */
export function codePointName(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The longest message or hint an error line carries; the longest of our own texts is under 600 characters. */
export const MAX_ERROR_TEXT = 2_000;

/** The longest log or --debug line: an error's message and hint ({@link MAX_ERROR_TEXT} each) and what it is about. */
export const MAX_LOG_LINE = 3 * MAX_ERROR_TEXT;

/** `text` cut after `max` characters with …: what a peer, file or token wrote into it may be megabytes long. */
export function cutAt(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\ud800-\udbff]/.test(text.charAt(max - 1)) ? max - 1 : max; // not half a character (U+FFFD)
  return `${text.slice(0, end)}…`;
}

/** {@link printableLine}, trimmed, and cut after `max` characters with … (a value from outside, quoted briefly). */
export function boundedLine(text: string, max: number): string {
  return cutAt(printableLine(text).trim(), max);
}

/** Each character {@link printableLine} drops, written by `escape` instead (kept visible, e.g. as `\u001b`). */
export function escapeUnprintable(text: string, escape: (c: string) => string): string {
  return PLAIN.test(text) ? text : text.replace(UNPRINTABLE_EACH(), escape);
}

/** Text quoted in a message, log line or listing with those characters as `\u001b` (`\u{e0041}` past U+FFFF): it forges no line, hides nothing. */
export function escapeControls(text: string): string {
  return escapeUnprintable(text, (c) => (c.length === 1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

/**
 * A label (a token's, an object's) as written between a message's, log line's or listing's double quotes: `\` and `"`
 * as `\\` and `\"`, and what {@link escapeControls} escapes as it does. A label typed `dev\u00adice` then never reads
 * like `dev<U+00AD>ice` (`dev\\u00adice` and `dev\u00adice`), nor a `"` ends the quote early. Whole --debug lines keep
 * escapeControls alone: the backslashes of their JSON stay readable.
 */
export function escapeQuoted(text: string): string {
  return escapeControls(text.replace(/[\\"]/g, (c) => `\\${c}`));
}

export class UsageError extends AgentError {}
export class InputError extends AgentError {}
export class AuthError extends AgentError {}
export class DeviceError extends AgentError {}
export class NetworkError extends AgentError {}

/** An error answered by the CreateSession endpoint (or our local endpoint). */
export class ServiceError extends AgentError {
  readonly status: number;
  readonly serviceCode: string;
  readonly requestId: string | undefined;
  /** How long the endpoint asked us to wait before trying again (`Retry-After` on 429/5xx). */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    details: { status: number; serviceCode: string; requestId?: string | undefined; retryAfterMs?: number | undefined },
    options: AgentErrorOptions = {},
  ) {
    super(code, message, options);
    this.status = details.status;
    this.serviceCode = details.serviceCode;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isAgentError(e: unknown): e is AgentError {
  return e instanceof AgentError;
}

/**
 * A module of the program's own that it loads late (dist/daemon/*.mjs: a daemon's command when the launcher has
 * started, a PKCS#11 key added on SIGHUP; yargs for --help) and does not find: the package was upgraded or removed
 * under the process (npm replaces its directory, and the new build's files have other names), or is still being
 * installed. Only a restart helps; undefined for any other error (pkcs11js, optional, has its own: addon-status.ts).
 */
export function installationChanged(cause: unknown): InputError | undefined {
  const { code, message = "" } = (cause ?? {}) as { code?: unknown; message?: string };
  const notFound = code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
  const gone = notFound ? /^Cannot find (?:module|package) '([^'\n]+)'/.exec(message) : null;
  // Node keeps a module that did not compile (cut short: npm writes it now) as failed until the process ends.
  const cut = cause instanceof SyntaxError && /\(node:internal\/modules\//.test(cause.stack ?? "");
  // One cut where a statement ends compiles, but lacks the export the build ends each module with (build.mjs).
  const end = cause instanceof SyntaxError ? /^The requested module '([^'\n]+)' does not provide an export named '__raaEnd'/.exec(message) : null;
  if (!gone && !cut && !end) return undefined;
  const what = gone ? `${gone[1]} is missing` : end ? `${end[1]} is cut short` : `a module does not compile (${message})`;
  const text = `the installation changed since this process started, or is incomplete: ${what}`;
  return new InputError("FILE_NOT_FOUND", text, { cause, hint: "restart it once installed; reinstall if it repeats" });
}
