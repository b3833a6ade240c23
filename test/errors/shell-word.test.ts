/**
 * shellWord: a path put into a hint's command (`run chmod 600 PATH`) is one word of that command when pasted into a
 * shell, whatever another user named it; a plain path is left as it was (today's messages and docs).
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { printableLine, shellWord } from "../../src/errors.js";

/** What `shell` makes of the word: printf's one argument, as it would reach chmod. */
const asArgument = (shell: string, word: string) => execFileSync(shell, ["-c", `printf %s ${word}`], { encoding: "utf8" });

describe("shellWord", () => {
  it("leaves a plain path as it is", () => {
    for (const path of ["/etc/roles-anywhere/key.pem", "/home/u/.config/x_y-z/a+b@c,d:e%f", "relative/file.p12"]) expect(shellWord(path)).toBe(path);
  });

  it("gives sh back every other path as one argument, unchanged, and runs nothing in it", () => {
    const paths = ["/tmp/x; touch pwned/key.pem", "/tmp/$(touch pwned)", "/tmp/`id`", "/tmp/it's", "/tmp/''", "/tmp/a b", "/tmp/*", "~/k", "=ls", "", "/tmp/\\'\"$HOME", "/tmp/é"];
    for (const path of paths) expect(asArgument("sh", shellWord(path))).toBe(path);
    expect(shellWord("/tmp/it's")).toBe(`'/tmp/it'\\''s'`);
  });

  it("writes a control character escaped, so the line printableLine prints still names the same path (bash)", () => {
    for (const path of ["/tmp/a\nb/key", "/tmp/a\n\n b'c\\d", "/tmp/\u001b]0;x\u0007", "/tmp/\u0085\u202e\u2028x", "/tmp/\t"]) {
      const word = shellWord(path);
      expect(printableLine(word)).toBe(word);
      expect(asArgument("bash", word)).toBe(path);
    }
    expect(shellWord("/tmp/a\nb")).toBe("$'/tmp/a\\x0ab'");
  });
});
