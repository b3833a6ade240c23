/**
 * parseConfig's one-pass scan (round 43, C1) against the regexp scans it replaced (d1e0ae65, copied below as the
 * oracle): on generated JSON texts — keys and strings with escaped quotes, `\\`, `\\\"`, brackets, commas and
 * digits inside, `\u` escapes, numbers JSON rounds, BOM, CRLF, cut-off texts, nesting around 64 — the same number
 * refused, the same key given twice, on the same lines. Seeded: the same cases every run.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";
import { boundedLine } from "../../src/errors.js";
import { fractionLost } from "../../src/own-value.js";

const shown = (value: unknown): string => boundedLine(typeof value === "number" ? String(value) : JSON.stringify(value), 57);

/** The regexp version's checks of a valid JSON text (d1e0ae65: the number JSON rounds first, then a key twice). */
function oldScan(json: string): string | undefined {
  for (const token of json.matchAll(/"(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*/g)) {
    if (token[0][0] !== '"' && fractionLost(token[0])) {
      return `line ${json.slice(0, token.index).split("\n").length}: ${boundedLine(token[0], 57)} is not a whole number (JSON reads it as ${Number(token[0])})`;
    }
  }
  const frames: { keys: Map<string, number>; name: string; object: boolean; key: boolean }[] = [];
  let [line, last] = [1, ""];
  for (const [token] of json.matchAll(/"(?:[^"\\]|\\.)*"|[{}[\],\n]/g)) {
    const frame = frames.at(-1);
    if (token === "\n") line++;
    else if (token === "{" || token === "[") frames.push({ keys: new Map(), name: last, object: token === "{", key: token === "{" });
    else if (token === "}" || token === "]") frames.pop();
    else if (token === "," && frame) frame.key = frame.object;
    else if (frame?.key) {
      last = JSON.parse(token) as string;
      const first = frame.keys.get(last);
      if (first !== undefined) return `${frames.slice(1).map((f) => shown(f.name)).join(" → ") || "top level"}: key ${shown(last)} appears twice (line ${first} and line ${line})`;
      frame.keys.set(last, line);
      frame.key = false;
    }
  }
  return undefined;
}

function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

// Bodies of JSON strings as written in the file: several read as the same key ("a", "\u0061"; "\\" and "\u005c").
const KEYS = [String.raw`a`, String.raw`\u0061`, String.raw`b`, String.raw`\\`, String.raw`\u005c`, String.raw`\"`, String.raw`\\\"`, String.raw`[{`, String.raw`a\\`, String.raw`1.5`, String.raw`}]`, String.raw`,`];
const PIECES = [...KEYS, "x", " ", "[", "]", "{", "}", ":", String.raw`\n`, String.raw`\/`, "0.5", "-1", String.raw`\\\\`, "\u00e9"];
const NUMBERS = ["0", "-0", "7", "12", "1.0", "1.5", "-2.50", "899.99999999999999", "1e400", "1E2", "0.1e1", "1e-7", "-1.00000000000000001", "9007199254740993", "3.0e0", "25e-1", "1.25E+1", "8.9999999999999999E+2", "1.00000000000000001e0", "-9.99999999999999999e+1"];

function generate(next: () => number): { text: string; depth: number } {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const space = () => (next() < 0.5 ? "" : pick([" ", "\n", "\r\n", "\t", "\n\n"]));
  const string = (pool: readonly string[]) => `"${Array.from({ length: Math.floor(next() * 4) }, () => pick(pool)).join("")}"`;
  const value = (depth: number, max: number): { text: string; depth: number } => {
    const r = next();
    if (depth >= max || r < 0.3) return { text: r < 0.15 ? pick(NUMBERS) : r < 0.27 ? string(PIECES) : pick(["true", "null"]), depth };
    const object = r < 0.7;
    const items = Array.from({ length: Math.floor(next() * 4) }, () => {
      const inner = value(depth + 1, max);
      return { text: object ? `${space()}"${pick(KEYS)}"${space()}:${space()}${inner.text}${space()}` : `${space()}${inner.text}${space()}`, depth: inner.depth };
    });
    const text = object ? `{${items.map((i) => i.text).join(",")}}` : `[${items.map((i) => i.text).join(",")}]`;
    return { text, depth: Math.max(depth + 1, ...items.map((i) => i.depth)) };
  };
  // Now and then a chain nested near 64 deep, its strings holding brackets, inside the generated object.
  const deep = next() < 0.1 ? 60 + Math.floor(next() * 8) : 0;
  let { text, depth } = value(0, 5);
  if (deep) {
    const open = Array.from({ length: deep }, () => (next() < 0.5 ? `[${string(PIECES)},` : `{"${pick(KEYS)}":`));
    text = `{"deep": ${open.join("")}${text}${open.reverse().map((o) => (o[0] === "[" ? "]" : "}")).join("")}, "${pick(KEYS)}": 1}`;
    depth = Math.max(depth, 0) + deep + 1;
  }
  return { text: `${next() < 0.1 ? "\uFEFF" : ""}${space()}${text}${space()}`, depth };
}

function message(text: string): string | undefined {
  try {
    parseConfig(text, "/c.json");
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

describe("parseConfig's scan agrees with the regexp scans it replaced", () => {
  it("on 4,000 generated texts, 1 in 6 cut off", () => {
    const next = random(43_48);
    const seen = { lost: 0, twice: 0, deep: 0, invalid: 0 };
    for (let n = 0; n < 4000; n++) {
      const generated = generate(next);
      const cut = next() < 1 / 6 ? Math.floor(next() * generated.text.length) : generated.text.length;
      const text = generated.text.slice(0, cut);
      const json = text.startsWith("\uFEFF") ? text.slice(1) : text;
      const got = message(text);
      let valid = true;
      try {
        JSON.parse(json);
      } catch {
        valid = false;
      }
      const context = `case ${n}: ${JSON.stringify(text)}`;
      if (generated.depth > 64 && cut === generated.text.length) {
        seen.deep++;
        expect(got, context).toBe("config /c.json: nested more than 64 levels deep");
      } else if (!valid) {
        seen.invalid++;
        if (generated.depth <= 64) expect(got, context).toMatch(/^config \/c\.json: not valid JSON \(/);
      } else {
        const want = oldScan(json);
        if (want?.includes("whole number")) seen.lost++;
        if (want?.includes("twice")) seen.twice++;
        if (want === undefined) expect(got ?? "", context).not.toMatch(/not a whole number|appears twice|nested more/);
        else expect(got, context).toBe(`config /c.json: ${want}`);
      }
    }
    // The generator reaches every branch often enough to mean something.
    expect(Math.min(seen.lost, seen.twice, seen.deep, seen.invalid)).toBeGreaterThan(100);
  });
});
