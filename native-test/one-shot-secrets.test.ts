/**
 * The one-shot commands leave no copy of the PIN or password they were given once they end, on success and on error:
 * a core dump, or the library run inside a long-lived program (src/index.ts), would otherwise keep it. Each command
 * runs in process against a SoftHSM token; the copy watcher (test/helpers/copies-made.ts) counts the buffers made
 * during the run that still hold the secret after it.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copiesHolding } from "../test/helpers/copies-made.js";
import { runMain } from "../test/helpers/run-main.js";
import { createSoftHsmFixture, SOFTHSM_MODULE, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const PIN = "Qz7-one-shot-PIN-w4";
const PASSWORD = "Kp3-key-password-x9";
const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/device",
  "--endpoint", "http://127.0.0.1:9", "--max-attempts", "1", "--connect-timeout", "1",
];
let hsm: SoftHsmFixture;
let encryptedKey: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  hsm = createSoftHsmFixture("raa-one-shot-secrets-");
  env = { SOFTHSM2_CONF: hsm.conf, CI: "true", PIN_VAR: PIN, PW_VAR: PASSWORD };
  process.env["SOFTHSM2_CONF"] = hsm.conf; // read by the module in this process
  execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", hsm.token, "--login", "--pin", hsm.pin, "--change-pin", "--new-pin", PIN], {
    env: { ...process.env, SOFTHSM2_CONF: hsm.conf }, stdio: "ignore",
  });
  encryptedKey = join(hsm.dir, "encrypted.pem");
  writeFileSync(encryptedKey, execFileSync("openssl", ["pkcs8", "-topk8", "-in", hsm.file("ec-key.key"), "-passout", `pass:${PASSWORD}`, "-v2", "aes-256-cbc"]));
  writeFileSync(join(hsm.dir, "pw.txt"), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(join(hsm.dir, "pin.txt"), `${PIN}\n`, { mode: 0o600 });
});
afterAll(() => hsm?.cleanup());

const keyUri = (object: string, pin = `&pin-value=${PIN}`) => `pkcs11:token=rolesanywhere;object=${object}?module-path=${SOFTHSM_MODULE}${pin}`;

async function left(secret: string, argv: readonly string[]): Promise<{ code: number; stderr: string; left: number }> {
  const { result, left } = await copiesHolding(Buffer.from(secret), () => runMain(argv, env));
  return { code: result.code, stderr: result.stderr, left };
}

describe("one-shot commands wipe the secrets they hold when they end", () => {
  // Before round 29, 1 copy was left by each run through withSigner, credential-process and doctor (13 of these 22);
  // the token commands (keygen, install-certificate on the token, the listings) and update --once already wiped theirs.
  it.each([
    ["sign-string, pin-value in the URI", PIN, 0, ["sign-string", "--private-key", keyUri("ec-key")]],
    ["sign-string, encrypted key, --pkcs8-password", PASSWORD, 0, ["sign-string", "--private-key", "ENC", "--pkcs8-password", PASSWORD]],
    ["sign-string, encrypted key, wrong --pkcs8-password", "wrong-pw-Zq8", 4, ["sign-string", "--private-key", "ENC", "--pkcs8-password", "wrong-pw-Zq8"]],
    ["credential-process, pin-value (endpoint down)", PIN, 7, ["credential-process", "--no-agent", "--certificate", keyUri("ec-key"), "--private-key", keyUri("ec-key"), ...ARNS]],
    ["credential-process, --pkcs8-password (endpoint down)", PASSWORD, 7, ["credential-process", "--no-agent", "--certificate", "CERT", "--private-key", "ENC", "--pkcs8-password", PASSWORD, ...ARNS]],
    ["update --once, --pkcs8-password (endpoint down)", PASSWORD, 7, ["update", "--once", "--fail-fast", "--credentials-file", "CREDS", "--certificate", "CERT", "--private-key", "ENC", "--pkcs8-password", PASSWORD, ...ARNS]],
    ["read-certificate-data, pin-value", PIN, 0, ["read-certificate-data", "--certificate", keyUri("ec-key")]],
    ["principal-tags, pin-value", PIN, 0, ["principal-tags", "--certificate", keyUri("rsa-key")]],
    ["keygen, pin-value", PIN, 0, ["keygen", "--private-key", keyUri("new-key")]],
    ["install-certificate, pin-value", PIN, 0, ["install-certificate", "--private-key", keyUri("ec-key"), "--certificate", "CERT", "--replace"]],
    ["doctor, pin-value", PIN, 7, ["doctor", "--certificate", keyUri("ec-key"), "--private-key", keyUri("ec-key"), ...ARNS]],
    ["doctor, --pkcs8-password", PASSWORD, 3, ["doctor", "--certificate", "CERT", "--private-key", "ENC", "--pkcs8-password", PASSWORD, ...ARNS]],
    // Round 33: doctor reads the file for its row and the signer takes that read; one no signer asks for is wiped too.
    ["doctor, --pkcs8-password-file", PASSWORD, 3, ["doctor", "--certificate", "CERT", "--private-key", "ENC", "--pkcs8-password-file", "PWFILE", ...ARNS]],
    // Round 34: a URI's pin-source file too, read once for its row and the login.
    ["doctor, pin-source file", PIN, 7, ["doctor", "--certificate", keyUri("ec-key", "&pin-source=PINFILE"), "--private-key", keyUri("ec-key", "&pin-source=PINFILE"), ...ARNS]],
    ["doctor, pin-source file, module missing", PIN, 5, ["doctor", "--certificate", "CERT", "--private-key", keyUri("ec-key", "&pin-source=PINFILE").replace(SOFTHSM_MODULE, "/nonexistent/module.so"), ...ARNS]],
    ["doctor, --pkcs8-password-file, key not encrypted", PASSWORD, 7, ["doctor", "--certificate", "CERT", "--private-key", "PLAIN", "--pkcs8-password-file", "PWFILE", ...ARNS]],
    ["credential-process --agent, no agent, --pkcs8-password", PASSWORD, 7, ["credential-process", "--agent", "--agent-socket", "/nonexistent/agent.sock", "--certificate", "CERT", "--private-key", "ENC", "--pkcs8-password", PASSWORD, ...ARNS]],
    ["sign-string, pin-value, module missing", PIN, 5, ["sign-string", "--private-key", keyUri("ec-key").replace(SOFTHSM_MODULE, "/nonexistent/module.so")]],
    ["sign-string, --tpm-key-password, no TPM", PASSWORD, 5, ["sign-string", "--private-key", "handle:0x81000001", "--tpm-device", "unix:/nonexistent/tpm", "--tpm-key-password", PASSWORD]],
    ["sign-string, --tpm-parent-password, no TPM", PASSWORD, 5, ["sign-string", "--private-key", "handle:0x81000001", "--tpm-device", "unix:/nonexistent/tpm", "--tpm-parent-password", PASSWORD, "--no-tpm-key-password"]],
    ["keygen, pin-value, module missing", PIN, 5, ["keygen", "--private-key", keyUri("k2").replace(SOFTHSM_MODULE, "/nonexistent/module.so")]],
    ["install-certificate, pin-value, module missing", PIN, 5, ["install-certificate", "--private-key", keyUri("ec-key").replace(SOFTHSM_MODULE, "/nonexistent/module.so"), "--certificate", "CERT"]],
    ["read-certificate-data, pin-value, module missing", PIN, 5, ["read-certificate-data", "--certificate", keyUri("ec-key").replace(SOFTHSM_MODULE, "/nonexistent/module.so")]],
    ["keygen TPM, --tpm-parent-password, no TPM", PASSWORD, 5, ["keygen", "--private-key", "NEW_TSS2", "--tpm-device", "unix:/nonexistent/tpm", "--tpm-parent-password", PASSWORD]],
    ["install-certificate, encrypted key, --pkcs8-password", PASSWORD, 0, ["install-certificate", "--private-key", "ENC", "--pkcs8-password", PASSWORD, "--certificate", "CERT", "--out", "CREDS", "--replace"]],
    ["csr, --pkcs8-password", PASSWORD, 0, ["csr", "--subject", "/CN=x", "--private-key", "ENC", "--pkcs8-password", PASSWORD]],
  ])("%s", async (_, secret, code, argv) => {
    const filled = argv.map((a) => a === "ENC" ? encryptedKey : a === "CERT" ? hsm.file("ec-key.pem") : a === "CREDS" ? join(hsm.dir, "credentials") : a === "NEW_TSS2" ? join(hsm.dir, "new.tss2") : a === "PWFILE" ? join(hsm.dir, "pw.txt") : a === "PLAIN" ? hsm.file("ec-key.key") : a.replace("PINFILE", join(hsm.dir, "pin.txt")));
    const run = await left(secret, filled);
    expect({ code: run.code, left: run.left }, run.stderr).toEqual({ code, left: 0 });
  });
});
