/**
 * The throwaway SoftHSM tokens of softhsm/create-test-token.sh in a temp directory, for one test file.
 * SoftHSM reads SOFTHSM2_CONF when the module is initialised, so the file sets it before its first signer.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as pkcs11js from "pkcs11js";
import { Certificate } from "../../src/x509/certificate.js";

export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
export const PKCS11_SPY_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so";
/**
 * A wrong PIN for tests whose oracle is "the PIN is not in the output". Not digits or hex, which token serials
 * (SoftHSM's are 16 random hex digits) and temp names can contain by chance: "9999" failed CI that way.
 */
export const WRONG_PIN = "wrong-PIN-kq";
/**
 * Runs `use` in a logged-in read-write session on the SoftHSM token labelled `token`, over the raw binding: for
 * objects no tool would write (pkcs11-tool parses a file first). SoftHSM reads this process's SOFTHSM2_CONF.
 */
export function withSoftHsmSession<T>(token: string, pin: string, use: (lib: pkcs11js.PKCS11, session: Buffer, slot: Buffer) => T): T {
  const lib = new pkcs11js.PKCS11();
  lib.load(SOFTHSM_MODULE);
  lib.C_Initialize();
  try {
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token)!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    lib.C_Login(session, pkcs11js.CKU_USER, pin);
    return use(lib, session, slot);
  } finally {
    lib.C_Finalize();
  }
}

/** A SoftHSM configuration in `dir` whose tokens are files in `dir`/tokens (made here): its path, for SOFTHSM2_CONF. */
export function writeSoftHsmConf(dir: string): string {
  const conf = join(dir, "softhsm2.conf");
  mkdirSync(join(dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  return conf;
}

/**
 * Sets `variables` in this process's environment (undefined: unsets it; the module in this process reads
 * SOFTHSM2_CONF, the shim its RAA_SHIM_*, a test may change one later): returns what puts back the values they had.
 */
export function setProcessEnv(variables: Readonly<Record<string, string | undefined>>): () => void {
  const put = (entries: [string, string | undefined][]) => {
    for (const [name, value] of entries) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  const previous = Object.keys(variables).map((name): [string, string | undefined] => [name, process.env[name]]);
  put(Object.entries(variables));
  return () => put(previous);
}

/** A new SoftHSM token labelled `label` (SO PIN 12345678, user PIN 1234) in the token directory of the SoftHSM configuration `conf`. */
export function initSoftHsmToken(label: string, conf: string): void {
  const args = ["--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", "1234"];
  execFileSync("softhsm2-util", args, { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: "ignore" });
}

/** An X.509 certificate object as another user's C_CreateObject stores it: any bytes as its CKA_VALUE, an empty CKA_SUBJECT. */
export const certificateObjectTemplate = (value: Buffer, label: string, id: string): pkcs11js.Template => [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
  { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_LABEL, value: label },
  { type: pkcs11js.CKA_ID, value: Buffer.from(id, "hex") },
  { type: pkcs11js.CKA_VALUE, value },
  { type: pkcs11js.CKA_SUBJECT, value: Buffer.from([0x30, 0]) },
];

/** The key of a PEM file as a private and a public key object with `id` and `label` on `token`, as pkcs11-tool writes them. */
export function importSoftHsmKey(token: string, keyPem: string, id: string, label: string, conf: string): void {
  const privateDer = `${keyPem}.p8.der`;
  const publicDer = `${keyPem}.pub.der`;
  execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", keyPem, "-outform", "DER", "-out", privateDer]);
  execFileSync("openssl", ["pkey", "-in", keyPem, "-pubout", "-outform", "DER", "-out", publicDer]);
  for (const [file, type] of [[privateDer, "privkey"], [publicDer, "pubkey"]] as const) {
    const write = ["--write-object", file, "--type", type, "--id", id, "--label", label];
    execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", token, "--login", "--pin", "1234", ...write], {
      env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: "ignore",
    });
  }
}

const SCRIPT = resolve(import.meta.dirname, "../../softhsm/create-test-token.sh");

export interface SoftHsmFixture {
  readonly dir: string;
  readonly conf: string;
  readonly module: string;
  readonly pin: string;
  readonly token: "rolesanywhere";
  readonly token2: "second-token";
  readonly serial: string;
  readonly serial2: string;
  /** The script's stdout (comments and export lines). */
  readonly output: string;
  /** A file written by the script: `file("ec-key.pem")`. */
  file(name: string): string;
  certificate(name: string): Certificate;
  /** A PIN file holding `pin` (default: the right PIN), newline-terminated as `echo` writes it. */
  pinFile(pin?: string): string;
  /** The token directory SoftHSM keeps the given token in. */
  tokenDirectory(label: string): string;
  cleanup(): void;
}

export function createSoftHsmFixture(prefix = "raa-softhsm-"): SoftHsmFixture {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const output = execFileSync("bash", [SCRIPT, dir], { encoding: "utf8" });
  const conf = join(dir, "softhsm2.conf");
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  const listing = execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "-L"], { env, encoding: "utf8" });
  const serials = new Map<string, string>();
  let label = "";
  for (const line of listing.split("\n")) {
    const l = /token label\s*:\s*(.*)$/.exec(line);
    if (l) label = l[1]!.trim();
    const s = /serial num\s*:\s*(.*)$/.exec(line);
    if (s && label) serials.set(label, s[1]!.trim());
  }
  let pinFiles = 0;
  return {
    dir,
    conf,
    module: SOFTHSM_MODULE,
    pin: "1234",
    token: "rolesanywhere",
    token2: "second-token",
    serial: serials.get("rolesanywhere")!,
    serial2: serials.get("second-token")!,
    output,
    file: (name) => join(dir, name),
    certificate: (name) => new Certificate(execFileSync("openssl", ["x509", "-in", join(dir, name), "-outform", "DER"])),
    pinFile(pin = "1234") {
      const path = join(dir, `pin-${++pinFiles}.txt`);
      writeFileSync(path, `${pin}\n`, { mode: 0o600 });
      return path;
    },
    tokenDirectory(wanted) {
      const tokens = join(dir, "tokens");
      for (const entry of readdirSync(tokens)) {
        const data = readFileSync(join(tokens, entry, "token.object"));
        if (data.includes(Buffer.from(wanted.padEnd(32, " ")))) return join(tokens, entry);
      }
      throw new Error(`no token directory for ${wanted}`);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
