/**
 * The shipped start-up path (dist/, built by `npm run build`): the V8 code cache is one V8 accepts, the
 * launcher answers an agent-served `credential-process --profile` without the CLI bundle, and everything
 * else goes through the bundle with the same answers and exit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, fstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { Script } from "node:vm";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { AGENT_FAST_PATH_FILE, buildIdLine, buildIdOf, CLI_BUNDLE_FILE, codeCacheFile, CREDENTIAL_PROCESS_BUNDLE_FILE, HARDWARE_BUNDLE_FILE, USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE } from "../src/cli/launcher/bundle-files.js";
import { readCacheData, withChecksum } from "../src/cli/launcher/read-cache-data.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../test/helpers/pki.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const run = promisify(execFile);
const DIST = join(process.cwd(), "dist");
const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/startup",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/startup",
  "role-arn": "arn:aws:iam::000000000000:role/startup",
};

const { dir, cleanup } = makeTempDir("raa-native-startup-");
let endpoint: LocalEndpoint;
let agent: ChildProcess | undefined;
let socket: string;
let config: string;
let leafFiles: { certPath: string; keyPath: string };
let hsm: SoftHsmFixture;

beforeAll(async () => {
  const ca = createCa(dir, { name: "Startup CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "startup-device", keyType: "p256" });
  leafFiles = leaf;
  hsm = createSoftHsmFixture("raa-native-startup-hsm-");
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath, hsm.file("ca.pem")], port: 0 });
  const runDir = join(dir, "run");
  mkdirSync(runDir, { mode: 0o700 });
  socket = join(runDir, "agent.sock");
  config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ profiles: { gw: { certificate: leaf.certPath, "private-key": leaf.keyPath, ...ARNS, endpoint: endpoint.url } } }), { mode: 0o600 });
  agent = spawn(process.execPath, [join(DIST, "cli.cjs"), "agent", "--config", config, "--socket", socket], { stdio: ["ignore", "ignore", "pipe"] });
  for await (const line of createInterface({ input: agent.stderr! })) if (/agent listening on/.test(line)) break;
  agent.stderr!.resume();
});

afterAll(async () => {
  if (agent) {
    agent.kill("SIGTERM");
    await once(agent, "exit");
  }
  await endpoint?.close();
  hsm?.cleanup();
  cleanup();
});

describe("dist/ start-up", () => {
  it("ships V8 code caches that this Node accepts for every bundle and the agent fast path", () => {
    for (const file of [CLI_BUNDLE_FILE, CREDENTIAL_PROCESS_BUNDLE_FILE, HARDWARE_BUNDLE_FILE, AGENT_FAST_PATH_FILE]) {
      const bundle = join(DIST, file);
      const source = readFileSync(bundle, "latin1");
      const fd = openSync(join(DIST, codeCacheFile(file)), "r");
      // The whole file, as its checksum says it was written (a damaged one is no cache).
      const cache = readCacheData(fd, fstatSync(fd).size);
      closeSync(fd);
      expect(cache, file).toBeDefined();
      // Both start with the bundle's build id line, which ties the cache to it (V8 checks the length only).
      const idLine = buildIdLine(buildIdOf(source)!);
      expect(cache!.toString("latin1", 0, idLine.length), file).toBe(idLine);
      const script = new Script(source, { filename: bundle, cachedData: cache!.subarray(idLine.length) });
      expect(script.cachedDataRejected, file).toBe(false);
    }
  });

  it("ships the key-file bundle as a text of at least 128 KB, which V8 reads into its large-object space, not the young generation", () => {
    // scripts/build.mjs pads it: at ~126 KB its source string filled an eighth of the young generation.
    expect(statSync(join(DIST, CREDENTIAL_PROCESS_BUNDLE_FILE)).size).toBeGreaterThanOrEqual(128 * 1024);
  });

  it("hands a credential-process the credential-process bundle cannot finish (PKCS#12) to the full CLI: one answer, nothing twice", async () => {
    const p12 = join(dir, "leaf.p12");
    openssl(["pkcs12", "-export", "-in", leafFiles.certPath, "-inkey", leafFiles.keyPath, "-out", p12, "-passout", "pass:startup"]);
    const flags = Object.entries(ARNS).flatMap(([name, value]) => [`--${name}`, value]);
    const args = [join(DIST, "cli.cjs"), "credential-process", "--no-agent", "--certificate", p12, "--pkcs8-password", "startup", "--endpoint", endpoint.url, ...flags];
    const answer = await run(process.execPath, args);
    expect(answer.stdout).toMatch(/^\{"Version":1,"AccessKeyId":"ASIA[^\n]*\}$/);
    expect(answer.stderr).toBe("");
    const wrong = await run(process.execPath, args.map((a) => (a === "startup" ? "wrong" : a))).catch((e) => e);
    expect(wrong.code).toBe(4);
    expect(wrong.stdout).toBe("");
    expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("runs credential-process with a pkcs11: or handle: key from the hardware bundle, and hands a line it cannot finish to the full CLI", async () => {
    // dist/ without the full CLI bundle, inside the project so that pkcs11js resolves as from dist/: what needs the
    // full CLI reports the missing file, what the hardware bundle finishes answers.
    const parent = join(process.cwd(), "node_modules", ".cache");
    mkdirSync(parent, { recursive: true });
    const partial = mkdtempSync(join(parent, "raa-startup-hardware-"));
    try {
      for (const file of readdirSync(DIST)) if (file.endsWith(".cjs") || file.endsWith(".cache") || file === "cli.cjs" || file === "package.json") copyFileSync(join(DIST, file), join(partial, file));
      rmSync(join(partial, CLI_BUNDLE_FILE));
      const arns = Object.entries(ARNS).flatMap(([name, value]) => [`--${name}`, value]);
      const tokenKey = (object: string) => {
        const uri = `pkcs11:token=${hsm.token};object=${object}`;
        return ["--no-agent", "--certificate", uri, "--private-key", uri, "--pkcs11-lib", hsm.module, "--pkcs11-pin-file", hsm.pinFile(), "--endpoint", endpoint.url, ...arns];
      };
      const env = { ...process.env, SOFTHSM2_CONF: hsm.conf, XDG_CACHE_HOME: join(dir, "hardware-cache") };
      const answer = await run(process.execPath, [join(partial, "cli.cjs"), "credential-process", ...tokenKey("ec-key")], { env });
      expect(answer.stdout).toMatch(/^\{"Version":1,"AccessKeyId":"ASIA[^\n]*\}$/);
      expect(answer.stderr).toBe("");

      // Intermediates from standard input (ec384-key's issuer): read-stdin is left out of the bundle, so the full CLI
      // runs the line from the start, and nothing of the hardware bundle's run is shown.
      const stdin = ["credential-process", ...tokenKey("ec384-key"), "--intermediates", "-"];
      const handedOver = await runWithInput(join(partial, "cli.cjs"), stdin, readFileSync(hsm.file("int-ca.pem"), "utf8"), env);
      expect(handedOver.code).toBe(1);
      expect(handedOver.stdout).toBe("");
      expect(handedOver.stderr).toMatch(new RegExp(`^roles-anywhere-agent: the installation is incomplete: cannot read .*${CLI_BUNDLE_FILE.replace(".", "\\.")} \\(ENOENT\\); reinstall roles-anywhere-agent\n$`));
      // The whole dist/: the full CLI answers that line, once.
      const full = await runWithInput(join(DIST, "cli.cjs"), stdin, readFileSync(hsm.file("int-ca.pem"), "utf8"), env);
      expect(full).toMatchObject({ code: 0, stderr: "" });
      expect(full.stdout).toMatch(/^\{"Version":1,"AccessKeyId":"ASIA[^\n]*\}$/);

      // A TPM key runs in the hardware bundle too: a TPM that is not there is its own one-line error and exit code.
      const tpmKey = ["--no-agent", "--certificate", leafFiles.certPath, "--private-key", "handle:0x81000001", "--tpm-device", join(dir, "no-tpm"), "--endpoint", endpoint.url, ...arns];
      const tpm = await run(process.execPath, [join(partial, "cli.cjs"), "credential-process", ...tpmKey], { env }).catch((e) => e);
      // The full CLI's answer to the same line (--debug sends it there; its debug lines are dropped).
      const viaFull = await run(process.execPath, [join(DIST, "cli.cjs"), "credential-process", ...tpmKey, "--debug"], { env }).catch((e) => e);
      viaFull.stderr = viaFull.stderr.split("\n").filter((line: string) => !line.startsWith("debug: ")).join("\n");
      expect(tpm.stderr.trim().split("\n")).toHaveLength(1);
      expect(tpm.stderr).not.toMatch(/installation is incomplete/);
      expect({ code: tpm.code, stdout: tpm.stdout, stderr: tpm.stderr }).toEqual({ code: viaFull.code, stdout: viaFull.stdout, stderr: viaFull.stderr });
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  });

  it.each(["--debug", "-debug", "-debug=true"])("writes %s lines as they happen, not when the command ends (an endpoint that answers 503 to every attempt)", async (debugFlag) => {
    let requests = 0;
    const silent = createHttpServer((_request, response) => {
      requests++;
      response.writeHead(503, { "content-type": "application/json" }).end("{}");
    });
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const port = (silent.address() as AddressInfo).port;
    const flags = Object.entries(ARNS).flatMap(([name, value]) => [`--${name}`, value]);
    const child = spawn(process.execPath, [join(DIST, "cli.cjs"), "credential-process", debugFlag, "--no-agent", "--certificate", leafFiles.certPath,
      "--private-key", leafFiles.keyPath, "--endpoint", `http://127.0.0.1:${port}`, ...flags], { stdio: ["ignore", "ignore", "pipe"] });
    try {
      let seen = "";
      for await (const line of createInterface({ input: child.stderr! })) {
        seen = line;
        if (/^debug: attempt 1\//.test(line)) break;
      }
      expect(seen).toMatch(/^debug: attempt 1\//);
      // The line came with the first attempt, not when the run gave up after all of them.
      expect(requests).toBeLessThanOrEqual(1);
    } finally {
      child.kill("SIGKILL");
      silent.close();
    }
  });

  it("makes a code cache of its own for V8 flags the shipped one was not made with, after the first run, and uses it", async () => {
    const cacheHome = join(dir, "xdg-cache");
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome, NODE_OPTIONS: "--max-old-space-size=1000", NODE_EXTRA_CA_CERTS: "" };
    const cacheDir = join(cacheHome, "roles-anywhere-agent", "code-cache");
    await run(process.execPath, [join(DIST, "cli.cjs"), "version"], { env });
    const [file] = readdirSync(cacheDir);
    expect(file).toMatch(
      new RegExp(`^[0-9a-f]{8}-[0-9a-f]{8}-${process.version}-${process.arch}-[0-9a-f]{8}\\.cache$`),
    );
    const made = statSync(join(cacheDir, file!));
    expect(made.mode & 0o777).toBe(0o600);
    // V8 accepts it on the next run (the launcher rewrites only a cache V8 rejected), and the answer is the same.
    const again = await run(process.execPath, [join(DIST, "cli.cjs"), "version"], { env });
    expect(again.stdout).toMatch(/\d+\.\d+\.\d+/);
    expect(statSync(join(cacheDir, file!)).mtimeMs).toBe(made.mtimeMs);
    expect(readdirSync(cacheDir)).toEqual([file]);
    // Without the flag, the shipped cache fits: nothing more is written.
    await run(process.execPath, [join(DIST, "cli.cjs"), "version"], { env: { ...env, NODE_OPTIONS: "" } });
    expect(readdirSync(cacheDir)).toEqual([file]);
  });

  // Round 33 (a mutant that never took the shipped cache outside the build's Node survived): with a Node option that
  // is no V8 flag the launcher looks for the user's cache first, yet the shipped one fits on the build's CPU.
  it("takes the shipped cache under a Node option that is no V8 flag (--no-warnings): no cache of the user's is written", async () => {
    const cacheHome = join(dir, "xdg-cache-node-option");
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome, NODE_OPTIONS: "--no-warnings", NODE_EXTRA_CA_CERTS: "" };
    expect((await run(process.execPath, [join(DIST, "cli.cjs"), "version"], { env })).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(existsSync(join(cacheHome, "roles-anywhere-agent", "code-cache"))).toBe(false);
  });

  it("answers an agent-served credential-process from the launcher alone, and needs the bundle for anything else", async () => {
    // dist/cli.cjs and its agent fast path (with its code cache, and the user cache's reader for another Node) without
    // the bundles next to them: only the launcher's own code can answer.
    const alone = join(dir, "launcher-only");
    mkdirSync(alone);
    for (const file of ["cli.cjs", "agent-fast-path.cjs", "agent-fast-path.cjs.cache", USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE, "package.json"]) copyFileSync(join(DIST, file), join(alone, file));
    const viaAgent = await run(process.execPath, [join(alone, "cli.cjs"), "credential-process", "--profile", "gw", "--agent-socket", socket]);
    const fromAgent = JSON.parse(viaAgent.stdout);
    expect(fromAgent).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/) });
    expect(viaAgent.stderr).toBe("");
    // --debug says which socket answered (before: not a word), never the credentials.
    const debug = await run(process.execPath, [join(alone, "cli.cjs"), "credential-process", "--profile", "gw", "--agent-socket", socket, "--debug"]);
    expect(debug.stderr).toBe(`debug: agent: credentials from the agent at ${socket}\n`);

    const notServed = await run(process.execPath, [join(alone, "cli.cjs"), "credential-process", "--profile", "other", "--agent-socket", socket]).catch((e) => e);
    // Without the bundle, that is a broken installation, reported in one line.
    expect(notServed.code).toBe(1);
    expect(notServed.stderr).toMatch(/^roles-anywhere-agent: the installation is incomplete: cannot read .*credential-process\.cjs \(ENOENT\); reinstall roles-anywhere-agent\n$/);

    // The full CLI (--region is not a flag the launcher takes) gives the same cached credentials: it reads the profile
    // to ask the agent for what the line asks (the same region here), no longer for the profile by name.
    const full = await run(process.execPath, [join(DIST, "cli.cjs"), "credential-process", "--config", config, "--profile", "gw", "--agent-socket", socket, "--agent", "--region", "us-east-1"]);
    expect(JSON.parse(full.stdout).AccessKeyId).toBe(fromAgent.AccessKeyId);
  });

  it("answers from the agent alike with the fast path's shipped cache, a foreign one (refused), the user's own and none", async () => {
    const copy = join(dir, "fast-path-caches");
    mkdirSync(copy);
    for (const file of ["cli.cjs", AGENT_FAST_PATH_FILE, USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE, "package.json"]) copyFileSync(join(DIST, file), join(copy, file));
    const shipped = join(copy, codeCacheFile(AGENT_FAST_PATH_FILE));
    const cacheHome = join(dir, "fast-path-xdg");
    const cacheDir = join(cacheHome, "roles-anywhere-agent", "code-cache");
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome, NODE_OPTIONS: "", NODE_EXTRA_CA_CERTS: "" };
    const ask = async (nodeOptions = "") => {
      const args = [join(copy, "cli.cjs"), "credential-process", "--profile", "gw", "--agent", "--agent-socket", socket];
      const answer = await run(process.execPath, args, { env: { ...env, NODE_OPTIONS: nodeOptions } });
      expect(answer.stderr).toBe("");
      return JSON.parse(answer.stdout) as { AccessKeyId: string };
    };
    copyFileSync(join(DIST, codeCacheFile(AGENT_FAST_PATH_FILE)), shipped);
    const withShipped = await ask();
    expect(withShipped).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/) });
    // Another bundle's cache in its place: refused (its first line names another build), the fast path compiles from
    // source and writes the user's cache, as with none.
    copyFileSync(join(DIST, codeCacheFile(CREDENTIAL_PROCESS_BUNDLE_FILE)), shipped);
    expect(await ask()).toEqual(withShipped);
    const [unflagged] = readdirSync(cacheDir);
    // Under a V8 flag the shipped cache does not fit: the first run writes the user's cache, the next one takes it.
    expect(await ask("--max-old-space-size=1000")).toEqual(withShipped);
    const [own] = readdirSync(cacheDir).filter((f) => f !== unflagged);
    const written = statSync(join(cacheDir, own!)).mtimeMs;
    expect(await ask("--max-old-space-size=1000")).toEqual(withShipped);
    expect(readdirSync(cacheDir).sort()).toEqual([unflagged, own].sort());
    expect(statSync(join(cacheDir, own!)).mtimeMs).toBe(written);
    // No cache at all (a development build).
    rmSync(shipped);
    expect(await ask()).toEqual(withShipped);
  });

  it("under another Node than the build's, answers with a cache for that Node written next to the fast path, not the user's", async () => {
    // A copy whose launcher takes this Node for another one than the build's (as Node 22 or 24 are for a package
    // built by Node 20), without the shipped cache (which that Node's V8 would refuse).
    const copy = join(dir, "other-node");
    mkdirSync(copy, { mode: 0o755 });
    for (const file of [AGENT_FAST_PATH_FILE, USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE, "package.json"]) copyFileSync(join(DIST, file), join(copy, file));
    const launcher = readFileSync(join(DIST, "cli.cjs"), "utf8");
    writeFileSync(join(copy, "cli.cjs"), launcher.replace(JSON.stringify(`${process.version}-${process.arch}`), JSON.stringify(`v0.0.0-${process.arch}`)));
    const cacheHome = join(dir, "other-node-xdg");
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome, NODE_OPTIONS: "", NODE_EXTRA_CA_CERTS: "" };
    const ask = async () => {
      const answer = await run(process.execPath, [join(copy, "cli.cjs"), "credential-process", "--profile", "gw", "--agent", "--agent-socket", socket], { env });
      expect(answer.stderr).toBe("");
      return JSON.parse(answer.stdout) as { AccessKeyId: string };
    };
    const cacheName = new RegExp(`^${AGENT_FAST_PATH_FILE.replaceAll(".", "\\.")}\\.[0-9a-f]{16}\\.${process.version.replaceAll(".", "\\.")}-${process.arch}\\.cache$`);
    const runtimeCaches = () => readdirSync(copy).filter((f) => cacheName.test(f));
    const first = await ask();
    expect(first).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/) });
    const [own] = runtimeCaches();
    expect(runtimeCaches()).toEqual([own]);
    const cache = join(copy, own!);
    const written = statSync(cache);
    expect(written.mode & 0o777).toBe(0o644 & ~process.umask());
    // Neither the first run nor the next ones need the user's cache (nor its checked walk).
    expect(existsSync(cacheHome)).toBe(false);
    expect(await ask()).toEqual(first);
    expect(statSync(cache).mtimeMs).toBe(written.mtimeMs);
    expect(existsSync(cacheHome)).toBe(false);
    // One that others can write is not read: the run compiles from the user's cache or the source and replaces it.
    chmodSync(cache, 0o666);
    expect(await ask()).toEqual(first);
    expect(statSync(cache).mode & 0o777).toBe(0o644 & ~process.umask());
    expect(statSync(cache).ino).not.toBe(written.ino);
    // In a package directory of another user's, none is read or written: the user's cache, as before.
    if (process.geteuid!() === 0) {
      chownSync(copy, 65534, 65534);
      try {
        expect(await ask()).toEqual(first);
        expect(runtimeCaches()).toEqual([own]);
        expect(readdirSync(join(cacheHome, "roles-anywhere-agent", "code-cache"))).toHaveLength(1);
      } finally {
        chownSync(copy, 0, 0);
      }
      rmSync(cacheHome, { recursive: true });
    }
    // None is written into a directory others can write: the user's cache instead, as before.
    rmSync(cache);
    chmodSync(copy, 0o777);
    try {
      expect(await ask()).toEqual(first);
      expect(runtimeCaches()).toEqual([]);
      expect(readdirSync(join(cacheHome, "roles-anywhere-agent", "code-cache"))).toHaveLength(1);
    } finally {
      chmodSync(copy, 0o755);
    }
  });

  it.runIf(process.geteuid?.() === 0)("under another Node, a read-only package directory of the user's costs no cache writer once the user's cache fits", async () => {
    // A copy as above, mounted read-only (a container's root file system, run as root, who owns the package). The
    // writer is wrapped so that loading it leaves a mark: making cache data on every run costs ~26 M instructions.
    const copy = join(dir, "read-only");
    mkdirSync(copy, { mode: 0o755 });
    for (const file of [AGENT_FAST_PATH_FILE, USER_CODE_CACHE_FILE, "package.json"]) copyFileSync(join(DIST, file), join(copy, file));
    copyFileSync(join(DIST, USER_CODE_CACHE_WRITER_FILE), join(copy, "real-writer.cjs"));
    writeFileSync(join(copy, USER_CODE_CACHE_WRITER_FILE), 'require("node:fs").writeFileSync(process.env.WRITER_MARK, "loaded");\nmodule.exports = require("./real-writer.cjs");\n');
    const launcher = readFileSync(join(DIST, "cli.cjs"), "utf8");
    writeFileSync(join(copy, "cli.cjs"), launcher.replace(JSON.stringify(`${process.version}-${process.arch}`), JSON.stringify(`v0.0.0-${process.arch}`)));
    const mark = join(dir, "writer-loaded");
    const env = { ...process.env, XDG_CACHE_HOME: join(dir, "read-only-xdg"), NODE_OPTIONS: "", NODE_EXTRA_CA_CERTS: "", WRITER_MARK: mark };
    const script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"';
    const ask = async () => {
      const args = [join(copy, "cli.cjs"), "credential-process", "--profile", "gw", "--agent", "--agent-socket", socket];
      const answer = await run("unshare", ["-m", "sh", "-c", script, "sh", copy, process.execPath, ...args], { env });
      expect(answer.stderr).toBe("");
      return JSON.parse(answer.stdout) as { AccessKeyId: string };
    };
    // The first run has no cache at all: it writes the user's (the directory cannot take one).
    const first = await ask();
    expect(first).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/) });
    expect(existsSync(mark)).toBe(true);
    expect(readdirSync(join(dir, "read-only-xdg", "roles-anywhere-agent", "code-cache"))).toHaveLength(1);
    rmSync(mark);
    // The next ones take it, and load no writer.
    expect(await ask()).toEqual(first);
    expect(existsSync(mark)).toBe(false);
  });

  it("runs each bundle's own code when another build's bundle of the same length left its code caches next to it", async () => {
    // Two builds of the CLI bundle, of the same length and different code, as scripts/build.mjs writes them (a build
    // id line, then the wrapped module). An installation that copies files one by one over the old ones (cp, rsync,
    // an interrupted copy) can leave one's caches next to the other: V8 accepts any cache of a source that long.
    const copy = join(dir, "two-builds");
    mkdirSync(copy);
    for (const file of ["cli.cjs", "launcher-error.cjs", USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE, "package.json"]) copyFileSync(join(DIST, file), join(copy, file));
    const built = (expression: string) => {
      const wrapped = `(function (exports, require, module, __filename, __dirname) {process.stdout.write(String(${expression}))\n})`;
      return buildIdLine(createHash("sha256").update(wrapped).digest("hex").slice(0, 16)) + wrapped;
    };
    const [before, after] = [built("1 + 2"), built("7 - 2")];
    expect(after.length).toBe(before.length);
    const bundle = join(copy, CLI_BUNDLE_FILE);
    const script = new Script(before, { filename: bundle });
    script.runInThisContext(); // the module function, compiled (not run): its code is in the cache
    const shipped = withChecksum(Buffer.concat([Buffer.from(before.slice(0, before.indexOf("\n") + 1), "latin1"), script.createCachedData()]));
    writeFileSync(join(copy, codeCacheFile(CLI_BUNDLE_FILE)), shipped);
    const cacheHome = join(dir, "two-builds-xdg");
    const env = { ...process.env, XDG_CACHE_HOME: cacheHome, NODE_OPTIONS: "", NODE_EXTRA_CA_CERTS: "" };
    const launch = async (nodeOptions = "") => (await run(process.execPath, [join(copy, "cli.cjs"), "version"], { env: { ...env, NODE_OPTIONS: nodeOptions } })).stdout;
    writeFileSync(bundle, before);
    expect(await launch()).toBe("3");
    // The shipped cache of the first build next to the second build's bundle.
    writeFileSync(bundle, after);
    expect(await launch()).toBe("5");
    // The user's cache (here for a V8 flag) of the first build, and the second written over the first in place with
    // the first one's times kept (rsync --inplace -t): the same size, mtime and inode.
    writeFileSync(bundle, before);
    const times = join(copy, "times");
    await run("touch", ["-r", bundle, times]); // to the nanosecond, which the user cache's key has
    expect(await launch("--max-old-space-size=1000")).toBe("3");
    const userCaches = join(cacheHome, "roles-anywhere-agent", "code-cache");
    const headers = readdirSync(userCaches).map((f) => readFileSync(join(userCaches, f), "latin1").split("\n")[0]);
    expect(headers.some((line) => line?.includes(` ${buildIdOf(before)}-`))).toBe(true); // made for the first build
    expect(await launch("--max-old-space-size=1000")).toBe("3"); // from the user's cache
    writeFileSync(bundle, after);
    await run("touch", ["-r", times, bundle]);
    expect(statSync(bundle).mtimeMs).toBe(statSync(times).mtimeMs);
    expect(await launch("--max-old-space-size=1000")).toBe("5");
  });

  it("reports agent errors from the launcher as the CLI does: one line, the documented exit code", async () => {
    const missing = await run(process.execPath, [join(DIST, "cli.cjs"), "credential-process", "--profile", "gw", "--agent", "--agent-socket", join(dir, "run", "none.sock")]).catch((e) => e);
    expect(missing.code).toBe(7);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/^roles-anywhere-agent: no agent at .*none\.sock serves this role/);
  });

  it("drops its output quietly when nobody reads it (EPIPE): no internal error, the command's own exit code", async () => {
    for (const args of [["version"], ["credential-process", "--profile", "gw", "--agent-socket", socket]]) {
      const child = spawn(process.execPath, [join(DIST, "cli.cjs"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
      child.stdout!.destroy(); // the reader goes away before the answer is written
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      const [code] = (await once(child, "exit")) as [number | null];
      expect({ args: args[0], code, stderr }).toEqual({ args: args[0], code: 0, stderr: "" });
    }
  });

  it("runs help (yargs, loaded from node_modules) and the version through the bundle", async () => {
    const help = await run(process.execPath, [join(DIST, "cli.cjs"), "credential-process", "--help"]);
    expect(help.stdout).toMatch(/--trust-anchor-arn/);
    const version = await run(process.execPath, [join(DIST, "cli.cjs"), "version"]);
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
  });
});

/** Runs `node cli args` with `input` on its standard input. */
async function runWithInput(cli: string, args: string[], input: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  // A CLI that fails before it reads its standard input closes the pipe: EPIPE here is that, not a test error.
  child.stdin!.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  child.stdin!.end(input);
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}
