/**
 * A fix hint names a path another user may have chosen (a directory of theirs in /tmp or a shared directory holding
 * the key file, a dependency's path), and an operator pastes its command into a root shell. Pasted, it must act on
 * that path alone: before, `run chmod 600 /tmp/x$(touch pwned)/key.pem` ran `touch pwned` as whoever pasted it.
 * The same for the other hints that name a path (an output file's missing directory, a socket directory, doctor's chmod go-w).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { printableLine } from "../../src/errors.js";
import { exposedFileWarnings } from "../../src/os/exposed-file.js";
import { othersCouldPlant } from "../../src/os/planted-code.js";
import { checkOutputFile } from "../../src/provisioning/output-file.js";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf } from "../helpers/pki.js";

/** A scratch directory with another user's directory named `name` in it (0777: its hint is `chmod go-w` too). */
function theirDirectory(name: string) {
  const top = mkdtempSync(join(tmpdir(), "raa-hint-words-"));
  onTestFinished(() => rmSync(top, { recursive: true, force: true }));
  const dir = join(top, name);
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  const key = join(dir, "key.pem");
  writeFileSync(key, "k");
  chmodSync(key, 0o644);
  return { top, dir, key };
}

/** Each warning's command, as printed (printableLine) and pasted into `shell` in `cwd` (it may fail: what did it do?). */
function paste(lines: string[], shell: string, cwd: string) {
  for (const line of lines) spawnSync(shell, ["-c", printableLine(line).replace(/^.*: run /, "")], { cwd, stdio: "ignore" });
}

describe("fix hints pasted into a shell", () => {
  it("a key file in a directory named `x$(touch pwned); touch pwned2`: chmod 600 and chmod go-w act on it, nothing runs", () => {
    const { top, dir, key } = theirDirectory("x$(touch pwned); touch pwned2 'q'");
    const lines = exposedFileWarnings({ mode: statSync(key).mode, owner: statSync(key).uid, gid: statSync(key).gid }, key, "private key file");
    expect(lines).toHaveLength(2); // the file's mode, and its directory's
    paste(lines, "sh", top);
    expect(existsSync(join(top, "pwned")) || existsSync(join(top, "pwned2"))).toBe(false);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o755);
  });

  it("a newline in the directory's name: the printed line's command still names that directory (bash)", () => {
    const { top, dir, key } = theirDirectory("a\nb");
    mkdirSync(join(top, "a b"), { mode: 0o777 }); // what the printed line named before: a space where the newline was
    chmodSync(join(top, "a b"), 0o777);
    const lines = exposedFileWarnings({ mode: statSync(key).mode, owner: statSync(key).uid, gid: statSync(key).gid }, key, "private key file");
    paste(lines, "bash", top);
    expect([statSync(key).mode & 0o777, statSync(dir).mode & 0o777, statSync(join(top, "a b")).mode & 0o777]).toEqual([0o600, 0o755, 0o777]);
  });

  it("planted code's fix (chmod o-w) for a dependency path named `m$(touch pwned)`", () => {
    const { top, dir } = theirDirectory("m$(touch pwned)");
    const fault = othersCouldPlant(join(dir, "key.pem"), top, process.getuid!());
    expect(fault?.fix).toMatch(/^chmod o-w /);
    paste([fault!.fix], "sh", top);
    expect(existsSync(join(top, "pwned"))).toBe(false);
    expect(statSync(dir).mode & 0o777).toBe(0o775);
  });

  it("doctor's chmod go-w for a certificate file others can write, in a directory named `c$(touch pwned)` (round 36, M41)", async () => {
    const top = mkdtempSync(join(tmpdir(), "raa-hint-words-"));
    onTestFinished(() => rmSync(top, { recursive: true, force: true }));
    const issued = issueLeaf(createCa(join(top, "ca"), { name: "Hint words CA" }), join(top, "leaf"), { name: "hint-words" });
    const named = join(top, "c$(touch pwned) x");
    mkdirSync(named);
    const leaf = { certPath: join(named, "cert.pem"), keyPath: join(named, "key.pem") };
    copyFileSync(issued.certPath, leaf.certPath);
    copyFileSync(issued.keyPath, leaf.keyPath);
    chmodSync(leaf.keyPath, 0o600);
    chmodSync(leaf.certPath, 0o666);
    const row = (await signerChecks(top, { privateKey: leaf.keyPath, certificate: leaf.certPath })).find((r) => r.name === "certificate file");
    expect(row).toMatchObject({ outcome: "fail", hint: expect.stringMatching(/^run: chmod go-w /) });
    spawnSync("sh", ["-c", printableLine(row!.hint!).replace(/^run: /, "")], { cwd: top, stdio: "ignore" });
    expect(existsSync(join(top, "pwned"))).toBe(false);
    expect(statSync(leaf.certPath).mode & 0o777).toBe(0o644);
  });

  it("an output file's missing directory named `d$(touch pwned)`: the hint's mkdir makes that directory, nothing runs", async () => {
    const top = mkdtempSync(join(tmpdir(), "raa-hint-words-"));
    onTestFinished(() => rmSync(top, { recursive: true, force: true }));
    const parent = join(top, "d$(touch pwned)");
    const hint = await checkOutputFile("TPM key file", join(parent, "key.pem"), false).then(() => "", (error: { hint?: string }) => error.hint ?? "");
    expect(hint).toMatch(/^create it first: mkdir -p -m 700 /);
    spawnSync("sh", ["-c", printableLine(hint).replace(/^.*: /, "")], { cwd: top, stdio: "ignore" });
    expect(existsSync(join(top, "pwned"))).toBe(false);
    expect(statSync(parent).mode & 0o777).toBe(0o700);
  });
});
