/**
 * Root runs the CLI with another user's HOME (`sudo -E`, a container job's HOME) from an installation that lacks a
 * dependency (pkcs11js left out by --omit=optional or a failed build; a copy of the package without its
 * node_modules). That user (`r33p8-…`, created with useradd and removed afterwards) has planted packages of those
 * names in ~/.node_modules, where Node's CommonJS require() looks last. Before the fix root ran them: pkcs11js from
 * requirePkcs11js, yargs for --help, @noble/post-quantum for an ML-DSA key. Now they are taken only from the
 * package's own node_modules chain (src/os/own-package.ts), and the run says what is missing.
 * And the library imported from `node -e`, where __filename is the global "[eval]", loads pkcs11js.
 * The native helper, where the package has none for this platform, is not looked for above the package: in a
 * package unpacked in /tmp (`npm pack`, `tar x`), /tmp/native/<platform>/raa_native.node was anyone's code.
 * Directories others can write (round 34): the library's (dist/lib) own loads of @noble/post-quantum went through
 * Node's ES module resolver, which looks in every node_modules up to `/` (/tmp/node_modules: anyone's); a node_modules,
 * or the package's dist/native, that is root's but writable by all (or a dist/native of another user's), let anyone put
 * a package or helper there.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueMlDsaLeaf } from "../test/helpers/mldsa-pki.js";
import { createCa, makeTempDir } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { runCli } from "./helpers/run-cli.js";

const REPO = process.cwd();
const SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so";
const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/r",
  "--endpoint", "http://127.0.0.1:9",
];

const { dir, cleanup } = makeTempDir("raa-own-package-loads-");
let planter: LocalUser;
let cli: string;

/** `<home>/.node_modules/<name>`, owned by the planter: its `file` writes <dir>/ran-<marker> when loaded. */
function plant(name: string, file: string, marker: string): void {
  const pkg = join(planter.home, ".node_modules", name);
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name, main: "index.js" }));
  const code = `require("fs").writeFileSync(${JSON.stringify(join(dir, `ran-${marker}`))}, "uid " + process.getuid());\nmodule.exports = {};\n`;
  writeFileSync(join(pkg, file), code);
}

const ran = (marker: string) => existsSync(join(dir, `ran-${marker}`));

beforeAll(() => {
  if (!canCreateUsers()) return;
  chmodSync(dir, 0o755);
  planter = createLocalUser("r33p8-planter", dir);
  plant("pkcs11js", "index.js", "pkcs11js");
  plant("yargs", "index.js", "yargs");
  plant("@noble/post-quantum", "ml-dsa.js", "noble");
  const chown = (path: string): void => {
    chownSync(path, planter.uid, planter.gid);
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.isDirectory()) chown(join(path, entry.name));
      else chownSync(join(path, entry.name), planter.uid, planter.gid);
    }
  };
  chown(join(planter.home, ".node_modules"));
  // A project that installed the package, with none of its dependencies (a copy of the package alone).
  const app = join(dir, "app");
  const pkg = join(app, "node_modules", "roles-anywhere-agent");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app" }));
  copyFileSync(join(REPO, "package.json"), join(pkg, "package.json"));
  cpSync(join(REPO, "dist"), join(pkg, "dist"), { recursive: true });
  cli = join(pkg, "dist", "cli.js");
}, 60_000);

afterAll(() => {
  planter?.remove();
  cleanup();
});

describe.skipIf(!canCreateUsers())("root with another user's HOME never loads that user's ~/.node_modules", () => {
  const env = () => ({ PATH: process.env["PATH"], HOME: planter.home });

  it("pkcs11js missing from the installation: PKCS11_NOT_INSTALLED, the planted pkcs11js not run", async () => {
    const run = await runCli(cli, ["credential-process", "--certificate", `pkcs11:token=x?module-path=${SOFTHSM}`, ...ARNS], env());
    expect(ran("pkcs11js")).toBe(false);
    expect(run.stderr).toMatch(/^roles-anywhere-agent: PKCS#11 support is not installed: the optional package pkcs11js is missing/);
    expect(run.code).toBe(5);
  });

  it("yargs missing (--help): the run says so, the planted yargs not run", async () => {
    const run = await runCli(cli, ["--help"], env());
    expect(ran("yargs")).toBe(false);
    expect(run.stderr).toMatch(/yargs is missing/);
    expect(run.code).not.toBe(0);
    // The checkout's own installation loads its yargs.
    expect(await runCli(join(REPO, "dist", "cli.js"), ["--help"], env())).toMatchObject({ code: 0, stdout: expect.stringContaining("Commands:") });
  });

  it("@noble/post-quantum missing (an ML-DSA key): the planted one not run", async () => {
    const ca = createCa(join(dir, "ca"), { name: "r33p8 CA", keyType: "p256" });
    const leaf = issueMlDsaLeaf(ca, dir, { name: "r33p8-mldsa", keyType: "ML-DSA-44" });
    const run = await runCli(cli, ["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS], env());
    expect(ran("noble")).toBe(false);
    expect(run.stderr).toMatch(/@noble\/post-quantum/);
    expect(run.code).not.toBe(0);
    // The checkout's own installation signs with its @noble/post-quantum and gets as far as the (closed) endpoint.
    const own = await runCli(join(REPO, "dist", "cli.js"), ["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS], env());
    expect(own.stderr).not.toMatch(/noble|installation changed/);
    expect(own.stderr).toMatch(/127\.0\.0\.1:9/);
  });
});

describe("the library under `node -e` (__filename is the global \"[eval]\")", () => {
  it.skipIf(!existsSync(SOFTHSM))("loads pkcs11js from the package: listPkcs11Certificates answers", async () => {
    const script = `import(${JSON.stringify(join(REPO, "dist", "lib", "index.js"))})
      .then((m) => m.listPkcs11Certificates({ uri: "pkcs11:?module-path=${SOFTHSM}" }))
      .then((found) => console.log("listed", Array.isArray(found)), (e) => console.log("failed", e.code, e.message));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], { encoding: "utf8", env: { PATH: process.env["PATH"], HOME: dir } });
    expect(stdout.trim()).toBe("listed true");
  });
});

const hasCompiler = (() => {
  try {
    execFileSync("sh", ["-c", "command -v cc && command -v openssl"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!canCreateUsers() || !hasCompiler)("the native helper comes from the package's dist/ only", () => {
  it("a package in a world-writable directory, with no helper for this platform: the helper planted beside it not loaded", async () => {
    // /tmp's shape: root's, 1777. The package unpacked there by root, as on a platform no prebuilt helper is shipped for.
    const shared = join(dir, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const pkg = join(shared, "package");
    mkdirSync(pkg);
    copyFileSync(join(REPO, "package.json"), join(pkg, "package.json"));
    cpSync(join(REPO, "dist"), join(pkg, "dist"), { recursive: true });
    const platform = `${process.platform}-${process.arch}`;
    rmSync(join(pkg, "dist", "native", platform), { recursive: true });
    // The planter's shared object: a constructor that leaves a marker when anything loads it.
    const source = join(dir, "planted.c");
    writeFileSync(source, `#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void ran(void) { FILE *f = fopen("${join(dir, "ran-native")}", "w"); if (f) { fprintf(f, "uid %d", (int)getuid()); fclose(f); } }\n`);
    const built = join(dir, "planted.node");
    execFileSync("cc", ["-shared", "-fPIC", "-o", built, source]);
    chmodSync(built, 0o755);
    for (const base of [join(shared, "native"), join(shared, "dist", "native")]) {
      const target = join(base, platform, "raa_native.node");
      await planter.run("sh", ["-c", 'mkdir -p "$(dirname "$1")" && cp "$2" "$1"', "sh", target, built]);
      expect(existsSync(target)).toBe(true);
    }
    const key = join(dir, "encrypted.pem");
    execFileSync("sh", ["-c", `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -passout pass:pw-r33h3 -v2 aes-256-cbc -out ${key}`]);
    chmodSync(key, 0o600);
    // sign-string with an encrypted key protects the password first (protectSecrets: the native helper).
    const run = await runCli(join(pkg, "dist", "cli.js"), ["sign-string", "--private-key", key, "--pkcs8-password", "pw-r33h3"], { PATH: process.env["PATH"] });
    expect(ran("native")).toBe(false);
    expect(run.code).toBe(0);
  });
});

describe.skipIf(!canCreateUsers())("directories other users can write", () => {
  const planted = (marker: string) => `require("fs").writeFileSync(${JSON.stringify(join(dir, `ran-${marker}`))}, "uid " + process.getuid());\nmodule.exports = {};\n`;
  /** Files the planter writes (path → text), as that user. */
  async function plantAs(files: Record<string, string>): Promise<void> {
    for (const [path, text] of Object.entries(files)) {
      const run = await planter.run("sh", ["-c", 'mkdir -p "$(dirname "$1")" && printf %s "$2" > "$1"', "sh", path, text]);
      expect(run.code).toBe(0);
    }
  }
  /** A copy of the package (package.json, dist/) at `pkg`, root's, without node_modules. */
  function copyPackage(pkg: string): void {
    mkdirSync(pkg, { recursive: true });
    copyFileSync(join(REPO, "package.json"), join(pkg, "package.json"));
    cpSync(join(REPO, "dist"), join(pkg, "dist"), { recursive: true });
  }

  it("the library (dist/lib) in /tmp without @noble/post-quantum: an ML-DSA key does not import /tmp/node_modules's", async () => {
    const shared = join(dir, "tmp-lib");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const pkg = join(shared, "package");
    copyPackage(pkg);
    // Its dependencies but @noble/post-quantum (the library imports the others statically): links to the checkout's.
    for (const scope of ["", "@noble"]) {
      mkdirSync(join(pkg, "node_modules", scope), { recursive: true });
      for (const name of readdirSync(join(REPO, "node_modules", scope))) {
        if (name !== "@noble" && name !== "post-quantum") symlinkSync(join(REPO, "node_modules", scope, name), join(pkg, "node_modules", scope, name));
      }
    }
    const noble = join(shared, "node_modules", "@noble", "post-quantum");
    await plantAs({ [join(noble, "package.json")]: JSON.stringify({ name: "@noble/post-quantum" }), [join(noble, "ml-dsa.js")]: planted("lib-noble") });
    const ca = createCa(join(dir, "ca-lib"), { name: "r34h4 CA", keyType: "p256" });
    const leaf = issueMlDsaLeaf(ca, dir, { name: "r34h4-mldsa", keyType: "ML-DSA-44" });
    const script = `import(${JSON.stringify(join(pkg, "dist", "lib", "index.js"))})
      .then((m) => m.createSigner({ certificate: ${JSON.stringify(leaf.certPath)}, privateKey: ${JSON.stringify(leaf.keyPath)} }))
      .then((s) => s.sign(Buffer.from("abc")))
      .then(() => console.log("signed"), (e) => console.log("failed", e.code));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], { encoding: "utf8", cwd: pkg, env: { PATH: process.env["PATH"], HOME: dir } });
    expect(ran("lib-noble")).toBe(false);
    expect(stdout.trim()).toMatch(/^failed/);
  });

  it("a project's node_modules that is root's but writable by all (0777): yargs planted there by another user not run", async () => {
    const app = join(dir, "app-0777");
    const pkg = join(app, "node_modules", "roles-anywhere-agent");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app" }));
    copyPackage(pkg);
    chmodSync(join(app, "node_modules"), 0o777);
    await plantAs({ [join(app, "node_modules", "yargs", "package.json")]: JSON.stringify({ name: "yargs", main: "index.js" }), [join(app, "node_modules", "yargs", "index.js")]: planted("yargs-0777") });
    const run = await runCli(join(pkg, "dist", "cli.js"), ["--help"], { PATH: process.env["PATH"] });
    expect(ran("yargs-0777")).toBe(false);
    expect(run.stderr).toMatch(/yargs is missing/);
  });

  it.skipIf(!hasCompiler).each([
    ["writable by all (0777)", "0777"],
    ["another user's", "theirs"],
  ])("the package's dist/native %s: the helper that user put there not loaded", async (_what, layout) => {
    const pkg = join(dir, `pkg-native-${layout}`);
    copyPackage(pkg);
    const platform = `${process.platform}-${process.arch}`;
    rmSync(join(pkg, "dist", "native", platform), { recursive: true });
    chmodSync(join(pkg, "dist"), 0o755); // as npm installs it (the checkout's may be 0700)
    if (layout === "0777") chmodSync(join(pkg, "dist", "native"), 0o777);
    else chownSync(join(pkg, "dist", "native"), planter.uid, planter.gid);
    const marker = `native-${layout}`;
    const source = join(dir, `planted-${layout}.c`);
    writeFileSync(source, `#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void ran(void) { FILE *f = fopen("${join(dir, `ran-${marker}`)}", "w"); if (f) { fprintf(f, "uid %d", (int)getuid()); fclose(f); } }\n`);
    const built = join(dir, `planted-${layout}.node`);
    execFileSync("cc", ["-shared", "-fPIC", "-o", built, source]);
    chmodSync(built, 0o755);
    const target = join(pkg, "dist", "native", platform, "raa_native.node");
    await planter.run("sh", ["-c", 'mkdir -p "$(dirname "$1")" && cp "$2" "$1"', "sh", target, built]);
    expect(existsSync(target)).toBe(true);
    const key = join(dir, `encrypted-${layout}.pem`);
    execFileSync("sh", ["-c", `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -passout pass:pw-r34h4 -v2 aes-256-cbc -out ${key}`]);
    chmodSync(key, 0o600);
    const run = await runCli(join(pkg, "dist", "cli.js"), ["sign-string", "--private-key", key, "--pkcs8-password", "pw-r34h4"], { PATH: process.env["PATH"] });
    expect(ran(marker)).toBe(false);
    expect(run.code).toBe(0);
  });
});
