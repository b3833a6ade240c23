/**
 * The unblock hint for a tpm2-pkcs11 token (unblock-hint.ts), run as printed on a real token (private swtpm): the
 * command sets a new user PIN as the security officer and asks for both PINs itself, so that neither is in its argv
 * (every local user reads /proc/PID/cmdline). Before (round 38, T3): `tpm2_ptool initpin --sopin=… --userpin=…`,
 * which takes both PINs only as arguments (it has no prompt, no file or environment variable for them).
 */
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

/** The command the hint gives to paste, split into words (the label and the path here need no quoting). */
const hintedCommand = () => {
  const command = /`(pkcs11-tool [^`]*)`/.exec(unblockHint("tpm2-pkcs11", { label: token.label, modulePath: token.module }))?.[1];
  expect(command).toBeDefined();
  return command!.split(" ");
};

describe("tpm2-pkcs11: the unblock hint's command", () => {
  it("sets a new user PIN with the SO PIN (C_InitPIN): the old PIN is then refused, the new one logs in", async () => {
    const [tool, ...args] = hintedCommand();
    expect(args).not.toContain("--so-pin"); // asked for on the terminal by pkcs11-tool, never in argv
    expect(args).not.toContain("--new-pin");
    // No terminal here: the PINs a person would type are given as options, for this test only.
    await token.run(tool!, [...args, "--so-pin", token.soPin, "--new-pin", "fresh-4321"]);
    const login = (pin: string) => token.run("pkcs11-tool", ["--module", token.module, "--token-label", token.label, "--login", "--pin", pin, "--list-objects"]);
    await expect(login("fresh-4321")).resolves.toBeDefined();
    await expect(login(token.userPin)).rejects.toThrow(/CKR_PIN_INCORRECT/);
  }, 60_000);
});
