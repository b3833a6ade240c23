/**
 * Token labels whose bytes are not UTF-8, read as bytes (round 41, L1). Two real SoftHSM tokens labelled `caf\xe9` and
 * `caf\xff` (Latin-1 bytes, both `caf\ufffd` through pkcs11js), each with its own key and certificate. Before, the URI
 * parser refused `token=caf%E9` ("not valid UTF-8 once percent-decoded"), the URIs printed for their certificates had no
 * token= (serial= only), and the --debug listing showed both as `token "caf\ufffd"`. Now raa_native's pkcs11TokenInfo
 * reads the label's bytes: `token=caf%E9` selects that token and not the other, the URIs printed carry `token=caf%E9`
 * (p11tool finds the certificate by them), and the listing shows `token "caf\xe9"` and `token "caf\xff"`.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const tmp = makeTempDir("raa-label-bytes-");
const conf = join(tmp.dir, "softhsm2.conf");
const env = { ...process.env, SOFTHSM2_CONF: conf, PIN: "1234" };
const BYTES = { e9: "351", ff: "377" } as const; // printf's octal for 0xE9, 0xFF

/** The slot of the token labelled `caf` + that byte (softhsm2-util prints the label's bytes as they are). */
function slotOf(byte: keyof typeof BYTES): string {
  const slots = execFileSync("softhsm2-util", ["--show-slots"], { env, encoding: "latin1" });
  const label = `caf${String.fromCharCode(parseInt(byte, 16))}`;
  const slot = slots.split(/^(?=Slot )/m).find((block) => new RegExp(`Label:\\s*${label}\\s*$`, "m").test(block))?.match(/^Slot (\d+)/)?.[1];
  expect(slot).toBeDefined();
  return slot!;
}

beforeAll(() => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  for (const [byte, octal] of Object.entries(BYTES)) {
    // Node's argv is UTF-8 text: the byte alone reaches softhsm2-util (which keeps argv's bytes as the label) through sh.
    execFileSync("sh", ["-c", `softhsm2-util --init-token --free --label "$(printf 'caf\\${octal}')" --so-pin 12345678 --pin 1234`], { env, stdio: "ignore" });
    const key = join(tmp.dir, `key-${byte}.pem`);
    const cert = join(tmp.dir, `cert-${byte}.pem`);
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-subj", `/CN=token-${byte}`, "-days", "2"], { stdio: "ignore" });
    execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", key, "-outform", "DER", "-out", `${key}.der`]);
    execFileSync("openssl", ["x509", "-in", cert, "-outform", "DER", "-out", `${cert}.der`]);
    const slot = slotOf(byte as keyof typeof BYTES);
    for (const [file, type] of [[`${key}.der`, "privkey"], [`${cert}.der`, "cert"]] as const) {
      execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--slot", slot, "--login", "--pin", "1234", "--write-object", file, "--type", type, "--id", "01", "--label", "k"], { env, stdio: "ignore" });
    }
  }
});

afterAll(() => tmp.cleanup());

const pkcs11Args = ["--pkcs11-lib", SOFTHSM_MODULE, "--pkcs11-pin-env", "PIN"];
const listUris = async (uri: string) => {
  const run = await runCli(DIST_CLI, ["read-certificate-data", "--certificate", uri, "--pkcs11-lib", SOFTHSM_MODULE], env);
  return { ...run, uris: [...run.stdout.matchAll(/^URI: (.*)$/gm)].map((m) => m[1]!), subjects: [...run.stdout.matchAll(/^Subject: (.*)$/gm)].map((m) => m[1]!) };
};

describe("token labels that are not UTF-8, by their bytes", () => {
  it("sign-string and credential-process with pkcs11:token=caf%E9 use that token, and caf%FF the other", async () => {
    for (const byte of ["E9", "FF"]) {
      const uri = `pkcs11:token=caf%${byte};object=k`;
      const run = await runCli(DIST_CLI, ["sign-string", "--certificate", uri, "--private-key", uri, ...pkcs11Args, "--debug"], env);
      expect([run.code, run.stderr]).toEqual([0, expect.stringContaining(`logged in to token "caf\\x${byte.toLowerCase()}"`)]);
      // credential-process gets as far as the endpoint (none listens): the token, its key and certificate were found.
      const creds = await runCli(DIST_CLI, ["credential-process", "--certificate", uri, "--private-key", uri, ...pkcs11Args,
        "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/a", "--profile-arn", "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p",
        "--role-arn", "arn:aws:iam::123456789012:role/r", "--endpoint", "http://127.0.0.1:9", "--debug"], env);
      expect(creds.stderr).toContain(`logged in to token "caf\\x${byte.toLowerCase()}"`);
      expect(creds.stderr).not.toContain("PKCS11_URI_INVALID");
      expect(creds.stderr).not.toContain("not valid UTF-8");
    }
  });

  it("read-certificate-data: token=caf%E9 lists that token's certificate only, with a URI carrying the label's bytes, which p11tool finds", async () => {
    for (const byte of ["E9", "FF"]) {
      const { code, uris, subjects } = await listUris(`pkcs11:token=caf%${byte}`);
      expect([code, subjects]).toEqual([0, [`CN=token-${byte.toLowerCase()}`]]);
      const printed = uris[0]!;
      expect(printed).toContain(`token=caf%${byte}`);
      expect((await listUris(printed)).uris).toEqual([printed]); // print → parse → the same token
      const found = execFileSync("p11tool", ["--provider", SOFTHSM_MODULE, "--list-all-certs", "--only-urls", printed], { env, encoding: "utf8" }).trim().split("\n").filter(Boolean);
      expect(found).toHaveLength(1);
      expect(found[0]).toContain(`token=caf%${byte}`);
    }
  });

  it("a URI both tokens match is still refused as ambiguous, the two told apart by their labels' bytes", async () => {
    const run = await runCli(DIST_CLI, ["sign-string", "--certificate", join(tmp.dir, "cert-e9.pem"), "--private-key", "pkcs11:object=k", ...pkcs11Args, "--debug"], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("pkcs11:object=k matches 2 tokens");
    expect(run.stderr).toContain("token=caf%E9");
    expect(run.stderr).toContain("token=caf%FF");
    expect(run.stderr).toMatch(/^debug: pkcs11: tokens: .*token "caf\\xe9".*$/m);
    expect(run.stderr).toMatch(/^debug: pkcs11: tokens: .*token "caf\\xff".*$/m);
  });

  it("keygen on token=caf%FF prints a key URI with token=caf%FF, by which sign-string signs (before: token=caf%EF%BF%BD)", async () => {
    const made = await runCli(DIST_CLI, ["keygen", "--private-key", "pkcs11:token=caf%FF;object=made", ...pkcs11Args], env);
    expect(made.code).toBe(0);
    const uri = made.stdout.trim();
    expect(uri).toContain("token=caf%FF");
    expect(uri).not.toContain("%EF%BF%BD");
    const run = await runCli(DIST_CLI, ["sign-string", "--private-key", uri, ...pkcs11Args, "--debug"], env);
    expect([run.code, run.stderr]).toEqual([0, expect.stringContaining('logged in to token "caf\\xff"')]);
  });

  it("a label typed as the six characters caf\\xe9 is another token, listed with its backslash doubled", async () => {
    execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "caf\\xe9", "--so-pin", "12345678", "--pin", "1234"], { env, stdio: "ignore" });
    const run = await runCli(DIST_CLI, ["sign-string", "--certificate", "pkcs11:token=none;object=k", "--private-key", "pkcs11:token=none;object=k", ...pkcs11Args, "--debug"], env);
    const listing = /^debug: pkcs11: tokens: (.*)$/m.exec(run.stderr)?.[1];
    expect(listing).toContain('token "caf\\\\xe9"');
    expect(listing).toContain('token "caf\\xe9"');
    const typed = await runCli(DIST_CLI, ["sign-string", "--certificate", "pkcs11:token=caf%5Cxe9;object=k", "--private-key", "pkcs11:token=caf%5Cxe9;object=k", ...pkcs11Args], env);
    expect(typed.stderr).toContain('on token "caf\\\\xe9"'); // that empty token, not the Latin-1 one
  });
});
