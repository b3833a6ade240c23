/**
 * shellWord: a path put into a hint's command (`run chmod 600 PATH`) is one word of that command when pasted into a
 * shell, whatever another user named it; a plain path is left as it was (today's messages and docs).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError, MAX_ERROR_TEXT, MAX_SHELL_WORD, PATH_TOO_LONG, printableLine, shellWord } from "../../src/errors.js";

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
    expect(shellWord("/tmp/a\nb")).toBe(`"$(printf '/tmp/a\\012b')"`);
  });
});

const scratch = mkdtempSync(join(tmpdir(), "raa-shell-word-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A fresh directory holding `names`, each mode 644, and a bystander file: where a pasted hint runs. */
function directoryOf(names: readonly string[]): string {
  const dir = mkdtempSync(join(scratch, "d-"));
  for (const name of [...names, "bystander"]) writeFileSync(join(dir, name), "x", { mode: 0o644 });
  return dir;
}
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** `line` pasted into sh in `cwd` (root's shell: a relative path the user gave is relative to where they are), then `touch typed-next`. */
const paste = (line: string, cwd: string) => spawnSync("sh", [], { cwd, input: `${line}\ntouch typed-next\n`, encoding: "utf8" });
/** The same into an interactive shell, as an operator pastes: one line it refuses does not end it. */
const pasteInteractive = (line: string, cwd: string) => spawnSync("bash", ["--norc", "-i"], { cwd, input: `${line}\ntouch typed-next\n`, encoding: "utf8" });

describe("shellWord: a path that starts with -", () => {
  const names = ["-x.pem", "--reference=bystander", "-R", "-"];

  it("is ./-…, which every command of our hints takes for the file, never for an option", () => {
    expect(shellWord("-x.pem")).toBe("./-x.pem");
    expect(shellWord("--reference=/etc/shadow")).toBe("'./--reference=/etc/shadow'");
    expect(shellWord("-a b")).toBe("'./-a b'");
    expect(shellWord("-\n.")).toBe(`"$(printf './-\\012.')"`);
    expect(shellWord("/tmp/-x")).toBe("/tmp/-x");
  });

  it("pasted into sh, each hint's command does what it says to that file and nothing else", () => {
    const uid = process.getuid!();
    const gid = process.getgid!();
    for (const name of names) {
      const word = shellWord(name);
      const commands: [string, (dir: string) => void][] = [
        [`chmod 600 ${word}`, (dir) => expect(modeOf(join(dir, name))).toBe("600")],
        [`chmod go-w ${word}`, (dir) => expect(modeOf(join(dir, name))).toBe("644")],
        [`chown ${uid} ${word} && chmod 600 ${word}`, (dir) => expect(modeOf(join(dir, name))).toBe("600")],
        [`chgrp ${gid} ${word} && chmod 640 ${word}`, (dir) => expect(modeOf(join(dir, name))).toBe("640")],
        [`setfacl -b ${word}`, () => {}],
        [`getfacl ${word}`, () => {}],
        [`ls -ld ${word}`, () => {}],
      ];
      for (const [command, check] of commands) {
        const dir = directoryOf([name]);
        const ran = spawnSync("sh", ["-c", command], { cwd: dir, encoding: "utf8" });
        expect({ command, status: ran.status, stderr: ran.stderr }).toEqual({ command, status: 0, stderr: "" });
        check(dir);
        expect(modeOf(join(dir, "bystander"))).toBe("644");
        expect(readdirSync(dir).sort()).toEqual([name, "bystander"].sort());
        if (command.startsWith("ls") || command.startsWith("getfacl")) expect(ran.stdout).toContain(name);
      }
      const dir = mkdtempSync(join(scratch, "m-"));
      expect(spawnSync("sh", ["-c", `mkdir -p -m 700 ${word}`], { cwd: dir }).status).toBe(0);
      expect(readdirSync(dir)).toEqual([name]);
      expect(modeOf(join(dir, name))).toBe("700");
    }
  });
});

describe("shellWord: a path too long for a hint", () => {
  /** An existing file whose path is `length` characters long, under `scratch`, its last component `last`. */
  function longPath(length: number, last: string): string {
    let dir = mkdtempSync(join(scratch, "l-"));
    while (dir.length + 1 + last.length < length) dir = join(dir, "d".repeat(Math.min(200, length - dir.length - last.length - 2) || 1));
    mkdirSync(dir, { recursive: true });
    const path = join(dir, last);
    writeFileSync(path, "x", { mode: 0o644 });
    return path;
  }

  it("is quoted whole up to MAX_SHELL_WORD: the pasted command changes that file", () => {
    const path = longPath(MAX_SHELL_WORD - 10, "it's a key.pem");
    const word = shellWord(path);
    expect(word.length).toBeLessThanOrEqual(MAX_SHELL_WORD);
    const ran = paste(`chmod 600 ${word}`, scratch);
    expect(ran.status).toBe(0);
    expect(modeOf(path)).toBe("600");
  });

  it("longer, is a placeholder: the hint is never cut inside a quote, and what is typed next runs on its own", () => {
    for (const last of ["key.pem", "it's a key.pem", "new\nline.pem"]) {
      const path = longPath(1_990, last);
      const word = shellWord(path);
      expect(word).toBe(PATH_TOO_LONG);
      const hint = new InputError("FILE_UNSAFE", `${path} can be read or changed by other users`, { hint: `run chown 0 ${word} && chmod 600 ${word}` }).toOneLine();
      const command = hint.slice(hint.lastIndexOf("(run ") + 5, -1);
      expect(command).toBe(`chown 0 ${PATH_TOO_LONG} && chmod 600 ${PATH_TOO_LONG}`);
      const dir = mkdtempSync(join(scratch, "p-"));
      const ran = pasteInteractive(command, dir);
      expect(ran.stderr).toMatch(/syntax error/i);
      expect(existsSync(join(dir, "typed-next"))).toBe(true); // not read into an open quote
      expect(readdirSync(dir)).toEqual(["typed-next"]);
      expect(modeOf(path)).toBe("644");
    }
  });

  // Round 36 (H2): the placeholder was a quoted word, '<path too long to quote here>': a name like any other, so the
  // output file's `create it first: mkdir -p -m 700 '<…>'`, pasted, made a directory of that name where it ran. It is
  // now a syntax error: the shell refuses the line (zsh, where a parenthesis follows: a glob that matches nothing).
  it("pasted into sh, bash or zsh, no hint's command with the placeholder runs", () => {
    const commands = [`mkdir -p -m 700 ${PATH_TOO_LONG}`, `chown 0 ${PATH_TOO_LONG} && chmod 600 ${PATH_TOO_LONG}`, `chmod o-w ${PATH_TOO_LONG}`,
      `ls -ld ${PATH_TOO_LONG}`, `chown -R root ${PATH_TOO_LONG} (or to the code's owner)`, `chmod 700 ${PATH_TOO_LONG}   (or choose a private directory with --socket)`];
    for (const shell of ["sh", "bash", "zsh"].filter((name) => spawnSync(name, ["-c", "true"]).status === 0)) {
      for (const command of commands) {
        const dir = mkdtempSync(join(scratch, "q-"));
        writeFileSync(join(dir, "path"), ""); // `<path` alone would read it
        const ran = spawnSync(shell, ["-c", command], { cwd: dir, encoding: "utf8" });
        expect({ shell, command, ran: ran.status !== 0, files: readdirSync(dir) }).toEqual({ shell, command, ran: true, files: ["path"] });
      }
    }
  });

  it("keeps our longest hint, with two of the longest words, under MAX_ERROR_TEXT: never cut", () => {
    const word = shellWord(`/${"a b".repeat(MAX_SHELL_WORD)}`.slice(0, MAX_SHELL_WORD - 2));
    expect(word.length).toBe(MAX_SHELL_WORD);
    const hint = `run chown 4294967294 ${word} && chmod 600 ${word}   (or choose a private directory with --socket)`;
    expect(hint.length).toBeLessThan(MAX_ERROR_TEXT);
  });
});
