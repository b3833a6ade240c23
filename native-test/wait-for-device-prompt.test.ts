/**
 * `--wait-for-device` with a TPM that is not up yet and a key password asked on the terminal (script(1), real swtpm):
 * the password is asked once, when the TPM answers. Before round 30 it was asked before the TPM was reached, so again
 * at every try of the wait (once a second) while the TPM was down.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_CLI } from "./helpers/run-cli.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey } from "./helpers/tpm-keys.js";

const PROMPT = "Please enter your TPM key password:";
let tpm: Swtpm;
beforeAll(async () => {
  tpm = await startSwtpm();
});
afterAll(async () => {
  await tpm?.stop();
});

describe("--wait-for-device and a TPM key password typed on the terminal", () => {
  it("is asked once, when the TPM is up, not at every try while it is down", async () => {
    const key = await genpkey(tpm, "prompted", { algorithm: "EC", userAuth: "typed-password" });
    await tpm.flushAll();
    await tpm.kill();
    const command = [process.execPath, DIST_CLI, "sign-string", "--private-key", key.keyPath, "--tpm-device", tpm.device, "--wait-for-device", "30", "--format", "text", "hello"]
      .map((a) => `'${a}'`).join(" ");
    const env = { ...process.env, CI: "", TERM: "dumb", HOME: "/nonexistent", XDG_RUNTIME_DIR: "/nonexistent" };
    const child = spawn("script", ["-qec", command, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let answered = 0;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      // Each prompt answered as a user would (before the fix: one at every try of the wait).
      for (; answered < out.split(PROMPT).length - 1; answered++) child.stdin.write("typed-password\n");
    });
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    try {
      await expect.poll(() => out, { timeout: 60_000, interval: 50 }).toMatch(/waiting up to 30 s for the device: /);
      await new Promise((r) => setTimeout(r, 2500)); // two more tries while the TPM is down
      await tpm.restart();
      expect(await exited, out).toBe(0);
      expect(out.split(PROMPT).length - 1, out).toBe(1); // before: 4 (the first try, two while waiting, the last)
    } finally {
      child.kill("SIGKILL");
    }
  }, 120_000);
});
