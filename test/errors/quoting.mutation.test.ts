/**
 * Round 39, M43: Stryker survivors of errors.ts' quoting lines. UNQUOTABLE as "" left every test passing, yet a
 * pasted `--token-label  --login` then takes the next option as the label; PLAIN matching one character only left the
 * output the same but made the class for every line of text (the cost PLAIN is there to save, cachegrind +7 M).
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { PLAIN, quotedWord, UNQUOTABLE } from "../../src/errors.js";

const SHELLS = ["sh", "bash", "zsh"].filter((name) => spawnSync(name, ["-c", "true"]).status === 0);

describe("UNQUOTABLE in a pasted command", () => {
  it.each(["label\n", "a\0b"])("%j: the command is refused by the shell, never run with the word left out or another word in its place", (label) => {
    const command = `printf '%s|' --token-label ${quotedWord(label)} --login`;
    for (const shell of SHELLS) {
      const ran = spawnSync(shell, ["-c", command], { encoding: "utf8" });
      expect({ shell, refused: ran.status !== 0, printed: ran.stdout }).toEqual({ shell, refused: true, printed: "" });
    }
  });

  it("is no word at all: not empty, and not a word a shell would read", () => {
    expect(UNQUOTABLE).toMatch(/^<.*>$/);
  });
});

describe("PLAIN, the fast path", () => {
  it.each([
    "roles-anywhere-agent: error: the certificate file /etc/x.pem cannot be read (mode 644) — run chmod 600 /etc/x.pem",
    "✔ token present → token \"device\" (serial 0042) … ✘",
    "café · naïve ÿ",
    "",
  ])("takes a whole line of our own text, not only one character: %j", (text) => {
    expect(PLAIN.test(text)).toBe(true);
  });

  it("does not take a line with one character of the class in it", () => {
    expect(PLAIN.test("dev\u00adice")).toBe(false);
    expect(PLAIN.test("dev\ue000ice")).toBe(false);
    expect(PLAIN.test("a\u2800b")).toBe(false);
  });
});
