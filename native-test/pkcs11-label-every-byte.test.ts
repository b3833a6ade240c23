/**
 * Hostile token labels, by their bytes (round 41, S38): nine real SoftHSM tokens whose labels hold every byte 0x01–0xFF
 * (31 a token, then 0xFF, so each is read as bytes), and one `\u202e` (RTL override, as UTF-8) `evil` ESC `[31m` LF
 * 0xFF, each with a certificate. The URI printed for each certificate names its token by the label's bytes: it lists
 * that certificate alone, prints itself again, and p11tool finds that one certificate by it. The listing and the
 * --debug tokens line carry no ESC, LF or U+202E: `\u001b`, `\u000a`, `\u202e`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const tmp = makeTempDir("raa-label-every-byte-");
const conf = join(tmp.dir, "softhsm2.conf");
const env = { ...process.env, SOFTHSM2_CONF: conf, PIN: "1234" };
const EVERY_BYTE = Array.from({ length: 255 }, (_, i) => i + 1);
const LABELS = [
  ...Array.from({ length: 9 }, (_, k) => Buffer.from([...EVERY_BYTE.slice(31 * k, 31 * k + 31), 0xff])),
  Buffer.concat([Buffer.from("\u202eevil\u001b[31m\n", "utf8"), Buffer.from([0xff])]),
];

beforeAll(() => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  LABELS.forEach((label, i) => {
    // The label's bytes through a file and sh: Node's argv is UTF-8 text ($(cat) keeps all but trailing LFs: none).
    writeFileSync(join(tmp.dir, `label-${i}`), label);
    const cert = join(tmp.dir, `cert-${i}.der`);
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(tmp.dir, `key-${i}.pem`), "-outform", "DER", "-out", cert, "-subj", `/CN=label-${i}`, "-days", "2"], { stdio: "ignore" });
    const label$ = `"$(cat ${join(tmp.dir, `label-${i}`)})"`;
    execFileSync("sh", ["-c", `softhsm2-util --init-token --free --label ${label$} --so-pin 12345678 --pin 1234 && `
      + `pkcs11-tool --module ${SOFTHSM_MODULE} --token-label ${label$} --login --pin 1234 --write-object ${cert} --type cert --id 01 --label c`], { env, stdio: "ignore" });
  });
}, 120_000);

afterAll(() => tmp.cleanup());

const listing = async (uri: string) => {
  const run = await runCli(DIST_CLI, ["read-certificate-data", "--certificate", uri, "--pkcs11-lib", SOFTHSM_MODULE], env);
  return { ...run, uris: [...run.stdout.matchAll(/^URI: (.*)$/gm)].map((m) => m[1]!), subjects: [...run.stdout.matchAll(/^Subject: (.*)$/gm)].map((m) => m[1]!) };
};

describe("token labels of every byte", () => {
  it("each certificate's URI lists it alone, prints itself again, and p11tool finds it by that URI", async () => {
    const all = await listing("pkcs11:object=c");
    expect([...all.subjects].sort()).toEqual(LABELS.map((_, i) => `CN=label-${i}`).sort());
    expect(all.uris).toHaveLength(LABELS.length);
    for (const [i, uri] of all.uris.entries()) {
      expect(uri).not.toContain("%EF%BF%BD");
      const one = await listing(uri);
      expect([one.code, one.subjects, one.uris]).toEqual([0, [all.subjects[i]], [uri]]);
      const found = execFileSync("p11tool", ["--provider", SOFTHSM_MODULE, "--list-all-certs", "--only-urls", uri], { env, encoding: "utf8" }).trim().split("\n").filter(Boolean);
      expect(found).toHaveLength(1);
    }
  });

  it("the --debug tokens line and the ambiguity message carry no ESC, LF or RTL override from a label", async () => {
    const run = await runCli(DIST_CLI, ["sign-string", "--certificate", join(tmp.dir, "cert-0.der"), "--private-key", "pkcs11:object=none", "--pkcs11-lib", SOFTHSM_MODULE, "--pkcs11-pin-env", "PIN", "--debug"], env);
    expect(run.stderr).toContain(`matches ${LABELS.length} tokens`);
    expect(run.stderr).not.toMatch(/[\u001b\u202e]/);
    const tokensLine = run.stderr.split("\n").filter((line) => line.startsWith("debug: pkcs11: tokens: "));
    expect(tokensLine).toHaveLength(1);
    expect(tokensLine[0]).toContain('token "\\u202eevil\\u001b[31m\\u000a\\xff"');
    expect(tokensLine[0]).toContain('token "\\u0001\\u0002');
  });
});
