#!/usr/bin/env node
// Builds the library (tsc → dist/lib, ESM with .d.ts) and the CLI:
// - dist/cli-bundle.cjs: every command in one CommonJS bundle (src/cli/bin.ts). CommonJS starts without the
//   ESM loader and one file costs one compile; modules a command does not use are wrapped and never run.
// - dist/cli-bundle.cjs.cache: V8's code cache for that bundle, so that it is not even parsed at start-up, made
//   after a real credential-process run against the local endpoint in this process, so that it holds the
//   functions that path compiles too (src/cli/launcher/code-cache.ts: other Nodes get a cache of their own).
// - dist/credential-process.cjs and dist/credential-process-hardware.cjs (each with its .cache): credential-process
//   with a key file, and with a PKCS#11 or TPM key, without what only the other commands need (below).
// - dist/daemon/*.mjs: the same program as ES modules split per command, for the long-running commands
//   (agent, serve, update, local-endpoint): loading only what they use keeps their memory ~8 MB lower than the
//   one-file bundle does, and their start-up time does not matter.
// - dist/cli.cjs: the bin (src/cli/launcher/main.ts): answers agent-served credential-process calls by itself,
//   else runs the long-running commands from dist/daemon/ and all others from the cached bundle. CommonJS by its
//   name: for a `.js` file Node's loader first reads the package scope's package.json (~0.5 M instructions a run).
//   dist/cli.js, for whoever runs the CLI by that path (units written before, scripts), only requires it.
// - dist/native/<platform>-<arch>/raa_native.node: the project's own N-API addon (native/raa_native.c; PR_SET_DUMPABLE,
//   SO_PEERCRED), built with node-gyp and shipped prebuilt, so that an install without a compiler has it; on x64 also
//   for linux-arm64 (IoT gateways), cross-compiled with aarch64-linux-gnu-gcc where it is installed.
// Start-up time is a feature: every `aws` command runs credential-process (bench/cold-start.ts, bench/agent.mjs).
import { build } from "esbuild";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Script } from "node:vm";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
const version = JSON.stringify(pkg.version);

rmSync("dist", { recursive: true, force: true });

execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
const versionFile = "dist/lib/version.js";
writeFileSync(versionFile, readFileSync(versionFile, "utf8").replace(/typeof __AGENT_VERSION__[^;]*;/, `${version};`));
// The package is "type": "module"; the CLI files are CommonJS, so dist/ says so and dist/lib says ESM again.
writeFileSync("dist/package.json", `${JSON.stringify({ type: "commonjs" })}\n`);
writeFileSync("dist/lib/package.json", `${JSON.stringify({ type: "module" })}\n`);

const { AGENT_FAST_PATH_FILE, CLI_BUNDLE_FILE, CREDENTIAL_PROCESS_BUNDLE_FILE, HARDWARE_BUNDLE_FILE, USER_CODE_CACHE_FILE, USER_CODE_CACHE_WRITER_FILE, buildIdLine, codeCacheFile, wrapCommonJs } = await import("../dist/lib/cli/launcher/bundle-files.js");
const { CACHE_CHECKSUM_BYTES, withChecksum } = await import("../dist/lib/cli/launcher/read-cache-data.js");
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  keepNames: true,
  legalComments: "none",
  logLevel: "warning",
  // src/os/module-file.ts reads __filename in CommonJS and import.meta.url only in ES modules.
  logOverride: { "empty-import-meta": "silent" },
};

const cliBundle = {
  ...common,
  // Prefer packages' ESM builds: one copy of each module whether it is imported statically or with import().
  mainFields: ["module", "main"],
  define: { __AGENT_VERSION__: version },
  // import() becomes require() (of ES modules too, as Node ≥ 20.19 allows): functions restored from a V8 code
  // cache have no dynamic-import callback.
  supported: { "dynamic-import": false },
  // The native addon stays in node_modules, and so do libraries only some runs need (yargs renders --help,
  // @noble/post-quantum signs with ML-DSA keys): the source loads them by name with requireFromPackage
  // (src/os/own-package.ts), which esbuild leaves alone, so they cost the others nothing.
  external: ["pkcs11js"],
};
await build({ ...cliBundle, entryPoints: ["src/cli/bin.ts"], outfile: `dist/${CLI_BUNDLE_FILE}` });

/**
 * dist/credential-process.cjs: credential-process with a key file, without the modules only hardware keys,
 * PKCS#12 files, ML-DSA certificates, help and the other commands load (each import of one gets
 * src/cli/launcher/left-out.ts, which hands the command line to the full bundle). Loading code is most of
 * what credential-process costs over the least a Node program doing the same work costs.
 * dist/credential-process-hardware.cjs: the same with the PKCS#11 and TPM back-ends, for pkcs11: and handle: keys
 * (a bundle of its own: in the key-file bundle, their code made every key-file call ~1 % dearer).
 */
const LEFT_OUT = join(process.cwd(), "src/cli/launcher/left-out.ts");
const leftOut = ({ hardware }) => ({
  name: "left-out",
  setup(b) {
    const other = (path, importer) =>
      (/[\\/]src[\\/]cli[\\/]commands[\\/]index\.ts$/.test(importer) && path !== "./credential-process.js") ||
      (/[\\/]src[\\/]cli[\\/]main\.ts$/.test(importer) && (path === "./help.js" || path === "./completion.js")) ||
      (!hardware && /[\\/]src[\\/]signers[\\/]factory\.ts$/.test(importer) && /^\.\/(pkcs11|tpm)\/|^\.\.\/tpm\/keys\/tss2-key-file\.js$/.test(path)) ||
      // Standard input can be read only once: a command line that reads it runs in the full CLI from the start.
      (/[\\/]src[\\/]io[\\/]input-file\.ts$/.test(importer) && path === "./read-stdin.js") ||
      /^(@peculiar\/|asn1js$)/.test(path) ||
      (!hardware && path === "pkcs11js");
    b.onResolve({ filter: /.*/ }, ({ path, importer }) => (other(path, importer) ? { path: LEFT_OUT } : undefined));
  },
});
const lightBundle = {
  ...cliBundle,
  entryPoints: ["src/cli/launcher/credential-process-entry.ts"],
  metafile: true,
  // keepNames sets the `name` of ~300 functions and classes as the bundle loads (~1.5 % of a run). Names only
  // show in the stack traces --debug prints, and a command line with --debug runs in the full CLI.
  keepNames: false,
};
const light = await build({ ...lightBundle, outfile: `dist/${CREDENTIAL_PROCESS_BUNDLE_FILE}`, plugins: [leftOut({ hardware: false })] });
// (src/pkcs11/uri.ts stays: settings check pkcs11: URIs before any key is opened; src/tpm/keys/tss2-detect.ts: the
// factory asks it whether a key file is a TPM key.)
const kept = ["src/pkcs11/uri.ts", "src/tpm/keys/tss2-detect.ts"];
const heavy = Object.keys(light.metafile.inputs).filter((f) => !kept.includes(f) && /^src\/(tpm|pkcs11|signers\/(tpm|pkcs11)|provisioning|doctor|serve|agent\/server)\/|node_modules\/(@peculiar|asn1js)/.test(f));
if (heavy.length > 0) throw new Error(`dist/${CREDENTIAL_PROCESS_BUNDLE_FILE} holds modules it should leave out: ${heavy.slice(0, 5).join(", ")}`);
const hw = await build({ ...lightBundle, outfile: `dist/${HARDWARE_BUNDLE_FILE}`, plugins: [leftOut({ hardware: true })] });
const hwHeavy = Object.keys(hw.metafile.inputs).filter((f) => /^src\/(provisioning|doctor|serve|agent\/server)\/|node_modules\/(@peculiar|asn1js)/.test(f));
if (hwHeavy.length > 0) throw new Error(`dist/${HARDWARE_BUNDLE_FILE} holds modules it should leave out: ${hwHeavy.slice(0, 5).join(", ")}`);

const bundleIds = {};
/**
 * Names a file the launcher compiles with src/cli/launcher/run-bundle.ts, after checking that it can, and writes it
 * wrapped as the CommonJS module function the launcher compiles, after a first line naming it (its id, a hash of
 * that text), which its shipped cache starts with too (src/cli/launcher/bundle-files.ts: buildIdLine).
 */
function addBundleId(file) {
  const text = readFileSync(`dist/${file}`, "utf8");
  const source = wrapCommonJs(file === CREDENTIAL_PROCESS_BUNDLE_FILE ? padToLargeObject(text) : text);
  if (/\bimport\(/.test(source)) throw new Error(`dist/${file} still calls import(): it would fail when restored from the code cache`);
  // The launcher reads the bundles as latin1 (no UTF-8 decoding): esbuild escapes non-ASCII text by default.
  if (/[^\x00-\x7f]/.test(source)) throw new Error(`dist/${file} is not ASCII`);
  bundleIds[file] = createHash("sha256").update(source).digest("hex").slice(0, 16);
  writeFileSync(`dist/${file}`, buildIdLine(bundleIds[file]) + source);
}

/**
 * dist/<bundle>.cache: V8's `data`, after the bundle's build id line (the launcher uses it only for that build), then
 * a checksum of both (src/cli/launcher/read-cache-data.ts).
 */
function writeShippedCache(file, data) {
  writeFileSync(`dist/${codeCacheFile(file)}`, withChecksum(Buffer.concat([Buffer.from(buildIdLine(bundleIds[file]), "latin1"), data])));
}
for (const file of [CLI_BUNDLE_FILE, CREDENTIAL_PROCESS_BUNDLE_FILE, HARDWARE_BUNDLE_FILE]) addBundleId(file);

/**
 * The bundle's text, with a trailing comment of spaces when needed, so that the string the launcher reads it into
 * is at least 128 KB: V8 (Node 20, 22 and 24) allocates such a string in its large-object space, and anything
 * smaller in the young generation. dist/credential-process.cjs is ~126 KB: read into the 1 MB young generation a
 * Node process starts with, it filled an eighth of it and was copied once more by the collection it helped cause
 * (on Node 24 it made the second of two, which the reference program does not have: 3–4 M instructions, ~130
 * page faults). The 5 KB of spaces cost nothing measurable to read; V8 never parses them (the code cache holds
 * every function the run compiles).
 */
function padToLargeObject(text) {
  const LARGE_OBJECT_CHARS = 128 * 1024;
  const missing = LARGE_OBJECT_CHARS - wrapCommonJs(text).length - "\n/**/".length;
  return missing > 0 ? `${text}\n/*${" ".repeat(missing)}*/` : text;
}

// Bundled CommonJS dependencies call require(); ESM chunks get one from node:module. Only chunks that use it
// keep that import: importing node:module costs start-up time.
const REQUIRE_SHIM = 'import{createRequire as __raaCreateRequire}from"node:module";const require=__raaCreateRequire(import.meta.url);';
await build({
  ...common,
  entryPoints: { cli: "src/cli/bin.ts" },
  outdir: "dist/daemon",
  outExtension: { ".js": ".mjs" },
  chunkNames: "[name]-[hash]",
  splitting: true,
  format: "esm",
  // Prefer packages' ESM builds: CJS modules reached through import() lose their named exports in a split bundle.
  mainFields: ["module", "main"],
  define: { __AGENT_VERSION__: version },
  external: ["pkcs11js"],
  banner: { js: REQUIRE_SHIM },
});
// A module npm has not finished writing, cut where a statement ends (or still empty), compiles and loads without
// its exports ("K is not a function"). Each one ends with a marker export that every import of it asks for: at link
// time for static imports, on arrival for import() and the entry (main.ts). installationChanged: "cut short".
const END = "__raaEnd";
for (const name of readdirSync("dist/daemon")) {
  const file = join("dist/daemon", name);
  let code = readFileSync(file, "utf8");
  if (code.startsWith(REQUIRE_SHIM) && !/\brequire\b/.test(code.slice(REQUIRE_SHIM.length))) code = code.slice(REQUIRE_SHIM.length);
  const imported = new Set([...code.matchAll(/(?:from|import)\s*"(\.\/[\w-]+\.mjs)"/g)].map((m) => m[1]));
  code = code.replace(/import\("(\.\/[\w-]+\.mjs)"\)/g, (call, path) =>
    `${call}.then(m=>"${END}"in m?m:Promise.reject(new SyntaxError("The requested module '${path}' does not provide an export named '${END}'")))`);
  const asks = [...imported].map((path, i) => `import{${END} as ${END}${i}}from"${path}";`).join("");
  writeFileSync(file, `${code}\n;${asks}export const ${END}=1;\n`);
}

// The launcher's parts that only some runs need, as files of their own (dist/cli.cjs is compiled on every run).
await build({ ...common, entryPoints: ["src/cli/launcher/agent-fast-path.ts"], outfile: `dist/${AGENT_FAST_PATH_FILE}` });
addBundleId(AGENT_FAST_PATH_FILE);
await build({ ...common, entryPoints: ["src/cli/launcher/launcher-error.ts"], outfile: "dist/launcher-error.cjs" });
// The reader's errors never leave it (a cache it cannot use is no cache): no keepNames, which sets names at load.
await build({ ...common, entryPoints: ["src/cli/launcher/code-cache-reader.ts"], outfile: `dist/${USER_CODE_CACHE_FILE}`, keepNames: false });
await build({ ...common, entryPoints: ["src/cli/launcher/code-cache.ts"], outfile: `dist/${USER_CODE_CACHE_WRITER_FILE}` });
// dist/cli.cjs is compiled from its source on every run: no keepNames (it named ~20 functions at each start).
await build({ ...common, entryPoints: ["src/cli/launcher/main.ts"], outfile: "dist/cli.cjs", keepNames: false, define: { __BUILD_RUNTIME__: JSON.stringify(`${process.version}-${process.arch}`) } });
chmodSync("dist/cli.cjs", 0o755);
writeFileSync("dist/cli.js", '#!/usr/bin/env node\n// The bin is dist/cli.cjs; this path runs it for units and scripts that name dist/cli.js.\nrequire("./cli.cjs");\n', { mode: 0o755 });

buildNativeHelper();
buildArm64NativeHelper();
await writeWarmCodeCaches(bundleIds);

/**
 * The shipped caches (dist/<bundle>.cache), made the way a user's first run makes theirs
 * (src/cli/launcher/run-bundle.ts), in a temporary XDG_CACHE_HOME, with throwaway P-256 keys from openssl and the
 * local endpoint in this process: one credential-process through each bundle, with a PEM key, and for the hardware
 * bundle with a throwaway SoftHSM token where SoftHSM and pkcs11-tool are installed; the agent fast path's after an
 * answer from a real agent serving that key. Each cache is written after its run, so that it holds the functions
 * the run compiled too.
 * Without openssl, the caches of the compiled bundles alone (functions then compile lazily on each run).
 */
async function writeWarmCodeCaches(bundleIds) {
  const files = Object.keys(bundleIds);
  const topLevelOnly = (only = files) => {
    for (const file of only) {
      const source = readFileSync(`dist/${file}`, "latin1");
      writeShippedCache(file, new Script(source, { filename: file }).createCachedData());
    }
  };
  const dir = mkdtempSync(join(tmpdir(), "raa-build-"));
  let endpoint;
  try {
    const openssl = (args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=build CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=build"]);
    writeFileSync(join(dir, "leaf.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n");
    openssl(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "1", "-days", "1", "-extfile", "leaf.ext", "-out", "leaf.pem"]);
    const { startLocalEndpoint } = await import("../dist/lib/local-endpoint/server.js");
    endpoint = await startLocalEndpoint({ trustAnchors: [join(dir, "ca.pem")], port: 0 });
    // No agent can answer in the temporary XDG_RUNTIME_DIR: the runs look for one, as a user's first run does, so
    // that the caches hold that look too (with --no-agent, every call without it compiled it: ~0.3 M instructions).
    const env = { ...process.env, HOME: dir, XDG_CACHE_HOME: join(dir, "cache"), XDG_RUNTIME_DIR: dir };
    delete env.NODE_OPTIONS;
    delete env.ROLES_ANYWHERE_AGENT_SOCKET;
    const arns = ["--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/build", "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/build",
      "--role-arn", "arn:aws:iam::000000000000:role/build", "--endpoint", endpoint.url];
    const key = ["--certificate", join(dir, "leaf.pem"), "--private-key", join(dir, "leaf.key")];
    const args = ["credential-process", ...key, ...arns];
    const token = softHsmToken(dir, openssl);
    if (token) Object.assign(env, token.env);
    // dist/cli.cjs runs the credential-process bundles, which write their user caches: the key file's, and the
    // hardware one's with a SoftHSM key where SoftHSM is installed (else it gets its top level only). The full
    // bundle is run directly, as the launcher would run it after a hand-over, with the same key file, and its
    // cache written the same way.
    const runs = [
      ["dist/cli.cjs", ...args],
      ...(token ? [["dist/cli.cjs", "credential-process", ...token.args, ...arns]] : []),
      ["-e", `const { Script } = require("node:vm"); const { writeFileSync, readFileSync } = require("node:fs");
        const file = ${JSON.stringify(join(process.cwd(), "dist", CLI_BUNDLE_FILE))};
        process.argv.splice(1, 0, file);
        const script = new Script(readFileSync(file, "latin1"), { filename: file });
        process.once("exit", (code) => code === 0 && writeFileSync(file + ".cache", script.createCachedData()));
        const module_ = { exports: {} };
        script.runInThisContext()(module_.exports, require("node:module").createRequire(file), module_, file, require("node:path").dirname(file));`, "--", ...args],
    ];
    const cacheDir = join(dir, "cache", "roles-anywhere-agent", "code-cache");
    for (const argv of runs) {
      const run = spawn(process.execPath, argv, { env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      run.stderr.on("data", (d) => (stderr += d));
      const [code] = await once(run, "exit");
      if (code !== 0) throw new Error(`credential-process exited with ${code}: ${stderr.trim()}`);
    }
    try {
      await answerFromAgent(dir, env, key, arns);
    } catch (error) {
      console.warn(`warning: the agent fast path's code cache holds its top level only (${error.message.split("\n")[0]})`);
    }
    writeShippedCache(CLI_BUNDLE_FILE, readFileSync(`dist/${codeCacheFile(CLI_BUNDLE_FILE)}`)); // as V8 wrote it
    // The user caches those runs wrote (code-cache.ts: a header naming the bundle's id, V8's data, its checksum).
    for (const name of readdirSync(cacheDir).filter((f) => f.endsWith(".cache"))) {
      const data = readFileSync(join(cacheDir, name));
      const [, bundleKey] = data.toString("latin1", 0, data.indexOf(10)).split(" ");
      const file = [CREDENTIAL_PROCESS_BUNDLE_FILE, HARDWARE_BUNDLE_FILE, AGENT_FAST_PATH_FILE].find((f) => bundleKey.startsWith(`${bundleIds[f]}-`));
      if (file) writeShippedCache(file, data.subarray(data.indexOf(10) + 1, data.length - CACHE_CHECKSUM_BYTES));
    }
    for (const file of [HARDWARE_BUNDLE_FILE, AGENT_FAST_PATH_FILE]) if (!existsSync(`dist/${codeCacheFile(file)}`)) topLevelOnly([file]);
  } catch (error) {
    console.warn(`warning: the code caches hold the bundles' top level only (${error.message.split("\n")[0]})`);
    topLevelOnly();
  } finally {
    await endpoint?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `credential-process --agent --profile` answered by a real agent (dist/daemon) serving the build's key: the
 * launcher's agent fast path then writes its user cache like the credential-process bundle's run did.
 */
async function answerFromAgent(dir, env, key, arns) {
  const config = join(dir, "config.json");
  const flags = [...key, ...arns];
  const profile = {};
  for (let i = 0; i < flags.length; i += 2) profile[flags[i].slice(2)] = flags[i + 1];
  writeFileSync(config, JSON.stringify({ profiles: { build: profile } }), { mode: 0o600 });
  const socket = join(dir, "agent.sock");
  const agent = spawn(process.execPath, ["dist/cli.cjs", "agent", "--config", config, "--socket", socket], { env, stdio: ["ignore", "ignore", "pipe"] });
  try {
    let stderr = "";
    await new Promise((ready, fail) => {
      agent.stderr.on("data", (d) => {
        stderr += d;
        if (stderr.includes("agent listening on")) ready();
      });
      agent.once("exit", (code) => fail(new Error(`the agent exited with ${code}: ${stderr.trim()}`)));
      setTimeout(() => fail(new Error("the agent did not start within 30 s")), 30_000).unref();
    });
    const run = spawn(process.execPath, ["dist/cli.cjs", "credential-process", "--agent", "--agent-socket", socket, "--profile", "build", "--config", config], { env, stdio: ["ignore", "ignore", "pipe"] });
    let runErr = "";
    run.stderr.on("data", (d) => (runErr += d));
    const [code] = await once(run, "exit");
    if (code !== 0) throw new Error(`credential-process --agent exited with ${code}: ${runErr.trim()}`);
  } finally {
    if (agent.exitCode === null && agent.signalCode === null) {
      agent.kill("SIGTERM");
      await once(agent, "exit");
    }
  }
}

/**
 * A throwaway SoftHSM token holding the build's P-256 key and certificate, or undefined without SoftHSM (or
 * pkcs11-tool, which stores the certificate). Used to warm the hardware bundle's code cache on the PKCS#11 path.
 */
function softHsmToken(dir, openssl) {
  const module = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((p) => existsSync(p));
  const has = (tool) => spawnSync("bash", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
  if (!module || !has("softhsm2-util") || !has("pkcs11-tool")) return undefined;
  try {
    mkdirSync(join(dir, "tokens"), { mode: 0o700 });
    writeFileSync(join(dir, "softhsm2.conf"), `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const env = { ...process.env, SOFTHSM2_CONF: join(dir, "softhsm2.conf"), RAA_BUILD_PIN: "1234" };
    const tool = (command, args) => execFileSync(command, args, { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
    openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-out", "leaf.p8"]);
    openssl(["x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der"]);
    tool("softhsm2-util", ["--init-token", "--free", "--label", "build", "--so-pin", "12345678", "--pin", "1234"]);
    tool("softhsm2-util", ["--import", "leaf.p8", "--token", "build", "--label", "key", "--id", "01", "--pin", "1234"]);
    tool("pkcs11-tool", ["--module", module, "--token-label", "build", "--login", "--pin", "1234", "--write-object", "leaf.der", "--type", "cert", "--id", "01", "--label", "key"]);
    const uri = "pkcs11:token=build;object=key";
    return { env, args: ["--certificate", uri, "--private-key", uri, "--pkcs11-lib", module, "--pkcs11-pin-env", "RAA_BUILD_PIN"] };
  } catch (error) {
    console.warn(`warning: no SoftHSM token to warm the full bundle's code cache with (${error.message.split("\n")[0]})`);
    return undefined;
  }
}

/**
 * native/ → dist/native/<platform>-<arch>/raa_native.node, rebuilt only when its sources changed (native/build/
 * is kept between builds). A machine without a C compiler still builds the rest: the helper is optional at run
 * time (SECURITY.md says what is then not protected), so this warns instead of failing.
 */
function buildNativeHelper(arch = process.arch, compiler = undefined) {
  // node-gyp builds in <directory>/build: another architecture's build gets a copy of the sources of its own.
  const directory = compiler ? join("native", "build", `${process.platform}-${arch}`) : "native";
  const output = join(directory, "build", "Release", "raa_native.node");
  const sources = ["native/raa_native.c", "native/binding.gyp"];
  const stale = !existsSync(output) || sources.some((f) => statSync(f).mtimeMs > statSync(output).mtimeMs);
  if (stale) {
    try {
      if (compiler) {
        mkdirSync(directory, { recursive: true });
        for (const source of sources) copyFileSync(source, join(directory, basename(source)));
      }
      // Node-API needs the headers only (nodedir), the same for every architecture: no Node of `arch` is involved.
      const env = compiler ? { ...process.env, CC: compiler, LINK: compiler } : process.env;
      execFileSync(process.execPath, [nodeGyp(), "rebuild", "--loglevel=warn", "--directory", directory, `--nodedir=${nodeDir()}`, `--arch=${arch}`], { stdio: ["ignore", "ignore", "inherit"], env });
    } catch (error) {
      console.warn(`warning: the native helper for ${process.platform}-${arch} was not built (${error.message.split("\n")[0]}): dist/ ships without it`);
      return;
    }
  }
  const target = join("dist", "native", `${process.platform}-${arch}`);
  mkdirSync(target, { recursive: true });
  copyFileSync(output, join(target, "raa_native.node"));
}

/**
 * The helper for linux-arm64 too, the usual IoT gateway, from an x64 build: Debian's gcc-aarch64-linux-gnu
 * (scripts/install-system-deps.sh). native-test/native-helper-arm64.test.ts runs it under qemu-aarch64-static.
 */
function buildArm64NativeHelper() {
  if (process.platform !== "linux" || process.arch !== "x64") return;
  const compiler = "aarch64-linux-gnu-gcc";
  if (spawnSync(compiler, ["--version"], { stdio: "ignore" }).error) {
    console.warn(`note: ${compiler} is not installed (apt-get install gcc-aarch64-linux-gnu): dist/native/ ships linux-x64 only`);
    return;
  }
  buildNativeHelper("arm64", compiler);
}

/** npm's own node-gyp: npm names it when it runs this script, else it is found next to the npm on PATH. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const npm = realpathSync(execFileSync("bash", ["-c", "command -v npm"], { encoding: "utf8" }).trim());
  return join(dirname(dirname(npm)), "node_modules", "node-gyp", "bin", "node-gyp.js");
}

/** Headers of the running Node (nodedir=/usr for Debian's nodejs): node-gyp must not try to download them. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : "/usr";
}
