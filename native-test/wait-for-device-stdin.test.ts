/**
 * `--certificate -` (standard input) with `--wait-for-device` and a token key whose token is not there at first (real
 * SoftHSM, its token directory moved away and back): standard input is read once, and the command signs once the
 * token is back. Before: each try read standard input again, so the second one failed with "standard input is empty",
 * exit 3, however long the wait allowed.
 */
import { spawn } from "node:child_process";
import { openSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_CLI } from "./helpers/run-cli.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

let hsm: SoftHsmFixture;
beforeAll(() => {
  hsm = createSoftHsmFixture("raa-wait-stdin-");
}, 60_000);
afterAll(() => hsm?.cleanup());

describe("--wait-for-device with the certificate on standard input", () => {
  it("reads standard input once and signs when the token comes back", async () => {
    const tokenDir = hsm.tokenDirectory(hsm.token);
    const away = join(hsm.dir, "token-away");
    renameSync(tokenDir, away);
    const args = [DIST_CLI, "sign-string", "--certificate", "-", "--private-key", `pkcs11:token=${hsm.token};object=ec-key`];
    args.push("--pkcs11-lib", hsm.module, "--pkcs11-pin-file", hsm.pinFile(), "--wait-for-device", "30");
    const env = { ...process.env, SOFTHSM2_CONF: hsm.conf };
    const child = spawn(process.execPath, args, { env, stdio: [openSync(hsm.file("ec-key.pem"), "r"), "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await expect.poll(() => stderr, { timeout: 30_000, interval: 50 }).toMatch(/^waiting up to 30 s for the device: /m);
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // at least one more try without the token
    } finally {
      renameSync(away, tokenDir);
    }
    expect(await exited, stderr).toBe(0);
    expect(stderr).not.toMatch(/standard input/);
    expect(stdout).toMatch(/^"[0-9a-f]+"$/);
  }, 60_000);
});
