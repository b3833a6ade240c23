/**
 * Labels are a token's maker's bytes (round 38, H4). Two real SoftHSM tokens, one labelled with the six characters
 * `\u00ad` typed out and one with U+00AD itself: the --debug listing of the tokens must tell them apart (before, both
 * read `token "dev\u00adice"`). A third labelled with a Latin-1 byte (0xE9, not UTF-8), which pkcs11js reads as
 * U+FFFD: the URI the listing prints must name that token for the agent and for p11-kit (before, `token=caf%EF%BF%BD`,
 * a label the token does not have: p11tool found nothing by it), and the command a hint gives to set its user PIN
 * must select it (before, `pkcs11-tool --token-label 'caf\ufffd'`: "No slot with token named").
 */
import { execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, makeTempDir } from "../test/helpers/pki.js";
import { SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const TYPED = "dev\\u00adice"; // a backslash, a u, …
const INVISIBLE = "dev\u00adice";
const tmp = makeTempDir("raa-label-lookalikes-");
const conf = join(tmp.dir, "softhsm2.conf");
const env = { ...process.env, SOFTHSM2_CONF: conf };

const initToken = (label: string) => execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", "1234"], { env, stdio: "ignore" });
// Node's argv is UTF-8 text: the byte 0xE9 alone reaches softhsm2-util (which keeps argv's bytes as the label) through sh.
const initLatin1Token = () => execFileSync("sh", ["-c", "softhsm2-util --init-token --free --label \"$(printf 'caf\\351')\" --so-pin 12345678 --pin 1234"], { env, stdio: "ignore" });

beforeAll(() => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  initToken(TYPED);
  initToken(INVISIBLE);
  initLatin1Token();
  const ca = createCa(join(tmp.dir, "ca"), { name: "Latin-1 Token CA" });
  const der = join(tmp.dir, "cert.der");
  writeFileSync(der, new X509Certificate(readFileSync(ca.certPath)).raw);
  const slots = execFileSync("softhsm2-util", ["--show-slots"], { env, encoding: "latin1" });
  const latin1Slot = slots.split(/^(?=Slot )/m).find((block) => /Label:\s*caf\u00e9/.test(block))?.match(/^Slot (\d+)/)?.[1];
  expect(latin1Slot).toBeDefined();
  execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--slot", latin1Slot!, "--login", "--pin", "1234", "--write-object", der, "--type", "cert", "--label", "latin", "--id", "e9"], { env, stdio: "ignore" });
});

afterAll(() => tmp.cleanup());

describe("token labels that look alike or are not UTF-8", () => {
  it("the --debug listing of the tokens tells a typed `\\u00ad` from U+00AD", async () => {
    const run = await runCli(DIST_CLI, ["sign-string", "--certificate", "pkcs11:token=none;object=x", "--private-key", "pkcs11:token=none;object=x", "--pkcs11-lib", SOFTHSM_MODULE, "--debug", "abc"], env);
    const listing = /^debug: pkcs11: tokens: (.*)$/m.exec(run.stderr)?.[1];
    expect(listing).toBeDefined();
    expect(listing).toContain('token "dev\\\\u00adice"'); // typed: its backslash doubled
    expect(listing).toContain('token "dev\\u00adice"'); // U+00AD escaped
    expect(listing).not.toContain("\u00ad");
  });

  it("a Latin-1 label: the URI printed for its certificate names that token for the agent and for p11tool", async () => {
    const list = async (uri: string) => {
      const run = await runCli(DIST_CLI, ["read-certificate-data", "--certificate", uri, "--pkcs11-lib", SOFTHSM_MODULE], env);
      return { ...run, uris: [...run.stdout.matchAll(/^URI: (.*)$/gm)].map((m) => m[1]!) };
    };
    const { code, uris } = await list("pkcs11:id=%e9");
    expect([code, uris.length]).toEqual([0, 1]);
    const printed = uris[0]!;
    expect(printed).not.toContain("%EF%BF%BD");
    expect(printed).toMatch(/;serial=[0-9a-f]+;/);
    expect((await list(printed)).uris).toEqual([printed]);
    const found = execFileSync("p11tool", ["--provider", SOFTHSM_MODULE, "--list-all-certs", "--only-urls", printed], { env, encoding: "utf8" }).trim().split("\n").filter(Boolean);
    expect(found).toHaveLength(1);
    expect(found[0]).toContain("token=caf%E9");
  });

  it("a Latin-1 label whose user PIN was never set: the hint's command, run as printed, sets it on that token", async () => {
    const dir = join(tmp.dir, "unset");
    mkdirSync(join(dir, "tokens"), { recursive: true });
    writeFileSync(join(dir, "softhsm2.conf"), `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
    const unsetEnv = { ...process.env, SOFTHSM2_CONF: join(dir, "softhsm2.conf"), PIN: "1234" };
    // pkcs11-tool --init-token sets the SO PIN only (softhsm2-util would set the user PIN too).
    execFileSync("sh", ["-c", `pkcs11-tool --module ${SOFTHSM_MODULE} --init-token --slot-index 0 --label "$(printf 'caf\\351')" --so-pin 12345678`], { env: unsetEnv, stdio: "ignore" });
    const serial = /serial num\s*:\s*(\S+)/.exec(execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "-L"], { env: unsetEnv, encoding: "latin1" }))![1]!;
    const ca = createCa(join(dir, "ca"), { name: "Unset PIN CA" });
    const run = await runCli(DIST_CLI, ["sign-string", "--certificate", ca.certPath, "--private-key", `pkcs11:serial=${serial};object=k`, "--pkcs11-lib", SOFTHSM_MODULE, "--pkcs11-pin-env", "PIN", "abc"], unsetEnv);
    expect(run.stderr).toContain("CKR_USER_PIN_NOT_INITIALIZED");
    const command = /`(pkcs11-tool [^`]*)`/.exec(run.stderr)?.[1];
    expect(command).toBeDefined();
    // The PINs as arguments here only (a test token): the command itself asks for them.
    const set = spawnSync("sh", ["-c", `${command} --so-pin 12345678 --new-pin 1234`], { env: unsetEnv, encoding: "utf8" });
    expect([set.status, set.stderr + set.stdout]).toEqual([0, expect.stringContaining("User PIN successfully initialized")]);
  });
});
