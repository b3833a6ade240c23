/**
 * A hint's command pasted into whichever shell the operator has, or run by a script with `sh -c` (Debian's sh is dash,
 * which has no `$'…'`): the word names that one file in each, in any locale, and a look-alike next to it is untouched.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InputError, MAX_SHELL_WORD, PATH_TOO_LONG, quotedWord, shellWord, UNQUOTABLE } from "../../src/errors.js";

/** Each shell on this machine, as its argv; sh and bash at least (Debian: sh is dash). */
const SHELLS = [["sh"], ["dash"], ["bash"], ["bash", "--posix"], ["zsh"], ["zsh", "-o", "rcquotes"], ["busybox", "sh"], ["mksh"], ["ksh93"]]
  .filter(([name, ...args]) => spawnSync(name!, [...args, "-c", "true"]).status === 0);
const scratch = mkdtempSync(join(tmpdir(), "raa-every-shell-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
/** No rc file of the machine's: HOME is an empty directory (bash reads ~/.bashrc when its stdin is a socket). */
const HOME = mkdtempSync(join(scratch, "home-"));
const LOCALES = [{ PATH: process.env.PATH, HOME }, { PATH: process.env.PATH, HOME, LC_ALL: "C" }, { PATH: process.env.PATH, HOME, LC_ALL: "C.UTF-8" }];

/** `command` run by `shell -c` in `cwd`, stdin empty. */
const run = (shell: string[], command: string, cwd = scratch, env = LOCALES[0]) => spawnSync(shell[0]!, [...shell.slice(1), "-c", command], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
const modeOf = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** A fresh directory holding `names`, each mode 644. */
function directoryOf(names: readonly string[]): string {
  const dir = mkdtempSync(join(scratch, "d-"));
  for (const name of names) writeFileSync(join(dir, name), "x", { mode: 0o644 });
  return dir;
}

/** The command of the hint `chmod 600 WORD` as the error line prints it (printableLine, cut, trimmed). */
function printedCommand(path: string): string {
  const line = new InputError("FILE_UNSAFE", "x can be read or changed by other users", { hint: `run chmod 600 ${shellWord(path)}` }).toOneLine();
  return line.slice(line.indexOf("(run ") + "(run ".length, -1);
}

/** Each name with the look-alikes it must not be taken for: what a terminal shows, what dash made of `$'…'`. */
const CASES: [name: string, decoys: string[]][] = [
  ["dev\u00adice.pem", ["device.pem", "$dev\\xc2\\xadice.pem", "dev ice.pem"]],
  ["x\u{e0041}y it's 100%\\n%s", ["xy it's 100%\\n%s", "x", "y"]],
  ["a\nb.pem", ["a", "b.pem", "a b.pem"]],
  ["cr\r", ["cr"]],
  ["\u001b[31mred", ["[31mred", "red"]],
  ["\u202eevil\u2066", ["evil"]],
  ["close)\u00ad`touch pwned`$(touch pwned)", ["close)`touch pwned`$(touch pwned)", "pwned"]],
  ["back\\\u00a0slash\\", ["back\\ slash\\", "back\\slash\\"]],
  ["-\u00a0lead", ["- lead", "-lead"]],
  ["tab\there ", ["tab\there", "tabhere "]],
];

describe("a hint's command pasted into every shell on this machine", () => {
  it("has sh and bash to run in (zsh, dash, busybox, mksh, ksh93 where installed)", () => {
    expect(SHELLS.map((s) => s.join(" "))).toEqual(expect.arrayContaining(["sh", "bash"]));
  });

  // Round 37 (H3): a word holding an invisible character was $'dev\xc2\xadice.pem': dash (Debian's sh, and `sh -c`
  // in scripts) has no $'…' and read it as `$dev\xc2\xadice.pem`, another file, which chmod then changed.
  it("changes the file it names, in each shell and locale, and neither a look-alike nor a bystander", () => {
    for (const shell of SHELLS) {
      for (const env of LOCALES) {
        // One shell per locale runs every case, each in its own directory (a subshell): the commands' own status.
        const dirs = CASES.map(([name, decoys]) => directoryOf([name, ...decoys, "bystander"]));
        const script = CASES.map(([name], i) => `(cd ${dirs[i]} && ${printedCommand(name)}); echo "$?"`).join("\n");
        const ran = run(shell, script, scratch, env);
        const where = `${shell.join(" ")} ${env.LC_ALL ?? ""}`;
        expect({ where, stderr: ran.stderr.toString(), statuses: ran.stdout.toString() }).toEqual({ where, stderr: "", statuses: "0\n".repeat(CASES.length) });
        CASES.forEach(([name, decoys], i) => {
          const dir = dirs[i]!;
          const others = [...decoys, "bystander"].filter((other) => modeOf(join(dir, other)) !== "644");
          expect({ where, command: printedCommand(name), mode: modeOf(join(dir, name)), others }).toEqual({ where, command: printedCommand(name), mode: "600", others: [] });
          expect(readdirSync(dir).sort(), where).toEqual([name, ...decoys, "bystander"].sort());
        });
      }
    }
  });

  it("gives a label back as the same bytes, one starting with - too (printf's option)", () => {
    for (const label of ["-\u00adlabel", "%d%%\u00a0\\x41\\101", "dev\u00adice", "it's\u3164", "\u{1f511}\ufe0f prod", "-n", "--", "a\u2028b"]) {
      for (const shell of SHELLS) {
        const ran = run(shell, `printf %s ${quotedWord(label)}`, scratch, LOCALES[1]);
        expect({ shell, label, out: ran.stdout.toString("hex") }).toEqual({ shell, label, out: Buffer.from(label).toString("hex") });
      }
    }
  });

  it("the longest word under the limit, most of it escaped, is read whole", () => {
    const name = "\u00ad".repeat(80).concat("k");
    const dir = directoryOf([name, "k"]);
    let long = `${dir}/${name}`;
    while (shellWord(`${dir}/.${long.slice(dir.length)}`) !== PATH_TOO_LONG) long = `${dir}/.${long.slice(dir.length)}`;
    const word = shellWord(long);
    expect(word.length).toBeLessThanOrEqual(MAX_SHELL_WORD);
    expect(word.length).toBeGreaterThan(MAX_SHELL_WORD - 4);
    for (const shell of SHELLS) {
      writeFileSync(join(dir, name), "x", { mode: 0o644 });
      expect(run(shell, `chmod 644 ${word} && chmod 600 ${word}`).status).toBe(0);
      expect(modeOf(join(dir, name))).toBe("600");
      expect(modeOf(join(dir, "k"))).toBe("644");
    }
  });
});

describe("a name ending in a line break, or holding a NUL", () => {
  // Round 37 (H3): no one-line word gives it back in every shell: "$(printf 'key\n')" drops the newline, and names `key`.
  it("is a placeholder, which every shell refuses: neither that file nor the one without the newline changes", () => {
    expect(shellWord("key\n")).toBe(UNQUOTABLE);
    expect(quotedWord("label\n\n")).toBe(UNQUOTABLE);
    expect(quotedWord("a\0b")).toBe(UNQUOTABLE); // "$(printf 'a\000b')" is `ab` in dash and bash, `a` in ksh93
    expect(quotedWord("a\0b\u00ad")).toBe(UNQUOTABLE);
    for (const shell of SHELLS) {
      const dir = directoryOf(["key\n", "key", "name"]);
      const ran = run(shell, `chown ${process.getuid!()} ${shellWord("key\n")} && ${printedCommand("key\n")}`, dir);
      expect({ shell, refused: ran.status !== 0, modes: ["key\n", "key"].map((n) => modeOf(join(dir, n))) }).toEqual({ shell, refused: true, modes: ["644", "644"] });
      expect(readdirSync(dir).sort()).toEqual(["key", "key\n", "name"].sort());
    }
  });
});

describe("pasted into an interactive bash or zsh, as an operator does", () => {
  /** `line` typed into `shell` -i in `cwd`: history expansion (`!`) is on there, not in `-c`. */
  const paste = (shell: string[], line: string, cwd: string) => spawnSync(shell[0]!, [...shell.slice(1), "-i"], { cwd, input: `${line}\n`, env: { PATH: process.env.PATH, HOME, HISTFILE: join(HOME, "history") } });

  it("a name with !, ~, =, #, globs or a trailing space names that file (history, tilde, =cmd, comment, glob)", () => {
    const names = ["a!b", "a!b\u00ad", "!!", "~", "~root", "=ls", "#x", "a*", "[ab]", "?", "{a,b}", "x ", "^a^b"];
    for (const shell of [["bash", "--norc"], ["zsh", "-f"]].filter(([name]) => SHELLS.some((s) => s[0] === name))) {
      for (const name of names) {
        const dir = directoryOf([name, "a", "b", "ab", "ls", "x", "bystander"]);
        paste(shell, `chmod 600 ${shellWord(name)}`, dir);
        const changed = readdirSync(dir).filter((n) => modeOf(join(dir, n)) !== "644");
        expect({ shell, name, changed }).toEqual({ shell, name, changed: [name] });
      }
    }
  });
});
