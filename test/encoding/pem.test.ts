/** PEM reading and writing, boundary by boundary (found by mutation testing: these lines had no unit test). */
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { decodePemBlocks, encodePem, indexOfText, looksLikePem, namePemBlock, pemBuffer } from "../../src/encoding/pem.js";

const block = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const encrypted = "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA";

describe("encodePem", () => {
  it("writes 64-character lines, and an empty body as an empty line", () => {
    const pem = encodePem("X", Buffer.alloc(49));
    expect(pem).toBe(`-----BEGIN X-----\n${"A".repeat(64)}\nAA==\n-----END X-----\n`);
    expect(encodePem("X", Buffer.alloc(0))).toBe("-----BEGIN X-----\n\n-----END X-----\n");
    expect(decodePemBlocks(pem, "x")[0]!.der).toEqual(Buffer.alloc(49));
  });

  it("pemBuffer (encodePem's writer: a key's PEM in a Buffer, to be wiped) writes Node's base64 in 64-character lines", () => {
    // Padding and line breaks at every length: the PEM handed to TLS (serve, the local endpoint) is read by OpenSSL.
    for (let n = 0; n < 200; n++) {
      const der = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 255));
      const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
      expect(pemBuffer("PRIVATE KEY", der).toString("latin1")).toBe(`-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----\n`);
    }
  });
});

describe("looksLikePem and namePemBlock", () => {
  it("looksLikePem looks for a BEGIN marker anywhere", () => {
    expect(looksLikePem(Buffer.from("junk\n-----BEGIN X-----"))).toBe(true);
    expect(looksLikePem(Buffer.from("-----END X-----"))).toBe(false);
  });

  it("indexOfText finds latin1 text in bytes as Buffer's indexOf does", () => {
    const bytes = Buffer.from("-----BEG-----BEGIN \xe9-----BEGIN ", "latin1");
    for (const [text, from] of [["-----BEGIN ", 0], ["-----BEGIN ", 14], ["-----BEGIN ", 15], ["\xe9-----", 0], ["N ", 30], ["N  ", 30], ["-", 99], ["x", 0]] as const) {
      expect(indexOfText(bytes, text, from)).toBe(bytes.indexOf(text, from, "latin1"));
    }
    expect(indexOfText(bytes, "-----BEGIN ", 14)).toBe(20);
  });

  it("namePemBlock quotes a printable label of 1 to 64 characters, else says `otherwise`", () => {
    expect(namePemBlock("A".repeat(64), "o")).toBe(`a PEM block labelled "${"A".repeat(64)}"`);
    expect(namePemBlock("A".repeat(65), "o")).toBe("o");
    expect(namePemBlock("A\u0007", "o")).toBe("o");
    expect(namePemBlock("", "o")).toBe("o");
  });
});

describe("decodePemBlocks", () => {
  it("reads every block in order, skipping the text around them; none in plain text", () => {
    const text = `intro\n${block("A", "AQ==")}between\n${block("B", "Ag==")}outro`;
    expect(decodePemBlocks(text, "x").map((b) => [b.label, b.der[0]])).toEqual([["A", 1], ["B", 2]]);
    expect(decodePemBlocks("no blocks here", "x")).toEqual([]);
  });

  it("reads CRLF files and a body after blank lines", () => {
    const [read] = decodePemBlocks(block("A", "\r\n\r\nAQ==\r").replaceAll("\n", "\r\n"), "x");
    expect(read!.der).toEqual(Buffer.from([1]));
    const [withHeaders] = decodePemBlocks(block("A", "Zz-a: 1\n Y : 2\n\nAQ==").replaceAll("\n", "\r\n"), "x");
    expect(withHeaders).toMatchObject({ headers: { "Zz-a": "1", Y: "2" }, der: Buffer.from([1]) });
  });

  it.each([
    ["a BEGIN line without its dashes", "-----BEGIN X\nAAAA\n", "a BEGIN line is malformed"],
    ["a BEGIN line that ends the text", "-----BEGIN XYZ", "a BEGIN line is malformed"],
    ["an empty label", "-----BEGIN -----\nAAAA\n-----END -----\n", "a BEGIN line is malformed"],
    ["a label across lines", "-----BEGIN X\nY-----\nAAAA\n-----END X\nY-----\n", "a BEGIN line is malformed"],
    ["a label with a CR", "-----BEGIN X\rY-----\nAAAA\n-----END X\rY-----\n", "a BEGIN line is malformed"],
    ["no END line", "-----BEGIN X-----\nAAAA\n", 'a PEM block labelled "X" has no END line'],
    ["the END of another label", "-----BEGIN X-----\nAAAA\n-----END Y-----\n", 'labelled "X" has no END line'],
    ["base64 of a length not a multiple of 4", block("X", "AAA"), "the X block is not valid base64"],
    ["three padding characters", block("X", "A==="), "the X block is not valid base64"],
    ["padding in the middle", block("X", "AA==AAAA"), "the X block is not valid base64"],
  ])("refuses %s, naming the source", (_, text, what) => {
    expect(() => decodePemBlocks(text, "f.pem")).toThrow(
      expect.objectContaining({ code: "PEM_INVALID", message: expect.stringContaining(what) }),
    );
    expect(() => decodePemBlocks(text, "f.pem")).toThrow(/^could not parse PEM data in f\.pem: /);
  });

  // namePemBlock's rule, as every other message naming a block follows it: the label is the file's own text.
  it.each([["\u001b[2J\u009bX"], ["X".repeat(65)]])("a %j block that is not base64: its label is not quoted", (label) => {
    expect(() => decodePemBlocks(block(label, "!!!!"), "f.pem")).toThrow(expect.objectContaining({
      code: "PEM_INVALID", message: "could not parse PEM data in f.pem: a PEM block is not valid base64",
    }));
  });

  it("reads RFC 1421 headers up to the blank line; a line that is not one is the body", () => {
    const [withHeaders] = decodePemBlocks(block("X", "Proc-Type: 4,CLEAR\nA-b: c:d\n\nAQ=="), "x");
    expect(withHeaders!.headers).toEqual({ "Proc-Type": "4,CLEAR", "A-b": "c:d" });
    expect(withHeaders!.der).toEqual(Buffer.from([1]));
    const [skipped] = decodePemBlocks(block("X", "A: b\n:c\n\nAQ=="), "x");
    expect(skipped!.headers).toEqual({ A: "b" });
    for (const body of [":x\nAQ==", "A1: x\nAQ=="]) {
      expect(() => decodePemBlocks(block("X", body), "x")).toThrow(/not valid base64/);
    }
    expect(decodePemBlocks(block("X", "AQ=="), "x")[0]!.headers).toEqual({});
    expect(() => decodePemBlocks(block("X", "A1: x\n\nAQ=="), "x")).toThrow(/not valid base64/);
  });

  it("refuses legacy encryption: a private key's own error, another block's", () => {
    const key = () => decodePemBlocks(block("EC PRIVATE KEY", encrypted), "k.pem");
    expect(key).toThrow(expect.objectContaining({
      code: "PRIVATE_KEY_UNSUPPORTED", message: "k.pem uses legacy OpenSSL PEM encryption, which is not supported",
      hint: expect.stringContaining("openssl pkcs8 -topk8"),
    }));
    const other = () => decodePemBlocks(block("X509 CRL", encrypted), "c.pem");
    expect(other).toThrow(expect.objectContaining({
      code: "PEM_INVALID",
      message: 'c.pem: a PEM block labelled "X509 CRL" is encrypted (Proc-Type: 4,ENCRYPTED), which is not supported',
      hint: "this block is never encrypted: export it again without encryption",
    }));
    const certificate = () => decodePemBlocks(block("CERTIFICATE", encrypted), "c.pem");
    expect(certificate).toThrow(expect.objectContaining({
      hint: "certificates are never encrypted: export it again without encryption",
    }));
    const tss2 = () => decodePemBlocks(block("TSS2 PRIVATE KEY", encrypted), "t.pem");
    expect(tss2).toThrow(expect.objectContaining({ code: "PEM_INVALID" }));
  });
});

/**
 * The string decoder this file had before the bytes one (round 27): the reference for every check and message. It
 * made JavaScript strings of the whole file, the key's base64 included, which cannot be wiped.
 */
function stringDecoder(text: string, source: string): { label: string; der: Buffer; headers: Record<string, string> }[] | string {
  const out = [];
  let cursor = 0;
  for (;;) {
    const begin = text.indexOf("-----BEGIN ", cursor);
    if (begin < 0) return out;
    const labelEnd = text.indexOf("-----", begin + 11);
    const label = labelEnd < 0 ? "" : text.slice(begin + 11, labelEnd);
    if (label === "" || label.includes("\r") || label.includes("\n")) return "malformed";
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, labelEnd + 5);
    if (end < 0) return "no END";
    const lines = text.slice(labelEnd + 5, end).split("\n");
    const headers: Record<string, string> = {};
    let i = 0;
    while (i < lines.length && lines[i]!.trim() === "") i++;
    if (i < lines.length && /^[A-Za-z-]+:/.test(lines[i]!)) {
      for (; i < lines.length && lines[i]!.trim() !== ""; i++) {
        const colon = lines[i]!.indexOf(":");
        if (colon > 0) headers[lines[i]!.slice(0, colon).trim()] = lines[i]!.slice(colon + 1).trim();
      }
    }
    if ((headers["Proc-Type"] ?? "").includes("ENCRYPTED")) return "encrypted";
    const base64 = lines.slice(i).join("").replace(/\s+/g, "");
    if (base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return `not valid base64 (${source})`;
    out.push({ label, der: Buffer.from(base64, "base64"), headers });
    cursor = end + endMarker.length;
  }
}

const outcome = (bytes: Buffer) => {
  try {
    return decodePemBlocks(bytes, "f").map((b) => ({ ...b, der: Buffer.from(b.der) }));
  } catch (e) {
    const m = (e as Error).message;
    return m.includes("malformed") ? "malformed" : m.includes("no END") ? "no END" : m.includes("encrypt") ? "encrypted" : m.includes("not valid base64") ? "not valid base64 (f)" : m;
  }
};

describe("decodePemBlocks reads bytes as the string decoder read their latin1 text", () => {
  it("the same blocks, headers and refusals for any body (fast-check)", () => {
    // Bytes that matter: base64 digits, `=`, every whitespace of JavaScript's \s in latin1 (and 0x85, 0xa1, which are
    // not), `:`, `-`, CR, letters for header names, bytes over 0x7f.
    const piece = fc.constantFrom("A", "b", "z", "0", "9", "+", "/", "=", "==", " ", "\t", "\n", "\r\n", "\v", "\f", "\u00a0",
      "\u0085", "\u00a1", ":", "-", "Proc-Type: 4,ENCRYPTED", "Comment: x", "QUJD", "*", "\u00ff");
    const body = fc.array(piece, { maxLength: 40 }).map((p) => p.join(""));
    const text = fc.tuple(body, body, fc.constantFrom("X", "PRIVATE KEY", "A B")).map(([a, b, label]) =>
      `junk\n-----BEGIN ${label}-----${a}-----END ${label}-----\n-----BEGIN C-----\n${b}\n-----END C-----\n`);
    fc.assert(fc.property(text, (t) => {
      const bytes = Buffer.from(t, "latin1");
      expect(outcome(bytes)).toEqual(stringDecoder(t, "f"));
    }), { numRuns: 3000 });
  });

  it("decodes each padding and a body split over lines as Node's base64 does", () => {
    for (const n of [0, 1, 2, 3, 4, 47, 48, 49, 50]) {
      const der = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff));
      expect(decodePemBlocks(Buffer.from(encodePem("K", der).replace(/\n/g, "\r\n")), "k")[0]!.der).toEqual(der);
    }
  });
});

describe("decodePemBlocks on blocks that share one line", () => {
  it("looks for each body line's end within its block only (the file's next \"\\n\", blocks away, was searched for each: 1.4 MB took 13 s)", () => {
    const n = 2_000;
    const text = `${"-----BEGIN A-----QUFB-----END A-----".repeat(n)}\n`;
    let scanned = 0; // bytes Uint8Array#indexOf looked at, in every search
    const indexOf = Uint8Array.prototype.indexOf;
    const spy = vi.spyOn(Uint8Array.prototype, "indexOf").mockImplementation(function (this: Uint8Array, byte: number, from = 0) {
      const at = indexOf.call(this, byte, from);
      scanned += (at < 0 ? this.length : at + 1) - from;
      return at;
    });
    try {
      const blocks = decodePemBlocks(Buffer.from(text, "latin1"), "bundle.pem");
      expect(blocks.map((b) => b.der.toString())).toEqual(Array(n).fill("AAA"));
    } finally {
      spy.mockRestore();
    }
    expect(scanned).toBeLessThan(4 * text.length);
  });
});
