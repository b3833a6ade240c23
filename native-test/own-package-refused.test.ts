/**
 * A dependency that own-package.ts refuses because another user could have put it there (round 34), built with a
 * real second account (`r34h5-…`, created with useradd and removed afterwards): a node_modules writable by all
 * holding good copies (the checkout's own pkcs11js, yargs and @noble/post-quantum), and package directories owned by
 * that account. Before main's 7625d49a the runs said "PKCS#11 support is not installed … reinstall" (pkcs11js: exit 5)
 * and "the installation changed … yargs is missing … reinstall" (exit 1), which sends the operator to reinstall into
 * the same directory; now each says which copy in which directory is not loaded and why (FILE_UNSAFE, exit 3), worded
 * in one place, next to the rule (own-package.ts).
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
const DEPENDENCIES = ["pkcs11js", "yargs", "@noble/post-quantum"];

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

describe.skipIf(!canCreateUsers())("a dependency refused because another user could have put it there: the run says where, not 'reinstall'", () => {
  // Round 35 (P10): the path at fault, why, and its one fix (was: "owned by neither root nor this code's owner, or
  // writable by others (check DIR and the directories in it, then chown them … and chmod o-w them)").
  const refused = (name: string, where: string, fault: string, why: string, fix: string) =>
    `roles-anywhere-agent: ${name} in ${where} is not loaded: another user could have put it there: ${fault} is ${why} (check what is in it, then: ${fix})\n`;
  const worldWritable = (name: string, modules: string) => refused(name, modules, modules, "writable by others (mode 777; group-writable alone is allowed)", `chmod o-w ${modules}`);
  const others = (name: string, at: string) => refused(name, at, at, `owned by uid ${other.uid}, neither root nor this code's owner`, `chown -R root ${at}`);

  it("a node_modules writable by all (root's, 0777): a pkcs11: key, --help and an ML-DSA key each name it", async () => {
    const { modules, cli } = installation("world-writable");
    chmodSync(modules, 0o777);
    expect(await signPkcs11(cli)).toMatchObject({ code: 3, stderr: worldWritable("pkcs11js", modules) });
    expect(await help(cli)).toMatchObject({ code: 3, stderr: worldWritable("yargs", modules) });
    expect(await signMlDsa(cli)).toMatchObject({ code: 3, stderr: worldWritable("@noble/post-quantum", modules) });
  });

  it("each package directory owned by another account: the run names that directory", async () => {
    const { modules, cli } = installation("other-owner");
    for (const name of DEPENDENCIES) {
      const target = join(modules, name);
      rmSync(target);
      // A real copy (not the link) the other account owns; yargs's own dependencies stay links to the checkout's.
      cpSync(join(REPO, "node_modules", name), target, { recursive: true, dereference: true });
      chownTree(target, other);
    }
    expect(await signPkcs11(cli)).toMatchObject({ code: 3, stderr: others("pkcs11js", join(modules, "pkcs11js")) });
    expect(await help(cli)).toMatchObject({ code: 3, stderr: others("yargs", join(modules, "yargs")) });
    expect(await signMlDsa(cli)).toMatchObject({ code: 3, stderr: others("@noble/post-quantum", join(modules, "@noble", "post-quantum")) });
  });

  it("the same installation made safe again (chmod go-w): --help and the ML-DSA key work", async () => {
    const { modules, cli } = installation("made-safe");
    chmodSync(modules, 0o777);
    expect((await help(cli)).code).toBe(3);
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
    const native = join(pkg, "dist", "native");
    expect(run.stderr).toContain(`/raa_native.node is not loaded: another user could have put it there: ${native} is owned by uid ${other.uid}, neither root nor this code's owner (check what is in it, then: chown -R root ${native})`);
  });
});
