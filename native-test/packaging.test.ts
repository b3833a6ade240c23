/**
 * The npm package as users get it: a copy of the working tree (what a clean checkout holds) is packed with
 * `npm pack` (its prepack builds), the tarball is installed with `npm install -g --prefix` into temp
 * prefixes — dependencies come from the npm registry — and the installed bin and library are used:
 * - with a C++ toolchain: `--help`, `version`, credential-process with a file key and a SoftHSM key,
 *   examples/sdk-sts.mjs importing the installed package, and a TypeScript consumer type-checked against
 *   the shipped declarations;
 * - without one (PATH holding only node and sh): the install still succeeds, file keys work and a PKCS#11
 *   key fails with the documented message and exit code;
 * - as a dependency of an app (`npm install <tarball>`): a plain .cjs app and TypeScript CommonJS apps
 *   (module commonjs and module nodenext) require() the library and get credentials; installed with
 *   --omit=optional or --ignore-scripts, a PKCS#11 key says which of the two it was.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, lstatSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { ARNS } from "../test/local-endpoint/support.js";
import { runSdkStsExample } from "./helpers/sdk-example.js";
import { copyWorkingTree } from "./helpers/working-tree.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..");
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
const NPM_CLI = join(dirname(dirname(realpathSync(execFileSync("bash", ["-c", "command -v npm"], { encoding: "utf8" }).trim()))), "bin", "npm-cli.js");
const IDENTITY_PREFIX = "arn:aws:sts::111122223333:assumed-role/TestRole/";
const NPM_TIMEOUT = 300_000;
/** The project's own N-API helper (native/raa_native.c), shipped prebuilt for the platform that packed it… */
const NATIVE_HELPER = `dist/native/${process.platform}-${process.arch}/raa_native.node`;
/** …and for linux-arm64, the usual IoT gateway (cross-compiled; native-test/native-helper-arm64.test.ts runs it). */
const ARM64_NATIVE_HELPER = "dist/native/linux-arm64/raa_native.node";
const EM_AARCH64 = 183;

const { dir, cleanup } = makeTempDir("raa-native-packaging-");
const withToolchain = join(dir, "prefix");
const withoutToolchain = join(dir, "prefix-no-toolchain");
/** An app that depends on the package, installed with --omit=optional (no PKCS#11 packages). */
const appOmitted = join(dir, "app-omit-optional");
/** An app installed with --ignore-scripts (pkcs11js present, its addon never built). */
const appNoScripts = join(dir, "app-ignore-scripts");
let tarball: string;
let packedFiles: string[];
let hsm: SoftHsmFixture;
let endpoint: LocalEndpoint;
let fileKeyFlags: string[];

/** npm with the user's npm config and cache (fast, offline when possible), never the repo's node_modules. */
function npm(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const env = opts.env ?? { ...process.env, npm_config_nodedir: "/usr" };
  return run(process.execPath, [NPM_CLI, ...args, "--no-audit", "--no-fund", "--prefer-offline"], { cwd: opts.cwd, env, timeout: NPM_TIMEOUT, maxBuffer: 64 * 1024 * 1024 });
}

function installed(prefix: string): { bin: string; packageDir: string } {
  return { bin: join(prefix, "bin", "roles-anywhere-agent"), packageDir: join(prefix, "lib", "node_modules", "roles-anywhere-agent") };
}

interface Result { code: number; stdout: string; stderr: string }
async function agent(prefix: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(installed(prefix).bin, args, { env: { PATH: process.env["PATH"], HOME: dir, XDG_RUNTIME_DIR: join(dir, "run"), ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const sessionFlags = () => ["--trust-anchor-arn", ARNS.trustAnchorArn, "--profile-arn", ARNS.profileArn, "--role-arn", ARNS.roleArn, "--endpoint", endpoint.url, "--no-agent"];
const pkcs11Flags = () => ["--certificate", `pkcs11:token=${hsm.token};object=ec-key`, "--pkcs11-lib", hsm.module, "--pkcs11-pin-file", hsm.pinFile()];

beforeAll(async () => {
  const checkout = join(dir, "checkout");
  copyWorkingTree(checkout);
  const { stdout } = await npm(["pack", "--json", "--pack-destination", dir], { cwd: checkout });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf("["))) as [{ filename: string; files: { path: string }[] }];
  tarball = join(dir, packed.filename);
  packedFiles = packed.files.map((f) => f.path);

  await npm(["install", "-g", "--prefix", withToolchain, tarball], { cwd: dir });
  // No python3, make or g++: node-gyp cannot build pkcs11js.
  const bare = join(dir, "bare-bin");
  mkdirSync(bare);
  symlinkSync(process.execPath, join(bare, "node"));
  symlinkSync("/bin/sh", join(bare, "sh"));
  await npm(["install", "-g", "--prefix", withoutToolchain, tarball], { cwd: dir, env: { HOME: process.env["HOME"], PATH: bare } });
  for (const [app, flag] of [[appOmitted, "--omit=optional"], [appNoScripts, "--ignore-scripts"]] as const) {
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: basename(app), version: "1.0.0", private: true }));
    await npm(["install", flag, tarball], { cwd: app });
  }

  const ca = createCa(join(dir, "ca"), { name: "Packaging CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "packaging-device" });
  fileKeyFlags = ["--certificate", leaf.certPath, "--private-key", leaf.keyPath];
  hsm = createSoftHsmFixture("raa-native-packaging-hsm-");
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath, hsm.file("ca.pem")], port: 0, region: "us-east-1" });
}, 900_000);

afterAll(async () => {
  await endpoint?.close();
  hsm?.cleanup();
  cleanup();
});

describe("npm pack", () => {
  it("ships the CLI bundle, the library with declarations, docs and licence; no sources or tests", () => {
    for (const path of ["package.json", "LICENSE", "CHANGELOG.md", "README.md", "dist/cli.cjs", "dist/cli.js", "dist/lib/index.js", "dist/lib/index.d.ts", "dist/lib/sdk/index.d.ts", "examples/sdk-sts.mjs", NATIVE_HELPER, ARM64_NATIVE_HELPER]) {
      expect(packedFiles, path).toContain(path);
    }
    const arm64 = execFileSync("tar", ["-xzOf", tarball, `package/${ARM64_NATIVE_HELPER}`]);
    expect(arm64.readUInt16LE(18), "e_machine of the arm64 helper").toBe(EM_AARCH64);
    expect(packedFiles.filter((p) => /\.ts$/.test(p) && !p.endsWith(".d.ts"))).toEqual([]);
    expect(packedFiles.filter((p) => /^(src|test|native-test|bench|scripts|node_modules|native)\//.test(p))).toEqual([]);
    expect(packedFiles).not.toContain("binding.gyp"); // npm would try to compile on every install
    const manifest = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));
    expect(manifest.bin).toEqual({ "roles-anywhere-agent": "dist/cli.cjs" });
    expect(manifest.engines.node).toBe("^20.19.0 || ^22.12.0 || >=24.0.0");
    expect(manifest.exports["."].require).toBe("./dist/lib/index.js");
    expect(Object.keys(manifest.optionalDependencies).sort()).toEqual(["pkcs11js"]);
    expect(manifest.dependencies["pkcs11js"]).toBeUndefined();
  });
});

describe("npm install -g of the tarball, with a C++ toolchain", () => {
  it("--help and version work from <prefix>/bin", async () => {
    const help = await agent(withToolchain, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/credential-process/);
    const version = await agent(withToolchain, ["version"]);
    expect(version).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    // The bin is dist/cli.cjs; units and scripts that name dist/cli.js still run it.
    const byOldPath = await run(process.execPath, [join(installed(withToolchain).packageDir, "dist", "cli.js"), "version"]);
    expect(byOldPath).toMatchObject({ stdout: `${VERSION}\n`, stderr: "" });
  });

  it("credential-process works with a file key and with a SoftHSM key (the native addon was built)", async () => {
    for (const flags of [fileKeyFlags, pkcs11Flags()]) {
      const r = await agent(withToolchain, ["credential-process", ...flags, ...sessionFlags()], { SOFTHSM2_CONF: hsm.conf });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout)).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/) });
    }
  });

  it("examples/sdk-sts.mjs prints the caller identity with the installed package and a SoftHSM key", async () => {
    const stdout = await runSdkStsExample({
      packageDir: installed(withToolchain).packageDir,
      appDir: join(dir, "example-app"),
      hsm,
      endpointUrl: endpoint.url,
      arns: ARNS,
      baseEnv: {
        PATH: process.env["PATH"],
        HOME: dir,
        AWS_CONFIG_FILE: join(dir, "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED: "true",
      },
    });
    expect(stdout).toBe(`${IDENTITY_PREFIX}${hsm.certificate("ec-key.pem").serialHex.toLowerCase()}`);
  });

  it("the shipped declarations type-check a consumer (skipLibCheck off) and fit the SDK's provider type", async () => {
    const consumer = join(dir, "ts-consumer");
    mkdirSync(join(consumer, "node_modules", "@types"), { recursive: true });
    symlinkSync(installed(withToolchain).packageDir, join(consumer, "node_modules", "roles-anywhere-agent"));
    symlinkSync(join(REPO, "node_modules", "@types", "node"), join(consumer, "node_modules", "@types", "node"));
    symlinkSync(join(REPO, "node_modules", "@smithy"), join(consumer, "node_modules", "@smithy"));
    writeFileSync(
      join(consumer, "app.ts"),
      [
        'import type { AwsCredentialIdentityProvider } from "@smithy/types";',
        'import { createSignedCreateSessionRequest, fromRolesAnywhere, type RolesAnywhereCredentialProvider } from "roles-anywhere-agent";',
        'const provider: RolesAnywhereCredentialProvider = fromRolesAnywhere({ certificate: "c.pem", privateKey: "k.pem", trustAnchorArn: "a", profileArn: "p", roleArn: "r" });',
        "export const credentials: AwsCredentialIdentityProvider = provider;",
        "export const close: () => Promise<void> = provider.close;",
        "export { createSignedCreateSessionRequest };",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: false, types: ["node"] }, files: ["app.ts"] }),
    );
    const tsc = await run(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", consumer], { timeout: 120_000 }).catch((e: { stdout: string }) => e);
    expect(tsc.stdout).toBe("");
  });
});

describe("npm install -g of the tarball, without a C++ toolchain", () => {
  it("installs without the PKCS#11 packages; file keys work", async () => {
    const { packageDir } = installed(withoutToolchain);
    expect(() => statSync(join(packageDir, "node_modules", "pkcs11js", "build", "Release", "pkcs11.node"))).toThrow();
    expect((await agent(withoutToolchain, ["version"])).stdout).toBe(`${VERSION}\n`);
    const r = await agent(withoutToolchain, ["credential-process", ...fileKeyFlags, ...sessionFlags()]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
  });

  it("still has the prebuilt native helper: a long-running command becomes non-dumpable without a word", async () => {
    for (const helper of [NATIVE_HELPER, ARM64_NATIVE_HELPER]) expect(statSync(join(installed(withoutToolchain).packageDir, helper)).isFile(), helper).toBe(true);
    const credentials = join(dir, "no-toolchain-credentials");
    const flags = sessionFlags().filter((f) => f !== "--no-agent");
    const r = await agent(withoutToolchain, ["update", "--once", "--credentials-file", credentials, ...fileKeyFlags, ...flags]);
    expect(r.stderr).toMatch(/^wrote profile \[default\] to .*no-toolchain-credentials; valid until \S+\n$/);
    expect(r.code).toBe(0);
  });

  it("a PKCS#11 key fails with one line saying how to get PKCS#11 support, as a device error", async () => {
    const r = await agent(withoutToolchain, ["credential-process", ...pkcs11Flags(), ...sessionFlags()], { SOFTHSM2_CONF: hsm.conf });
    expect(r.code).toBe(EXIT_CODES.device);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("PKCS#11 support is not installed: the pkcs11js native addon failed to build when this package was installed, so npm left it out");
    expect(r.stderr).toContain("install g++, make and python3");
  });
});

describe("npm install of the tarball as an app's dependency", () => {
  const appEnv = () => ({ PATH: process.env["PATH"], HOME: dir, XDG_RUNTIME_DIR: join(dir, "run"), SOFTHSM2_CONF: hsm.conf });
  async function appBin(app: string, args: string[]): Promise<Result> {
    try {
      const { stdout, stderr } = await run(join(app, "node_modules", ".bin", "roles-anywhere-agent"), args, { env: appEnv(), timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  }
  /** The library's provider with a file key against the local endpoint; prints the access key id. */
  const providerCall = (lib: string, typed = false) =>
    [
      `const env = (name: string) => String(process.env[name]);`.replace(": string", typed ? ": string" : ""),
      `const provider = ${lib}.fromRolesAnywhere({ certificate: env("RAA_CERT"), privateKey: env("RAA_KEY"), trustAnchorArn: env("RAA_TA"), profileArn: env("RAA_PROFILE"), roleArn: env("RAA_ROLE"), endpoint: env("RAA_ENDPOINT") });`,
      "provider().then(async (c) => { console.log(c.accessKeyId); await provider.close(); });",
    ].join("\n");
  const providerEnv = () => ({
    ...appEnv(),
    RAA_CERT: fileKeyFlags[1],
    RAA_KEY: fileKeyFlags[3],
    RAA_TA: ARNS.trustAnchorArn,
    RAA_PROFILE: ARNS.profileArn,
    RAA_ROLE: ARNS.roleArn,
    RAA_ENDPOINT: endpoint.url,
  });

  it("a plain .cjs app require()s the library and gets credentials, under Node 20, 22 and 24", async () => {
    writeFileSync(join(appOmitted, "app.cjs"), `const lib = require("roles-anywhere-agent");\n${providerCall("lib")}\n`);
    // The official Node 22 and 24 binaries from npm (scripts/node-release.sh: cached outside the repo).
    const nodes = [process.execPath, ...["22", "24"].map((major) => execFileSync("bash", [join(REPO, "scripts", "node-release.sh"), major], { encoding: "utf8" }).trim())];
    const majors = new Set<string>();
    for (const node of nodes) {
      const { stdout, stderr } = await run(node, ["-p", "process.versions.node.split('.')[0]"]);
      majors.add(stdout.trim());
      expect(stderr).toBe("");
      const app = await run(node, ["app.cjs"], { cwd: appOmitted, env: providerEnv(), timeout: 60_000 });
      expect(app.stderr, node).toBe("");
      expect(app.stdout).toMatch(/^ASIA\w+\n$/);
    }
    expect([...majors].sort()).toEqual(["20", "22", "24"]);
  });

  it.each(["commonjs", "nodenext"])("a TypeScript CommonJS app (module %s) type-checks (skipLibCheck off, no PKCS#11 packages), compiles to require() and gets credentials", async (module) => {
    // Installed with --omit=optional: the declarations must not need pkcs11js's types.
    const app = join(appOmitted, `ts-${module}`);
    mkdirSync(join(app, "node_modules", "@types"), { recursive: true });
    symlinkSync(join(appOmitted, "node_modules", "roles-anywhere-agent"), join(app, "node_modules", "roles-anywhere-agent"));
    symlinkSync(join(REPO, "node_modules", "@types", "node"), join(app, "node_modules", "@types", "node"));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: `ts-${module}`, private: true, type: "commonjs" }));
    writeFileSync(
      join(app, "app.ts"),
      ['import * as lib from "roles-anywhere-agent";', providerCall("lib", true), ""].join("\n"),
    );
    const compilerOptions = { module, ...(module === "nodenext" ? { moduleResolution: "nodenext" } : {}), target: "ES2022", strict: true, skipLibCheck: false, types: ["node"], outDir: "out" };
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["app.ts"] }));
    const tsc = await run(process.execPath, [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", app], { timeout: 120_000 }).catch((e: { stdout: string }) => e);
    expect(tsc.stdout).toBe("");
    const emitted = readFileSync(join(app, "out", "app.js"), "utf8");
    expect(emitted).toMatch(/require\("roles-anywhere-agent"\)/);
    const { stdout, stderr } = await run(process.execPath, [join(app, "out", "app.js")], { cwd: app, env: providerEnv(), timeout: 60_000 });
    expect(stderr).toBe("");
    expect(stdout).toMatch(/^ASIA\w+\n$/);
  });

  it("installed with --omit=optional: a PKCS#11 key says the packages were left out on purpose, not that a build failed", async () => {
    const r = await appBin(appOmitted, ["credential-process", ...pkcs11Flags(), ...sessionFlags()]);
    expect(r.code).toBe(EXIT_CODES.device);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("PKCS#11 support is not installed: the optional package pkcs11js was left out (npm install --omit=optional)");
    expect(r.stderr).not.toMatch(/fail/);
    expect((await appBin(appOmitted, ["credential-process", ...fileKeyFlags, ...sessionFlags()])).code).toBe(0);
  });

  it("installed with --ignore-scripts: a PKCS#11 key says the install script did not run, and how to allow it", async () => {
    const r = await appBin(appNoScripts, ["credential-process", ...pkcs11Flags(), ...sessionFlags()]);
    expect(r.code).toBe(EXIT_CODES.device);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("pkcs11js is installed but its install script did not run");
    expect(r.stderr).toContain("npm install-scripts approve pkcs11js && npm rebuild pkcs11js");
  });
});
