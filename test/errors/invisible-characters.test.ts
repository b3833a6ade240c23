/**
 * Characters drawn as nothing or as a space (Unicode's Default_Ignorable_Code_Point, the other spaces): a name
 * quoted in a message must not look like another one (`token "dev\u00adice"` as `token "device"`), and a word in a
 * hint must give the shell back the same bytes.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codePointName, escapeControls, PLAIN, printableLine, quotedWord, shellWord } from "../../src/errors.js";
import { bundleCliInto } from "../helpers/bundle-cli.js";
import { createCa, generateKey, issueLeaf, makeTempDir } from "../helpers/pki.js";

/** Each found passing unchanged before (round 36): drawn as nothing, or as a space, by a terminal. */
const INVISIBLE = [
  "\u00ad", // SOFT HYPHEN
  "\u034f", // COMBINING GRAPHEME JOINER
  "\u115f", "\u1160", "\u3164", "\uffa0", // Hangul fillers
  "\u17b4", "\u17b5", // Khmer inherent vowels
  "\u180b", "\u180e", "\u180f", // Mongolian variation selectors, vowel separator
  "\ufe00", "\ufe0e", "\ufe0f", // variation selectors
  "\ufff0", "\ufff8", "\ufff9", "\ufffb", // reserved default-ignorables, interlinear annotation
  "\u{1bca0}", "\u{1bca3}", "\u{1d173}", "\u{1d17a}", // shorthand format controls, musical format
  "\u{e0000}", "\u{e0001}", "\u{e0020}", "\u{e0041}", "\u{e007f}", // tags
  "\u{e0100}", "\u{e01ef}", "\u{e0fff}", // variation selectors supplement, the rest of plane 14's ignorables
  "\u00a0", "\u1680", "\u2000", "\u200a", "\u202f", "\u205f", "\u3000", "\u2800", // spaces other than U+0020, braille blank
  "\ud800", "\udfff", // a lone surrogate, written as U+FFFD
  // Round 37 (H3): unassigned (noncharacters too) and private use, drawn as nothing, a box or a font's icon.
  "\u0378", "\u242a", "\u245f", "\u2b74", "\u2b75", "\ufdd0", "\ufffe", "\uffff", "\u{1fffe}", "\u{10ffff}",
  "\ue000", "\ue0a0", "\uf8ff", "\u{f0000}", "\u{10fffd}",
];
/** Their neighbours and ordinary text: left as they are. */
const VISIBLE = ["\u0377", "\u037a", "\u2426", "\u2440", "\u244a", "\u2460", "\u2b73", "\u2b76", "\uf900", "\ufdcf", "\ufdf0", "\u00ac", "\u00ae", "\u034e", "\u0350", "\u115e", "\u1161", "\u3163", "\u3165", "\uff9f", "\uffa1", "\u17b3", "\u17b6", "\ufdff", "\ufe10", "\ufffc", "\u{1d172}", "\u{1d17b}", "\u27ff", "\u2801", "é", "東京", "✓", "👍🏽", "🔑", "ß", "\u0301"];

describe("printableLine, escapeControls: characters drawn as nothing or as a space", () => {
  it("each is a space in a line and an escape in a listing, never itself", () => {
    for (const c of INVISIBLE) {
      expect(printableLine(`dev${c}ice`), codePointName(c)).toBe("dev ice");
      const escape = c.length === 1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : `\\u{${c.codePointAt(0)!.toString(16)}}`;
      expect(escapeControls(`dev${c}ice`), codePointName(c)).toBe(`dev${escape}ice`);
    }
    expect(escapeControls("token \"dev\u00adice\"")).toBe('token "dev\\u00adice"');
  });

  it("every Default_Ignorable_Code_Point, format, unassigned and private-use character, as Node's Unicode tables name them", () => {
    const ignorable = /[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cn}\p{Co}]/u;
    const passed: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      if (ignorable.test(c) && printableLine(`a${c}b`) !== "a b") passed.push(codePointName(c));
    }
    expect(passed).toEqual([]);
  });

  it("the fast path's characters (PLAIN) are none of the class: each is left as it is, as the class would leave it", () => {
    const all = Array.from({ length: 0x10000 }, (_, c) => String.fromCharCode(c)).filter((c) => PLAIN.test(c));
    expect(all.length).toBeGreaterThan(2_000);
    const classed = all.filter((c) => escapeControls(c) !== c);
    expect(classed.map(codePointName)).toEqual([]);
  });

  it("leaves ordinary text as it was: accents, CJK, emoji without a selector, their neighbours", () => {
    for (const c of VISIBLE) {
      expect(printableLine(`a${c}b`), codePointName(c)).toBe(`a${c}b`);
      expect(escapeControls(`a${c}b`), codePointName(c)).toBe(`a${c}b`);
    }
  });

  it("an emoji's variation selector too: after 🔑 (drawn as an emoji already) U+FE0F changes nothing on screen", () => {
    expect(printableLine("🔑\ufe0f prod")).toBe("🔑 prod");
    expect(escapeControls("🔑\ufe0f prod")).toBe("🔑\\ufe0f prod");
    expect(escapeControls("❤\ufe0f")).toBe("❤\\ufe0f");
  });

  it("a run of spaces and selectors is one space, in linear time (no timing here: npm run bench)", () => {
    expect(printableLine("a \u00a0\u{e0041}\u3164 \u00ad b")).toBe("a b");
    expect(printableLine("\u00a0".repeat(100_000))).toBe(" ");
  });
});

describe("quotedWord: each of them as its UTF-8 bytes, which any locale's shell gives back", () => {
  it("writes \"$(printf '…')\" with octal escapes", () => {
    expect(quotedWord("dev\u00adice")).toBe(`"$(printf 'dev\\302\\255ice')"`);
    expect(quotedWord("x\u{e0041}y")).toBe(`"$(printf 'x\\363\\240\\201\\201y')"`);
    expect(quotedWord("a\nb")).toBe(`"$(printf 'a\\012b')"`);
    expect(quotedWord("-it's 100%\\\u00ad")).toBe(`"$(printf '\\055it\\047s 100%%\\134\\302\\255')"`);
    expect(quotedWord("é東京 ✓ 👍🏽")).toBe("'é東京 ✓ 👍🏽'");
  });

  it("sh, bash and zsh in the C locale (a rescue shell, env -i) give back the same text (before: \\u00ad, six characters)", () => {
    const words = ["dev\u00adice", "/tmp/\u0085\u202e\u2028x", "x\u{e0041}\u{e0100}y", "a\u00a0b\u3164c", "🔑\ufe0f it's", "a\nb"];
    for (const shell of ["sh", "bash", "zsh"].filter((s) => existsSync(`/usr/bin/${s}`) || existsSync(`/bin/${s}`))) {
      for (const word of words) {
        const quoted = quotedWord(word);
        expect(printableLine(quoted)).toBe(quoted);
        const out = execFileSync(shell, ["-c", `printf %s ${quoted}`], { encoding: "utf8", env: { PATH: process.env.PATH, LC_ALL: "C" } });
        expect(out, `${shell} ${quoted}`).toBe(word);
      }
    }
  });
});

describe("the real CLI: a key file whose path holds U+00AD", () => {
  const tmp = makeTempDir("raa-invisible-");
  let cli = "";
  beforeAll(async () => {
    cli = await bundleCliInto(tmp.dir);
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it("names it on stderr with the soft hyphen shown, and its chmod hint, pasted into sh or bash in the C locale, fixes that file", () => {
    const ca = createCa(join(tmp.dir, "ca"), { name: "ca" });
    const keyPath = join(tmp.dir, "dev\u00adice.key");
    generateKey(join(tmp.dir, "device.key"), "p256");
    const leaf = issueLeaf(ca, join(tmp.dir, "leaf"), { name: "leaf", keyPath: join(tmp.dir, "device.key") });
    execFileSync("cp", [leaf.keyPath, keyPath]);
    chmodSync(keyPath, 0o644);
    chmodSync(leaf.keyPath, 0o644); // the look-alike: the hint must not name it
    const r = spawnSync(process.execPath, [cli, "sign-string", "--private-key", keyPath, "--certificate", leaf.certPath], { input: "x", encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).not.toContain("\u00ad");
    const warning = r.stderr.split("\n").find((line) => line.includes("can be read or changed by other users"));
    expect(warning).toContain(`private key file ${join(tmp.dir, "dev ice.key")} `);
    expect(warning).toContain(`run chmod 600 ${shellWord(keyPath)}`);
    expect(shellWord(keyPath)).toContain("dev\\302\\255ice.key");
    const command = warning!.slice(warning!.indexOf("run chmod 600 ") + "run ".length);
    for (const shell of ["sh", "bash"]) {
      chmodSync(keyPath, 0o644);
      execFileSync(shell, ["-c", command], { env: { PATH: process.env.PATH, LC_ALL: "C" } });
      expect(statSync(keyPath).mode & 0o777).toBe(0o600);
      expect(statSync(leaf.keyPath).mode & 0o777).toBe(0o644);
    }
  });
});
