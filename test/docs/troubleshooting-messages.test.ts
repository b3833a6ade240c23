/**
 * docs/troubleshooting.md is grepped for the message an operator sees: its first column must quote what the code
 * prints today, and its codes and exit codes must be the code's. Read as text, no parsing of TypeScript:
 * - every backquoted fragment of a first column (not AWS's or the SDK's own messages, not `(from serve …)`) is cut
 *   at its variable parts (`…`, quotes, parentheses, ` / ` alternatives, placeholder words like N or DIR, numbers);
 *   each piece of 12+ characters must occur in src/ (a `${…}` there is a gap: text on either side still counts),
 *   or be one that the code composes from parts (COMPOSED below: the parts must occur in src/);
 * - every `CODE` in a row is a code of src/errors.ts, and the `(N)` after it its exit code.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_CODES } from "../../src/cli/exit-codes.js";
import { ERROR_CODES, type ErrorCode } from "../../src/errors.js";

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
/** src/ as one text, comment lines left out: `"a" +\n "b"` joined, each `${…}` a gap that no doc piece can span. */
const SRC = files("src")
  .map((path) => readFileSync(path, "utf8"))
  .join("\n")
  .replace(/^\s*(?:\/\/|\/\*|\*).*$/gm, "") // comment lines: a message only a comment names is not printed
  .replace(/["'`]\s*\+\s*\n\s*["'`]/g, "")
  .replace(/\$\{(?:[^{}]|\{[^{}]*\})*\}/g, "\u0000"); // one level of nesting: `${a.map((f) => `--${f}`)}`

/** Pieces the code builds from parts (a `what` passed in, an example value in the doc): the parts it uses. */
const COMPOSED: Record<string, readonly string[]> = {
  "invalid trust anchor ARN": ["`invalid \u0000 '\u0000'", '"trust anchor ARN"'],
  "invalid role ARN: character": ["`invalid \u0000: character \u0000 is \u0000`", 'parseArn(text, "role ARN")'],
  "--role-session-name must be": ['"must be 2 to 64 characters from letters, digits and _+=,.@-"', "--role-session-name"],
  "d behind the endpoint": ["\u0000 \u0000 the endpoint's", "function clockSkewText"],
  "has a notAfter that is not a valid time": ["\u0000 has a \u0000 that is not a valid time (OpenSSL: '\u0000')", '"notAfter"'],
  "Bad time value": ["that is not a valid time (OpenSSL: '\u0000')"], // OpenSSL's own words, passed through
  "did you mean us-east-1 or us-east-2?": ["`'\u0000' is not an AWS region`", "regions look like us-east-1 or eu-central-1"],
  "the certificate file was given as PEM text": ["the \u0000 was given as PEM text (a \"\u0000\" block), not as the path of a file", '"certificate file"'],
  "unknown flag --certifcate for": ["unknown flag --\u0000 for '\u0000'"],
  "did you mean --certificate?": ["`did you mean \u0000?`"],
  "no certificate matches pkcs11:object=ec-kye": ["no certificate matches \u0000"],
  "nearest objects on the token: object=ec-key;id=%": ["nearest objects on the token: \u0000"],
  "PKCS#11 support is not installed: the pkcs11js native addon failed to build": ["PKCS#11 support is not installed: \u0000", '"the pkcs11js native addon failed to build'],
  "PKCS#11 support is not installed: the optional package pkcs11js was left out": ["PKCS#11 support is not installed: \u0000", '"the optional package pkcs11js was left out (npm install --omit=optional)"'],
  "PKCS#11 support is not installed: pkcs11js is installed but its install script did not run": ["PKCS#11 support is not installed: \u0000", "pkcs11js is installed but its install script did not run"],
  "PKCS#11 support is not installed: the pkcs11js native addon cannot be loaded": ["PKCS#11 support is not installed: \u0000", "the pkcs11js native addon cannot be loaded ("],
  "rejected the PIN": ["\u0000 rejected the \u0000PIN from \u0000"],
  "no TPM at /dev/tpmrm0": ["no TPM at \u0000", '"/dev/tpmrm0"'],
  "permission denied opening /dev/tpmrm0": ["permission denied opening \u0000"],
  "is a FIFO, not a TPM character device or a TPM simulator": ["the TPM device \u0000 is \u0000, not \u0000", "a TPM character device or a TPM simulator's socket", '"a FIFO"'],
  "no answer from the TPM at unix": ["no answer from the TPM at \u0000 within \u0000"],
  "the socket belongs to uid": ['"the socket"', "\u0000 belongs to uid \u0000, not to this user (\u0000) or root"],
  "who can change it: run chown": ["\u0000 belongs to another user (uid \u0000), who can change it: \u0000", "run chown \u0000"],
  "no default credentials file for root: HOME": ["no default \u0000 for root: HOME (\u0000)", '"credentials file"'],
  "s alone: directory": ["\u0000 is not root's alone: \u0000", "directory \u0000 belongs to uid"],
  "credentials is not writable: EACCES": ["\u0000 is not writable", "\u0000: \u0000"],
  "lock: EACCES": ["cannot create lock file \u0000: \u0000"],
  "it is a FIFO": ["is not a regular file (it is \u0000); it was left as it is", '"a FIFO"'],
  "was not used: directory": ["--ecs-token-dir \u0000 \u0000", "was not used: \u0000", "directory \u0000 can be written by other users"],
};

/** The quoted messages that are not this package's: AWS's refusals, the AWS CLI's and the SDK's wrappers. */
const NOT_OURS = /^(AccessDeniedException|Error when retrieving credentials|\(node\) Warning)/;
const VARIABLE = /…|\.\.\.|["'()]| \/ |\b(?:N|P|K|E|U|NAME|DIR|ADDRESS|PORT|HOST)\b|(?<![\w#-])#?\d[\d.:,-]*(?![\w-])/g;

const doc = readFileSync("docs/troubleshooting.md", "utf8");
const rows = doc.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| ---") && !line.startsWith("|---"));
const cells = (row: string) => row.split(/(?<!\\)\|/).slice(1, -1);

/** The checked pieces of a first column. */
function messagePieces(firstColumn: string): string[] {
  const fragments = [...firstColumn.matchAll(/(\(from )?`([^`]+)`/g)].filter((m) => !m[1] && !NOT_OURS.test(m[2]!));
  return fragments
    .flatMap((m) => m[2]!.split(VARIABLE))
    .map((piece) => piece.trim().replace(/^[\s,.:;]+|[\s,.:;]+$/g, ""))
    .filter((piece) => piece.length >= 12);
}

describe("docs/troubleshooting.md quotes the messages the code prints", () => {
  it("has every message piece of a first column in src/ (literally, or composed from parts that are)", () => {
    const missing: string[] = [];
    let covered = 0;
    for (const row of rows) {
      const pieces = messagePieces(cells(row)[0]!);
      if (pieces.length > 0) covered++;
      for (const piece of pieces) {
        const parts = SRC.includes(piece) ? [] : (COMPOSED[piece] ?? [piece]);
        for (const part of parts) if (!SRC.includes(part)) missing.push(`${piece}${part === piece ? "" : ` (part ${JSON.stringify(part)})`}`);
      }
    }
    expect(missing).toEqual([]);
    expect(covered).toBeGreaterThanOrEqual(60);
  });

  it("uses every COMPOSED entry (a row changed or gone takes its entry with it)", () => {
    const used = new Set(rows.flatMap((row) => messagePieces(cells(row)[0]!)));
    expect(Object.keys(COMPOSED).filter((piece) => !used.has(piece))).toEqual([]);
  });

  it("gives each category its exit code (the first table)", () => {
    const pairs: Record<string, number> = {};
    for (const m of rows.map((row) => /^\| (\d) \| (\w+) \|/.exec(row))) if (m) pairs[m[2]!] = Number(m[1]);
    const { ok: _, ...categories } = EXIT_CODES;
    expect(pairs).toEqual(categories);
  });

  it("names only codes of src/errors.ts, each with its exit code", () => {
    const wrong: string[] = [];
    let codes = 0;
    for (const row of rows.filter((r) => /^\s*`[A-Z][A-Z0-9_]{2,}`/.test(cells(r)[1] ?? ""))) { // a code (exit) column
      let pending: string[] = [];
      for (const m of cells(row)[1]!.matchAll(/`([A-Z][A-Z0-9_]{2,})`|\((\d)\)/g)) {
        if (m[1] !== undefined) {
          codes++;
          if (m[1] in ERROR_CODES) pending.push(m[1]);
          else wrong.push(`${m[1]} is not a code`);
          continue;
        }
        for (const code of pending) {
          const exit = EXIT_CODES[ERROR_CODES[code as ErrorCode]];
          if (exit !== Number(m[2])) wrong.push(`${code} exits ${exit}, not ${m[2]}`);
        }
        pending = [];
      }
    }
    expect(wrong).toEqual([]);
    expect(codes).toBeGreaterThanOrEqual(50);
  });
});
