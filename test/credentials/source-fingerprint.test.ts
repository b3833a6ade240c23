import { afterAll, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, symlinkSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sourceFingerprint } from "../../src/credentials/source-registry.js";
import { makeTempDir } from "../helpers/pki.js";
import { standInSettings } from "../helpers/stand-in.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { ARNS } from "../local-endpoint/support.js";

const { dir, cleanup } = makeTempDir("raa-fingerprint-");
afterAll(cleanup);

// Swaps `x` between a link to key.pem and one to the FIFO, 10,000 times; then writes `done` and, until killed,
// opens and closes the FIFO for writing whenever a reader has it open (so that a reader stuck in open() returns, to
// read nothing). Nothing is written: that would change the FIFO's ctime, which its identity holds.
const SWAPPER = `
const fs = require("node:fs");
const d = process.argv[1];
for (let i = 0; i < 10000; i++) {
  fs.symlinkSync(i % 2 ? "fifo" : "key.pem", d + "/tmp");
  fs.renameSync(d + "/tmp", d + "/x");
}
fs.writeFileSync(d + "/done", "");
setInterval(() => {
  try {
    fs.closeSync(fs.openSync(d + "/fifo", fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch {}
}, 5);
`;

it("a name swapped between a file and a FIFO while a reload reads it: the FIFO is never opened to be read", async () => {
  // Before: statSync(path), then readFileSync(path) by name again: a FIFO put there in between was opened blocking
  // (the daemon's event loop waited for a writer) and read.
  writeFileSync(join(dir, "key.pem"), "key\n");
  execFileSync("mkfifo", [join(dir, "fifo")]);
  const path = join(dir, "x");
  const settings = standInSettings(undefined, path);
  symlinkSync("key.pem", path);
  const asFile = sourceFingerprint(settings);
  symlinkSync("fifo", join(dir, "tmp"));
  renameSync(join(dir, "tmp"), path);
  const asFifo = sourceFingerprint(settings);
  expect(asFifo).not.toBe(asFile);

  const swapper = spawn(process.execPath, ["-e", SWAPPER, dir], { stdio: "ignore" });
  const exited = new Promise((resolve) => swapper.once("exit", resolve));
  const seen = new Set<string>();
  let reads = 0;
  try {
    while (!existsSync(join(dir, "done"))) {
      seen.add(sourceFingerprint(settings));
      reads++;
    }
  } finally {
    swapper.kill();
    await exited;
  }
  expect(reads).toBeGreaterThan(0);
  expect([...seen].filter((f) => f !== asFile && f !== asFifo)).toEqual([]);
});

it("an empty file copied over with the same (no) bytes is the same; written to, it is not", () => {
  // An empty PIN file (an empty PIN) rewritten by configuration management at each run must not rebuild the source.
  const pin = join(dir, "empty.pin");
  writeFileSync(pin, "");
  const settings = (path: string) => {
    const base = standInSettings(undefined, join(dir, "key.pem"));
    return { ...base, signer: { ...base.signer, keyPassword: { kind: "file" as const, path } } };
  };
  const before = sourceFingerprint(settings(pin));
  writeFileSync(`${pin}.new`, "");
  renameSync(`${pin}.new`, pin);
  expect(sourceFingerprint(settings(pin))).toBe(before);
  writeFileSync(pin, "1234");
  expect(sourceFingerprint(settings(pin))).not.toBe(before);
});

it("keeps no PIN as text, a pkcs11: URI's pin-value nor a value given directly; another PIN still changes it", () => {
  // Before: the settings' JSON, a URI's pin-value in it, kept for the source's life (the registry, update's reload rule).
  const uri = (pin: string) => standInSettings(undefined, `pkcs11:token=t;object=k?pin-value=${pin}`);
  expect(sourceFingerprint(uri("86421357"))).not.toContain("86421357");
  expect(sourceFingerprint(uri("86421357"))).toBe(sourceFingerprint(uri("86421357")));
  expect(sourceFingerprint(uri("86421357"))).not.toBe(sourceFingerprint(uri("86421358")));
  // A value given directly is held as bytes (no string in the settings): its content still tells two apart.
  const given = (pin: string) => {
    const base = standInSettings(undefined, "pkcs11:token=t;object=k");
    const held = credentialSettingsFromOptions({ ...ARNS, privateKey: "pkcs11:token=t;object=k", pkcs11: { pin } }).signer.pkcs11;
    return { ...base, signer: { ...base.signer, pkcs11: held } };
  };
  expect(sourceFingerprint(given("1111"))).toBe(sourceFingerprint(given("1111")));
  expect(sourceFingerprint(given("1111"))).not.toBe(sourceFingerprint(given("2222")));
  // A pin-value of the settings is taken out of the URI's text (uriPin): another one still changes the fingerprint.
  const taken = (pin: string) => credentialSettingsFromOptions({ ...ARNS, privateKey: `pkcs11:token=t;object=k?pin-value=${pin}` });
  expect(taken("1111").signer.privateKey).toBe("pkcs11:object=k;token=t");
  expect(sourceFingerprint(taken("1111"))).toBe(sourceFingerprint(taken("1111")));
  expect(sourceFingerprint(taken("1111"))).not.toBe(sourceFingerprint(taken("2222")));
});

it("digests the file AWS_CA_BUNDLE names, as --ca-bundle's (which wins: then the variable's file is not read)", () => {
  const [fromEnv, given] = [join(dir, "env-ca.pem"), join(dir, "given-ca.pem")];
  writeFileSync(fromEnv, "first\n");
  writeFileSync(given, "given\n");
  const settings = (caBundle?: string) => {
    const base = standInSettings(undefined, join(dir, "key.pem"));
    return { ...base, endpoint: { ...base.endpoint, env: { AWS_CA_BUNDLE: fromEnv }, ...(caBundle ? { caBundle } : {}) } };
  };
  const [before, beforeGiven] = [sourceFingerprint(settings()), sourceFingerprint(settings(given))];
  writeFileSync(fromEnv, "second\n"); // in place, before a SIGHUP
  expect(sourceFingerprint(settings())).not.toBe(before); // before: the same, the source kept with the old trust
  expect(sourceFingerprint(settings(given))).toBe(beforeGiven);
});

it("digests the PKCS#11 module a source loads by path (--pkcs11-lib, a URI's module-path), not a bare library name", () => {
  const module = join(dir, "module.so");
  writeFileSync(module, "module 1\n");
  const viaLibrary = () => {
    const base = standInSettings();
    return { ...base, signer: { ...base.signer, pkcs11: { library: module } } };
  };
  const viaUri = () => standInSettings(undefined, `pkcs11:token=t;object=k?module-path=${module}&pin-value=1234`);
  // The certificate on the token, by its own URI naming the module; the key a file.
  const viaCertificateUri = () => standInSettings(`pkcs11:token=t;object=c;type=cert?module-path=${module}`, join(dir, "key.pem"));
  const bare = () => {
    const base = standInSettings();
    return { ...base, signer: { ...base.signer, pkcs11: { library: "module.so" } } };
  };
  const all = [viaLibrary, viaUri, viaCertificateUri, bare];
  // A bare name is searched by the dynamic loader, never in the working directory: even with a module.so there, that
  // file is no input of the source's.
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const before = all.map((settings) => sourceFingerprint(settings()));
    writeFileSync(`${module}.new`, "module 2\n");
    renameSync(`${module}.new`, module); // before: the same fingerprints, the source kept on the deleted module
    expect(all.map((settings) => sourceFingerprint(settings()) === before.shift())).toEqual([false, false, false, true]);
  } finally {
    process.chdir(cwd);
  }
});
