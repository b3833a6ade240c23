/**
 * docs/troubleshooting.md, and the error tables of docs/pkcs11.md and docs/tpm.md, are grepped for the message an
 * operator sees: their message column must quote what the code prints today, and their codes and exit codes must be
 * the code's (TABLES says which rows and columns). Read as text, no parsing of TypeScript:
 * - every backquoted fragment of a message column (not AWS's or the SDK's own messages, not `(from serve …)`) is cut
 *   at its variable parts (`…`, quotes, parentheses, ` / ` alternatives, placeholder words like N or DIR, numbers);
 *   each piece of 12+ characters must occur in src/ (a `${…}` there is a gap: text on either side still counts),
 *   or be one that the code composes from parts (COMPOSED below: the parts must occur in src/);
 * - every `CODE` in a code column is a code of src/errors.ts, and the `(N)` after it its exit code.
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
  "has a notAfter that is not a valid time": ["\u0000 has a \u0000 that is not a valid time (\u0000)", '"notAfter"'],
  "has a time as the parameters of its public key algorithm, which no algorithm has": ["\u0000 has a time as the parameters of its \u0000, which no algorithm has", '"public key algorithm"'],
  "cert.pem is not DER-encoded: it has a non-minimal length": ["\u0000 is not DER-encoded: it has \u0000", '"a non-minimal length (BER, not DER)"'],
  "unable to parse private key: key.der is not DER-encoded: it has an indefinite length": ["`unable to parse private key: \u0000`", "is not DER-encoded: it has \u0000`", '"an indefinite length (BER, not DER)"'],
  "cert.pem has a malformed value in its extension": ["\u0000 has \u0000, which AWS's certificate parser refuses", '"a malformed value"', "`in its extension \u0000`"],
  "cert.pem has more than": ["\u0000 has \u0000: Go's parser reads it, but this agent stops at 10,000", '"more than 10,000 elements in one list"', "`in its extension \u0000`"],
  "cert.pem holds a key on secp256k1, which AWS": ["`\u0000 holds a key on \u0000, which AWS's certificate parser does not read`", "namedCurve"],
  "cert.pem has the extension": ["`\u0000 has the extension \u0000 twice`"],
  "could not read the names of the certificate object pkcs11": ["could not read the names of \u0000: it does not follow", "`the certificate object \u0000`"],
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
  "AWS_MAX_ATTEMPTS must be a whole number from": ["`AWS_MAX_ATTEMPTS \u0000`", "`must be a whole number from \u0000 to \u0000 (got \u0000)`"],
  "--session-duration must be a whole number from": ["`must be a whole number from \u0000 to \u0000 (got \u0000)`", '"session-duration"'],
  "rejected the PIN": ["\u0000 rejected the \u0000PIN from \u0000"],
  "no TPM at /dev/tpmrm0": ["no TPM at \u0000", '"/dev/tpmrm0"'],
  "permission denied opening /dev/tpmrm0": ["permission denied opening \u0000"],
  "can be written by anyone": ["can be written by \u0000`", '"anyone"'],
  "can be written by its group G": ["can be written by \u0000`", "`its group \u0000`"],
  "bytes, which no certificate the agent can use is": ["is larger than \u0000 bytes, which no \u0000`", '"certificate the agent can use is"'],
  "bytes, which no key the agent can use has": ["is larger than \u0000 bytes, which no \u0000`", '"key the agent can use has"'],
  "is left out: its CKA_LABEL is larger than": ["is left out: \u0000", "`its CKA_\u0000 is larger than"],
  "s key is on secp224r1, which the agent does not sign with": ["`\u0000 is on \u0000, which the agent does not sign with`", '"the certificate\'s key"', "namedCurve"],
  "the key pkcs11": ["`the key \u0000`"],
  "type=private is on secp224r1, which the agent does not sign with": ["`\u0000 is on \u0000, which the agent does not sign with`"],
  "reading the certificate object pkcs11": ["`reading the \u0000 object \u0000`", '"certificate"'],
  "reading the private key object": ["`reading the \u0000 object \u0000`", '"private key"'],
  "type=cert failed: CKR_DEVICE_ERROR": ["`\u0000 failed: \u0000`", "CKR_DEVICE_ERROR"],
  "type=cert cannot be used: its PKCS#11 module does not give its CKA_VALUE: it answers CKR_ATTRIBUTE_SENSITIVE": [
    "cannot be used: \u0000`",
    "`its PKCS#11 module does not give its CKA_\u0000: it answers \u0000`",
    "CKR_ATTRIBUTE_SENSITIVE",
  ],
  "the private key object pkcs11": ["`; the private key object \u0000 is left out"],
  "names data objects, never a certificate": ["`\u0000 names \u0000 objects, never a certificate`"],
  "warning: credentials file": ["`credentials file \u0000 was \u0000 (mode \u0000); written \u0000`"],
  "was readable by other users": ["`\u0000 by other users`"],
  "readable by group": ["`readable by \u0000`", "`group \u0000, which this process is not in`"],
  "s public key; it was not used": ["with the \u0000 public key; it was not used", `"certificate's" : "key's"`],
  "is a terminal, not a TPM character device": ["the TPM device \u0000 is \u0000, not a TPM character device", '"a terminal"'],
  "is a FIFO, not a TPM character device or a TPM simulator": ["the TPM device \u0000 is \u0000, not \u0000", "a TPM character device or a TPM simulator's socket", '"a FIFO"'],
  "no answer from the TPM at unix": ["no answer from the TPM at \u0000 within \u0000"],
  "the socket belongs to uid": ['"the socket"', "\u0000 belongs to \u0000, not to this user (\u0000) or root", "`uid \u0000"],
  "run chmod go-w": ["`\u0000 \u0000: run \u0000`", "`chmod go-w \u0000`"],
  "run setfacl -x u": ["`\u0000 \u0000: run \u0000`", "`setfacl -x \u0000 \u0000`", "`u:\u0000`"],
  "run setfacl -b": ["`\u0000 \u0000: run \u0000`", "`setfacl -b \u0000`"],
  "who can replace it: move it to a directory of your own": ["`\u0000 \u0000: \u0000`", "), who can replace it`", '"move it to a directory of your own"'],
  "who can change it: run chown": ["`\u0000 \u0000: \u0000`", "`\u0000 belongs to another user (\u0000), who can change it`", "`uid \u0000", "run chown \u0000"],
  "no default credentials file for root: HOME": ["no default \u0000 for root: HOME (\u0000)", '"credentials file"'],
  "s alone: directory": ["\u0000 is not root's alone: \u0000", "`directory \u0000`", "\u0000 belongs to \u0000, not to this user (\u0000) or root", "`uid \u0000`"],
  "credentials is not writable: EACCES": ["\u0000 is not writable", "\u0000: \u0000"],
  "lock: EACCES": ["cannot create lock file \u0000: \u0000"],
  "it is a FIFO": ["is not a regular file (it is \u0000); it was left as it is", '"a FIFO"'],
  "was not used: directory": ["--ecs-token-dir \u0000 \u0000", "was not used: \u0000", "directory \u0000 can be written by other users"],
  // docs/pkcs11.md, its Errors table
  "invalid pkcs11: URI: the path attribute object appears twice": ["`invalid pkcs11: URI: \u0000`", "`the \u0000 attribute \u0000 appears twice`", 'where === "path"'],
  "no token matches pkcs11:object=k;token=nope": ["`no token matches \u0000`", "`\u0000=\u0000`).sort().join(separator)"], // whole URI, sorted
  "C_Login on token": ["`C_Login on \u0000`", "`token \"\u0000\" (serial \u0000)`"],
  "failed: CKR_GENERAL_ERROR": ["`\u0000 failed: \u0000`", 'name === "CKR_GENERAL_ERROR"'],
  "failed: CKR_DEVICE_ERROR": ["`\u0000 failed: \u0000`", "/^(CKR_[A-Z0-9_]+)/.exec(error.message)"], // pkcs11js's name for the CKR
  "pkcs11:object=ec-key matches": ["`\u0000 matches \u0000 certificates`", "`\u0000=\u0000`).sort().join(separator)"],
  "no private key on token": ["`no private key on \u0000 matches the certificate (\u0000); keys checked:", "`token \"\u0000\" (serial \u0000)`"],
  "does not match the certificate": ["`the private key \u0000 does not match \u0000: \u0000`", "`the certificate (\u0000)`"],
  "rejected the PIN from": ["\u0000 rejected the \u0000PIN from \u0000"],
  "the user PIN of token": ["`the user PIN of \u0000 is blocked (CKF_USER_PIN_LOCKED); it was not presented`", "`token \"\u0000\" (serial \u0000)`"],
  "CKA_DECRYPT=true": ["`\u0000 (CKA_\u0000=\u0000)`", 'decrypt: { cka: "DECRYPT", wanted: false'],
  "SoftHSM hangs reading its config from a FIFO or device": ["`\u0000 hangs reading its config from a FIFO or device`", '"SoftHSM", "SOFTHSM2_CONF"'],
  "the certificate object pkcs11": ["`the certificate object \u0000`", "`pkcs11:\u0000"],
  "type=cert cannot be used: its CKA_VALUE holds PEM text, not DER": ['objectUri(context.slot, id, label, "cert")', "`\u0000 cannot be used: \u0000`", '"its CKA_VALUE"', "`\u0000 holds PEM text, not DER`"],
  "type=cert cannot be used: its CKA_VALUE is followed by": ['objectUri(context.slot, id, label, "cert")', "`\u0000 cannot be used: \u0000`", '"its CKA_VALUE"', "`\u0000 is followed by \u0000 bytes that are not part of it`"],
  // docs/tpm.md, its Errors table
  "the TPM device ./fifo is a FIFO, not a TPM character device or a TPM simulator": ["`the TPM device \u0000 is \u0000, not \u0000`", "a TPM character device or a TPM simulator's socket", '"a FIFO"'],
  "the TPM socket /dev/tpmrm0 is a character device, not a socket": ["`the TPM socket \u0000 is \u0000, not a socket`", '"a character device"'],
  "TPM key password is needed but there is no terminal to ask on": ["`\u0000 is needed but there is no terminal to ask on`", 'readSecret(prompt, "TPM key password", process.env, opts.signal)'],
  "the TPM key password from environment variable PW is empty; it was not presented to the TPM": ["`the TPM key password from \u0000 is empty; it was not presented to the TPM`", "`environment variable \u0000`"],
  "wrong password for the TPM owner hierarchy": ["`wrong password for the TPM \u0000 hierarchy \u0000`", "OWNER: 0x40000001", "?.[0].toLowerCase()"],
  "s policy: the PCR policy on PCR": ["the TPM refused the key's policy: \u0000 does not hold any more \u0000", "`the PCR policy on \u0000`", "`PCR \u0000 (\u0000)`"],
  "there is no persistent TPM object at 0x81000101": ["there is no \u0000TPM object at \u0000", '"persistent "', "`0x\u0000`"],
  "s policy uses TPM2_PolicySecret, which this agent cannot satisfy": ["`\u0000: the key's policy uses \u0000, which this agent cannot satisfy`", '0x151: "PolicySecret"', "`TPM2_\u0000`"],
  "does not belong to TPM key file": ["`the certificate (\u0000) does not belong to \u0000`", "`TPM key file \u0000`"],
  "TPM2_Sign failed: TPM_RC_": ['command("Sign"', "name: `TPM2_\u0000`", "`\u0000 failed: \u0000`", "`TPM_RC_\u0000`"],
  // trusted-path.ts's refusal in user-namespace.ts's words (unmappedSelfText, MAP_YOUR_USER: one home, round 38).
  "s: this process runs as an unmapped user in a user namespace": ["`\u0000 may be another user's: \u0000; \u0000`", "`this process runs as an unmapped user in a user namespace (uid \u0000): whose files"],
  "whose files these are cannot be told; map your user": ["whose files these are cannot be told`", '"map your user (unshare --user --map-current-user)"'],
  // A private key in a certificate file (exposed-file.ts: keyInsideWarnings, KEY_OWN_FILE), with the fix of a key file of that mode or ACL.
  "keep the private key in a file of its own, or run chmod": ['"keep the private key in a file of its own"', "`\u0000 \u0000 \u0000: \u0000, or run \u0000`", "`chmod 600 \u0000`"],
  "keep the private key in a file of its own, or run setfacl -x": ['"keep the private key in a file of its own"', "`\u0000 \u0000 \u0000: \u0000, or run \u0000`", "`setfacl -x \u0000 \u0000`"],
};

/** The quoted messages that are not this package's: AWS's refusals, the AWS CLI's and the SDK's wrappers. */
const NOT_OURS = /^(AccessDeniedException|Error when retrieving credentials|\(node\) Warning)/;
const VARIABLE = /…|\.\.\.|["'()]| \/ |\b(?:N|P|K|E|U|NAME|DIR|ADDRESS|PORT|HOST)\b|(?<![\w#-])#?\d[\d.:,-]*(?![\w-])/g;

/**
 * The tables checked: the rows of `file` (only those under the heading `section`, up to the next `## `, when given),
 * the column quoting the message and the one naming the code (first column 0), and how many rows with a message
 * piece and how many codes there are at least (a table that moved or lost its rows fails rather than checks nothing).
 */
const TABLES = [
  { file: "docs/troubleshooting.md", message: 0, code: 1, rows: 60, codes: 50 },
  { file: "docs/pkcs11.md", section: "## Errors", message: 1, code: 0, rows: 16, codes: 16 },
  { file: "docs/tpm.md", section: "## Errors", message: 1, code: 0, rows: 11, codes: 11 },
] as const satisfies readonly { file: string; section?: string; message: number; code: number; rows: number; codes: number }[];
type Table = (typeof TABLES)[number];

function tableRows(table: Table): string[] {
  let text = readFileSync(table.file, "utf8");
  if ("section" in table) {
    const start = text.indexOf(`\n${table.section}\n`);
    if (start < 0) throw new Error(`${table.file} has no heading ${table.section}`);
    text = text.slice(start + 1);
    const end = text.indexOf("\n## ", 1);
    text = end < 0 ? text : text.slice(0, end);
  }
  return text.split("\n").filter((line) => line.startsWith("| ") && !line.startsWith("| ---") && !line.startsWith("|---"));
}
const cells = (row: string) => row.split(/(?<!\\)\|/).slice(1, -1);
const rows = tableRows(TABLES[0]); // troubleshooting.md's, for its first table (categories and exit codes)

/** The checked pieces of a message column. */
function messagePieces(column: string): string[] {
  const fragments = [...column.matchAll(/(\(from )?`([^`]+)`/g)].filter((m) => !m[1] && !NOT_OURS.test(m[2]!));
  return fragments
    .flatMap((m) => m[2]!.split(VARIABLE))
    .map((piece) => piece.trim().replace(/^[\s,.:;]+|[\s,.:;]+$/g, ""))
    .filter((piece) => piece.length >= 12);
}

describe.each(TABLES)("$file quotes the messages the code prints", (table) => {
  const tableRowsHere = tableRows(table);

  it("has every message piece of its message column in src/ (literally, or composed from parts that are)", () => {
    const missing: string[] = [];
    let covered = 0;
    for (const row of tableRowsHere) {
      const pieces = messagePieces(cells(row)[table.message] ?? "");
      if (pieces.length > 0) covered++;
      for (const piece of pieces) {
        const parts = SRC.includes(piece) ? [] : (COMPOSED[piece] ?? [piece]);
        for (const part of parts) if (!SRC.includes(part)) missing.push(`${piece}${part === piece ? "" : ` (part ${JSON.stringify(part)})`}`);
      }
    }
    expect(missing).toEqual([]);
    expect(covered).toBeGreaterThanOrEqual(table.rows);
  });

  it("names only codes of src/errors.ts, each with its exit code", () => {
    const wrong: string[] = [];
    let codes = 0;
    for (const row of tableRowsHere.filter((r) => /^\s*`[A-Z][A-Z0-9_]{2,}`/.test(cells(r)[table.code] ?? ""))) { // a code (exit) column
      let pending: string[] = [];
      for (const m of cells(row)[table.code]!.matchAll(/`([A-Z][A-Z0-9_]{2,})`|\((\d)\)/g)) {
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
    expect(codes).toBeGreaterThanOrEqual(table.codes);
  });
});

describe("docs/troubleshooting.md", () => {
  it("gives each category its exit code (the first table)", () => {
    const pairs: Record<string, number> = {};
    for (const m of rows.map((row) => /^\| (\d) \| (\w+) \|/.exec(row))) if (m) pairs[m[2]!] = Number(m[1]);
    const { ok: _, ...categories } = EXIT_CODES;
    expect(pairs).toEqual(categories);
  });

  // Before: `… is cut short` (a daemon module npm was writing) was printed but had no row.
  it("names every way installationChanged (src/errors.ts) ends its message, in that message's row", () => {
    const what = /const what = (.+);\n/.exec(readFileSync("src/errors.ts", "utf8"))?.[1] ?? "";
    const endings = [...what.matchAll(/`([^`]*)`/g)].map((m) => m[1]!.replace(/\$\{[^}]*\}/g, "").replace(/[()]/g, "").trim());
    expect(endings.length).toBeGreaterThanOrEqual(3);
    const row = rows.find((r) => r.includes("the installation changed since this process started")) ?? "";
    expect(endings.filter((ending) => !cells(row)[0]!.includes(ending))).toEqual([]);
  });
});

it("uses every COMPOSED entry, in one of the TABLES (a row changed or gone takes its entry with it)", () => {
  const used = new Set(TABLES.flatMap((table) => tableRows(table).flatMap((row) => messagePieces(cells(row)[table.message] ?? ""))));
  expect(Object.keys(COMPOSED).filter((piece) => !used.has(piece))).toEqual([]);
});
