/**
 * The container image recipe (Containerfile), checked as far as this machine allows: it cannot run an OCI
 * runtime (cgroups in hybrid mode), so nothing here executes the Containerfile itself. What is checked:
 * 1. The Containerfile's final stage, read instruction by instruction: built FROM the slim Node image, no
 *    package installs or compilers, only the staged tree copied from the build stage, a non-root USER, the
 *    ENTRYPOINT; the build stage runs scripts/image/stage-runtime.sh.
 * 2. That same script, run here on a clean copy of the working tree: the staged tree holds the package and its
 *    production dependencies with the PKCS#11 addon compiled, and no sources, tests, dev dependencies or
 *    compiler output; root owns it and nobody else can write it.
 * 3. The final image's file tree assembled from it: the base image (node:20-bookworm-slim) is stood in for by
 *    this machine's `node` binary and exactly the shared libraries it needs (ldd) — a PKCS#11 addon needing
 *    more than Node does would fail here as it would there — plus the passwd/group lines the final stage's RUN
 *    adds. The ENTRYPOINT then runs in a `chroot` inside new mount and PID namespaces (`unshare`), as uid 65532,
 *    with the image's ENV: `version`, credential-process with a file key and with a SoftHSM key (the module and
 *    its libraries added the way a user adds a vendor module), and a write to the image's files fails.
 * Not checked: the Debian packages of the real base image (debootstrap is not installed and fetching a Debian
 * base would make the suite depend on a mirror and add minutes), multi-arch builds, image size on a registry.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { ARNS } from "../test/local-endpoint/support.js";
import { createSoftHsmFixture, SOFTHSM_MODULE, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";
import { copyWorkingTree } from "./helpers/working-tree.js";

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, "..");
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;
const UID = 65532;

interface Instruction {
  readonly op: string;
  readonly args: string;
}
/** The Containerfile's stages (from each FROM on): instructions with continuation lines joined, comments dropped. */
function readStages(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const global: Instruction[] = []; // ARGs before the first FROM
  const joined = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  for (const line of joined) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op!.toUpperCase() === "FROM") stages.push([]);
    (stages.at(-1) ?? global).push({ op: op!.toUpperCase(), args: args! });
  }
  return stages;
}

const stages = readStages(readFileSync(join(REPO, "Containerfile"), "utf8"));
const final = stages.at(-1)!;
const one = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op);
const entrypoint = JSON.parse(one(final, "ENTRYPOINT")[0]!.args) as string[];
const imageEnv = Object.fromEntries(one(final, "ENV").flatMap((i) => i.args.split(/\s+/).map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string])));

const { dir, cleanup } = makeTempDir("raa-native-image-");
const stage = join(dir, "stage");
const rootfs = join(dir, "rootfs");
let endpoint: LocalEndpoint;
let hsm: SoftHsmFixture;

/** Copies a file into the rootfs at the same absolute path, with the shared libraries it loads. */
function addWithLibraries(file: string, as = file): void {
  mkdirSync(join(rootfs, dirname(as)), { recursive: true });
  copyFileSync(realpathSync(file), join(rootfs, as));
  chmodSync(join(rootfs, as), 0o755);
  for (const line of execFileSync("ldd", [file], { encoding: "utf8" }).split("\n")) {
    const lib = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (!lib || existsSync(join(rootfs, lib))) continue;
    mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
    copyFileSync(realpathSync(lib), join(rootfs, lib));
  }
}

interface Result { code: number; stdout: string; stderr: string }
/** The image's ENTRYPOINT + args as uid 65532 in the rootfs, in new mount and PID namespaces. */
async function inImage(args: string[], env: Record<string, string> = {}, command = entrypoint): Promise<Result> {
  const userEnv = { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/nonexistent", ...imageEnv, ...env };
  try {
    const { stdout, stderr } = await run(
      "unshare",
      ["--mount", "--pid", "--fork", `--mount-proc=${join(rootfs, "proc")}`, "chroot", `--userspec=${UID}:${UID}`, rootfs, "/usr/bin/env", "-i", ...Object.entries(userEnv).map(([k, v]) => `${k}=${v}`), ...command, ...args],
      { timeout: 60_000, cwd: "/" },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function walk(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true }).map((d) => join(d.parentPath, d.name));
}

beforeAll(async () => {
  // 2. The build stage's script, on a clean copy of the working tree.
  const checkout = join(dir, "checkout");
  copyWorkingTree(checkout);
  await run("sh", ["scripts/image/stage-runtime.sh", stage], { cwd: checkout, env: { ...process.env, npm_config_nodedir: "/usr" }, timeout: 600_000 });

  // 3. The final image's tree: base-image stand-in, the final stage's RUN (users), the COPY.
  addWithLibraries(process.execPath, entrypoint[0]);
  addWithLibraries("/usr/bin/env");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  writeFileSync(join(rootfs, "etc/passwd"), `root:x:0:0:root:/root:/bin/sh\nnonroot:x:${UID}:${UID}::/nonexistent:/usr/sbin/nologin\n`);
  writeFileSync(join(rootfs, "etc/group"), `root:x:0:\nnonroot:x:${UID}:\n`);
  for (const d of ["tmp", "proc", "dev"]) mkdirSync(join(rootfs, d), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  for (const [name, minor] of [["null", 3], ["zero", 5], ["random", 8], ["urandom", 9]] as const) {
    execFileSync("mknod", ["-m", "666", join(rootfs, "dev", name), "c", "1", String(minor)]);
  }
  for (const copy of one(final, "COPY")) {
    const [, from, to] = /^--from=build\s+(\S+)\s+(\S+)$/.exec(copy.args)!;
    cpSync(join(stage, from!.replace(/^\/stage/, "")), join(rootfs, to!), { recursive: true, verbatimSymlinks: true });
  }

  // What the user brings: a certificate and key, a PKCS#11 module with its token.
  const ca = createCa(join(dir, "ca"), { name: "Image CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "image-device" });
  mkdirSync(join(rootfs, "identity"));
  copyFileSync(leaf.certPath, join(rootfs, "identity/cert.pem"));
  copyFileSync(leaf.keyPath, join(rootfs, "identity/key.pem"));
  chownSync(join(rootfs, "identity/key.pem"), UID, UID);
  chmodSync(join(rootfs, "identity/key.pem"), 0o600);
  hsm = createSoftHsmFixture("raa-native-image-hsm-");
  addWithLibraries(SOFTHSM_MODULE);
  cpSync(hsm.dir, join(rootfs, hsm.dir), { recursive: true });
  execFileSync("chown", ["-R", `${UID}:${UID}`, join(rootfs, hsm.dir)]);
  writeFileSync(join(rootfs, "identity/pin"), hsm.pin, { mode: 0o600 });
  chownSync(join(rootfs, "identity/pin"), UID, UID);
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath, hsm.file("ca.pem")], port: 0, region: "us-east-1" });
}, 900_000);

afterAll(async () => {
  await endpoint?.close();
  hsm?.cleanup();
  cleanup();
});

const session = () => ["--trust-anchor-arn", ARNS.trustAnchorArn, "--profile-arn", ARNS.profileArn, "--role-arn", ARNS.roleArn, "--endpoint", endpoint.url, "--no-agent"];

describe("Containerfile", () => {
  it("has a build stage that runs the staging script and a final stage without compilers, as a non-root user", () => {
    expect(stages).toHaveLength(2);
    expect(one(stages[0]!, "RUN").map((i) => i.args).join("\n")).toMatch(/sh scripts\/image\/stage-runtime\.sh \/stage/);
    expect(final[0]).toEqual({ op: "FROM", args: "${NODE_IMAGE}-slim" });
    for (const r of one(final, "RUN")) expect(r.args).not.toMatch(/apt-get|apk |dnf |yum |npm (ci|install)|gcc|g\+\+|make|python/);
    expect(one(final, "COPY").map((c) => c.args)).toEqual(["--from=build /stage/opt/roles-anywhere-agent /opt/roles-anywhere-agent"]);
    expect(one(final, "USER").map((u) => u.args)).toEqual([`${UID}:${UID}`]);
    expect(entrypoint).toEqual(["/usr/local/bin/node", "/opt/roles-anywhere-agent/lib/node_modules/roles-anywhere-agent/dist/cli.cjs"]);
  });
});

describe("the staged runtime tree (scripts/image/stage-runtime.sh)", () => {
  it("holds the package, production dependencies and the compiled PKCS#11 addon; no sources, tests, dev dependencies or build leftovers", () => {
    const pkg = join(stage, "opt/roles-anywhere-agent/lib/node_modules/roles-anywhere-agent");
    const files = walk(join(stage, "opt")).map((f) => relative(pkg, f));
    expect(files).toContain("dist/cli.cjs");
    expect(files).toContain("node_modules/pkcs11js/build/Release/pkcs11.node");
    expect(files).toContain(`dist/native/${process.platform}-${process.arch}/raa_native.node`);
    for (const dev of ["typescript", "vitest", "esbuild", "@aws-sdk", "kubernetes-models", "fast-check"]) expect(files, dev).not.toContain(`node_modules/${dev}`);
    expect(files.filter((f) => /\.(o|cc|cpp|c|h|gyp|gypi)$/.test(f))).toEqual([]);
    // Our own TypeScript sources are not shipped (dependencies may publish theirs next to their .js).
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith(".d.ts") && !f.startsWith("node_modules/"))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(Makefile|obj\.target|\.deps)$/.test(f))).toEqual([]);
    expect(files.filter((f) => /^(src|test|native-test|bench|scripts|native)\//.test(f))).toEqual([]);
    console.log(`container-image: staged runtime tree ${execFileSync("du", ["-sh", join(stage, "opt")], { encoding: "utf8" }).split("\t")[0]}, ${files.length} entries`);
    for (const f of walk(join(stage, "opt"))) {
      const s = statSync(f, { throwIfNoEntry: false });
      if (!s) continue;
      expect(s.uid, f).toBe(0);
      expect(s.mode & 0o022, f).toBe(0);
    }
  });
});

describe("the image's entrypoint in a chroot (unshare), as uid 65532", () => {
  it("prints the version", async () => {
    expect(await inImage(["version"])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  it("gets credentials with a file key", async () => {
    const r = await inImage(["credential-process", "--certificate", "/identity/cert.pem", "--private-key", "/identity/key.pem", ...session()]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
  });

  it("gets credentials with a SoftHSM key: the prebuilt PKCS#11 addon loads with the base image's libraries only", async () => {
    const r = await inImage(
      ["credential-process", "--certificate", `pkcs11:token=${hsm.token};object=ec-key`, "--pkcs11-lib", SOFTHSM_MODULE, "--pkcs11-pin-file", "/identity/pin", ...session()],
      { SOFTHSM2_CONF: hsm.conf },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
  });

  it("cannot change the image's files", async () => {
    const r = await inImage([], {}, [entrypoint[0]!, "-e", `require("fs").writeFileSync(${JSON.stringify(entrypoint[1])}, "x")`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/EACCES/);
  });
});
