/**
 * The unblock hint for a tpm2-pkcs11 token (unblock-hint.ts), run as printed on a real token (private swtpm), the PINs
 * typed on a terminal: the command sets a new user PIN as the security officer and asks for both PINs itself, so that neither is in its argv
 * (every local user reads /proc/PID/cmdline). Before (round 38, T3): `tpm2_ptool initpin --sopin=… --userpin=…`,
 * which takes both PINs only as arguments (it has no prompt, no file or environment variable for them).
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unblockHint } from "../src/pkcs11/unblock-hint.js";
import { startTpm2Pkcs11Token, type Tpm2Pkcs11Token } from "./helpers/tpm2-pkcs11-token.js";

let token: Tpm2Pkcs11Token;
beforeAll(async () => {
  token = await startTpm2Pkcs11Token("t3-token", "user-1234", "so-5678");
});
afterAll(async () => {
  await token?.stop();
});

/** Runs argv on a pty, typing ANSWERS' lines one at a time, each after a "PIN" prompt (": ") appeared; prints what it showed. No timing assertion: the pause only lets the prompt turn echo off first. */
const TYPIST = `
import os, pty, sys, select, time
answers = os.environ.pop("ANSWERS").split("\\n")
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen = b""
while True:
    ready, _, _ = select.select([fd], [], [], 20)
    if not ready:
        break
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if answers and seen.rstrip().endswith(b":") and b"PIN" in seen.splitlines()[-1]:
        time.sleep(0.5)  # getpass turns echo off, flushing what was typed before: after it
        os.write(fd, (answers.pop(0) + "\\n").encode())
        seen += b"\\n"
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

/** The command the hint gives to paste, split into words (the label and the path here need no quoting). */
const hintedCommand = () => {
  const command = /`(pkcs11-tool [^`]*)`/.exec(unblockHint("tpm2-pkcs11", { label: token.label, slotId: 0n, modulePath: token.module }))?.[1];
  expect(command).toBeDefined();
  return command!.split(" ");
};

describe("tpm2-pkcs11: the unblock hint's command", () => {
  it("sets a new user PIN with the SO PIN (C_InitPIN): the old PIN is then refused, the new one logs in", async () => {
    const [tool, ...args] = hintedCommand();
    expect(args).not.toContain("--so-pin"); // asked for on the terminal by pkcs11-tool, never in argv
    expect(args).not.toContain("--new-pin");
    // As pasted, the PINs typed where it asks (pkcs11-tool reads its prompts' answers from standard input).
    // On a terminal (a pty: pkcs11-tool reads them from one only), each answer typed once its prompt is there.
    const typed = spawnSync("python3", ["-c", TYPIST, tool!, ...args], {
      env: { ...token.env, ANSWERS: `${token.soPin}\nfresh-4321\nfresh-4321` },
      cwd: token.dir,
      encoding: "utf8",
      timeout: 30_000,
    });
    expect([typed.status, typed.stdout + typed.stderr]).toEqual([0, expect.stringMatching(/enter SO PIN[^]*new PIN/i)]);
    expect(typed.stdout).not.toContain("fresh-4321"); // typed with echo off
    const login = (pin: string) => token.run("pkcs11-tool", ["--module", token.module, "--token-label", token.label, "--login", "--pin", pin, "--list-objects"]);
    await expect(login("fresh-4321")).resolves.toBeDefined();
    await expect(login(token.userPin)).rejects.toThrow(/CKR_PIN_INCORRECT/);
  }, 60_000);
});
