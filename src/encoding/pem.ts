import { InputError } from "../errors.js";

/** One `-----BEGIN <label>-----` … `-----END <label>-----` block. */
export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
  /** RFC 1421 headers such as `Proc-Type` (legacy OpenSSL encryption); usually empty. */
  readonly headers: Readonly<Record<string, string>>;
}

const BEGIN = "-----BEGIN ";

/** One PEM block, base64 in 64-character lines (RFC 7468). */
export function encodePem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der).toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export function looksLikePem(bytes: Buffer): boolean {
  return bytes.toString("latin1").includes(BEGIN); // not Buffer's includes: 3 more of Node's functions to compile
}

/**
 * A block as a message names it: `a PEM block labelled "X"`, or `otherwise` when the label (the file's own text)
 * is long or not printable.
 */
export function namePemBlock(label: string, otherwise: string): string {
  return /^[\x20-\x7e]{1,64}$/.test(label) ? `a PEM block labelled "${label}"` : otherwise;
}

/**
 * Every PEM block in `text`, in order. Text between blocks (comments, `openssl x509 -text` dumps) is ignored,
 * as Go's pem.Decode loop does. A block that is not terminated or whose body is not base64 is an error
 * naming `source`, rather than being silently skipped.
 */
export function decodePemBlocks(text: string, source: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let cursor = 0;
  for (;;) {
    const begin = text.indexOf(BEGIN, cursor);
    if (begin < 0) return blocks;
    const labelEnd = text.indexOf("-----", begin + BEGIN.length);
    const label = labelEnd < 0 ? "" : text.slice(begin + BEGIN.length, labelEnd);
    if (label === "" || label.includes("\r") || label.includes("\n")) {
      throw pemError(source, "a BEGIN line is malformed");
    }
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, labelEnd + 5);
    if (end < 0) throw pemError(source, `${namePemBlock(label, "a PEM block")} has no END line`);
    blocks.push(decodeBody(text.slice(labelEnd + 5, end), label, source));
    cursor = end + endMarker.length;
  }
}

/**
 * String operations where a pattern is not needed (lines, the header test): each regular expression costs a
 * compilation on every cold run, and every run reads a PEM certificate and key.
 */
function decodeBody(body: string, label: string, source: string): PemBlock {
  // A "\r" before "\n" is whitespace to every test below (trim, the header name, the base64 cleanup).
  const lines = body.split("\n");
  const headers: Record<string, string> = {};
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === "") i++;
  // RFC 1421 headers ("Name: value") come first and end at a blank line.
  if (i < lines.length && isHeaderLine(lines[i]!)) {
    for (; i < lines.length && lines[i]!.trim() !== ""; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
  }
  if ((headers["Proc-Type"] ?? "").includes("ENCRYPTED")) throw encryptedError(label, source);
  const base64 = lines.slice(i).join("").replace(/\s+/g, "");
  if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
    throw pemError(source, `${namePemBlock(label, "") ? `the ${label} block` : "a PEM block"} is not valid base64`);
  }
  return { label, der: Buffer.from(base64, "base64"), headers };
}

/** `/^[A-Za-z-]+:/.test(line)`: a name of letters and `-`, then a colon. */
function isHeaderLine(line: string): boolean {
  const colon = line.indexOf(":");
  if (colon <= 0) return false;
  for (let i = 0; i < colon; i++) {
    const c = line[i]!;
    if (!((c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || c === "-")) return false;
  }
  return true;
}

/**
 * Legacy OpenSSL PEM encryption (`Proc-Type: 4,ENCRYPTED`, `DEK-Info:`) is refused on every block, here once for
 * all readers: read as clear, its body was garbage. On a key (openssl decrypts it under any key label) as the Go
 * helper refuses it; a certificate or a TPM key file is never encrypted this way.
 */
function encryptedError(label: string, source: string): InputError {
  if (label.endsWith("PRIVATE KEY") && label !== "TSS2 PRIVATE KEY") {
    const message = `${source} uses legacy OpenSSL PEM encryption, which is not supported`;
    return new InputError("PRIVATE_KEY_UNSUPPORTED", message, {
      hint: "convert it to encrypted PKCS#8: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in OLD -out NEW`",
    });
  }
  const what = label === "CERTIFICATE" ? "certificates are never encrypted" : "this block is never encrypted";
  const message = `${source}: ${namePemBlock(label, "a PEM block")} is encrypted (Proc-Type: 4,ENCRYPTED)`;
  return new InputError("PEM_INVALID", `${message}, which is not supported`, {
    hint: `${what}: export it again without encryption`,
  });
}

function pemError(source: string, what: string): InputError {
  return new InputError("PEM_INVALID", `could not parse PEM data in ${source}: ${what}`, {
    hint: "the file may be truncated or edited; export it again",
  });
}
