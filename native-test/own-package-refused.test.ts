/**
 * A dependency that own-package.ts refuses because another user could have put it there (round 34): a node_modules
 * writable by all, or a package directory owned by another account (`r34h5-…`, created with useradd and removed
 * afterwards). The copies are good ones (the checkout's own pkcs11js, yargs and @noble/post-quantum); before the fix
 * the runs said "PKCS#11 support is not installed … reinstall" / "the installation changed … reinstall" (--help), which sends
 * the operator to reinstall into the same directory. Now each names the directory and how to make it safe; an ML-DSA key (@noble/post-quantum) not yet (below).
 */
import { chmodSync, chownSync, copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueMlDsaLeaf } from "../test/helpers/mldsa-pki.js";
import { createCa, makeTempDir } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { runCli } from "./helpers/run-cli.js";

const REPO = process.cwd();
const SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so";
const DEPENDENCIES = ["pkcs11js", "yargs"];

const { dir, cleanup } = makeTempDir("raa-own-package-refused-");
let other: LocalUser;
let leaf: { certPath: string; keyPath: string };

/** <dir>/<name>/pkg: the package (package.json, dist/) with a node_modules of links to the checkout's dependencies. */
function installation(name: string): { pkg: string; modules: string; cli: string } {
  const pkg = join(dir, name, "pkg");
  const modules = join(pkg, "node_modules");
  mkdirSync(join(modules, "@noble"), { recursive: true });
  copyFileSync(join(REPO, "package.json"), join(pkg, "package.json"));
  cpSync(join(REPO, "dist"), join(pkg, "dist"), { recursive: true });
  for (const entry of readdirSync(join(REPO, "node_modules"))) {
    if (!entry.startsWith(".") && entry !== "@noble") symlinkSync(join(REPO, "node_modules", entry), join(modules, entry));
  }
  for (const entry of readdirSync(join(REPO, "node_modules", "@noble"))) symlinkSync(join(REPO, "node_modules", "@noble", entry), join(modules, "@noble", entry));
  return { pkg, modules, cli: join(pkg, "dist", "cli.js") };
}

function chownTree(path: string, user: LocalUser): void {
  chownSync(path, user.uid, user.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) chownTree(join(path, entry.name), user);
    else chownSync(join(path, entry.name), user.uid, user.gid);
  }
}

const env = () => ({ PATH: process.env["PATH"], HOME: dir });
const signPkcs11 = (cli: string) => runCli(cli, ["sign-string", "--certificate", `pkcs11:token=x?module-path=${SOFTHSM}`], env());
const signMlDsa = (cli: string) => runCli(cli, ["sign-string", "--certificate", leaf.certPath, "--private-key", leaf.keyPath], env());
const help = (cli: string) => runCli(cli, ["--help"], env());

beforeAll(() => {
  if (!canCreateUsers()) return;
  chmodSync(dir, 0o755);
  other = createLocalUser("r34h5-other", dir);
  const ca = createCa(join(dir, "ca"), { name: "r34h5 CA", keyType: "p256" });
  leaf = issueMlDsaLeaf(ca, dir, { name: "r34h5-mldsa", keyType: "ML-DSA-44" });
  chmodSync(leaf.keyPath, 0o600);
}, 60_000);

afterAll(() => {
  other?.remove();
  cleanup();
});

describe.skipIf(!canCreateUsers())("a dependency refused because another user could have put it there: the run says which directory and what to do", () => {
  it("a node_modules writable by all (root's, 0777): each dependency names it", async () => {
    const { modules, cli } = installation("world-writable");
    chmodSync(modules, 0o777);
    const fix = `chown -R root: ${modules} and chmod go-w ${modules}`;
    const pkcs11 = await signPkcs11(cli);
    expect(pkcs11.stderr).toBe(`roles-anywhere-agent: PKCS#11 support (pkcs11js) is not loaded: ${modules} can be written by other users (${fix})\n`);
    expect(pkcs11.code).toBe(5);
    const usage = await help(cli);
    expect(usage.stderr).toBe(`roles-anywhere-agent: yargs is not loaded: ${modules} can be written by other users (${fix})\n`);
    expect(usage.code).toBe(3);
  });

  // Not fixed (round 34): the refusal's wording lives in src/pkcs11/addon-status.ts, which the credential-process
  // bundle for file keys may not hold (scripts/build.mjs); an ML-DSA key needs it from src/os/, next to the rule.
  it.fails("an ML-DSA key with @noble/post-quantum in that node_modules: says the same (today: 'the installation changed … reinstall')", async () => {
    const { modules, cli } = installation("world-writable-mldsa");
    chmodSync(modules, 0o777);
    const fix = `chown -R root: ${modules} and chmod go-w ${modules}`;
    const mldsa = await signMlDsa(cli);
    expect(mldsa.stderr).toBe(`roles-anywhere-agent: @noble/post-quantum/ml-dsa.js is not loaded: ${modules} can be written by other users (${fix})\n`);
  });

  it("pkcs11js and yargs owned by another account: the run names the directory and its owner's uid", async () => {
    const { modules, cli } = installation("other-owner");
    for (const name of DEPENDENCIES) {
      const target = join(modules, name);
      const source = join(REPO, "node_modules", name);
      // A real copy (not the link) the other account owns; yargs's own dependencies stay links to the checkout's.
      rmSync(target);
      cpSync(source, target, { recursive: true, dereference: true });
      chownTree(target, other);
    }
    const owned = (name: string) => `${join(modules, name)} belongs to uid ${other.uid} (chown -R root: ${join(modules, name)} and chmod go-w ${join(modules, name)})`;
    expect((await signPkcs11(cli)).stderr).toBe(`roles-anywhere-agent: PKCS#11 support (pkcs11js) is not loaded: ${owned("pkcs11js")}\n`);
    expect((await help(cli)).stderr).toBe(`roles-anywhere-agent: yargs is not loaded: ${owned("yargs")}\n`);
  });

  it("the same installation made safe again (chown, chmod go-w): --help and the ML-DSA key work", async () => {
    const { modules, cli } = installation("made-safe");
    chmodSync(modules, 0o777);
    expect((await help(cli)).code).not.toBe(0);
    chmodSync(modules, 0o755);
    expect(await help(cli)).toMatchObject({ code: 0, stdout: expect.stringContaining("Commands:") });
    expect((await signMlDsa(cli)).stderr).not.toMatch(/not loaded/);
  });
});

// The native helper's refusal is worded in src/os/native-helper.ts (loadNativeHelper); doctor has no row for it, the
// long-running commands warn at start. Recorded here as it reads today (round 34), so that a change of it is seen.
describe.skipIf(!canCreateUsers())("dist/native owned by another account: the long-running commands' warning", () => {
  it("says the helper is not loaded and that another user could have put it there", async () => {
    const { pkg, cli } = installation("native-owner");
    chownTree(join(pkg, "dist", "native"), other);
    const run = await runCli(cli, ["update"], env());
    expect(run.stderr).toMatch(/the native helper is not available \(\S+\/raa_native\.node is not loaded: another user could have put it there/);
  });
});
