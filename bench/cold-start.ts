/**
 * Cold `credential-process` (no agent): what a user pays per `aws` command. Every figure is measured in this
 * run, interleaved with its reference (medians; the machine is shared):
 * - file EC key, HTTP local endpoint: ≤ 1.15× bench/reference/minimal-create-session.cjs (the least a Node
 *   program doing this work costs: CommonJS, node:crypto, node:http), peak RSS ≤ 1.1× it;
 * - the same over HTTPS with --ca-bundle: ≤ 1.15× the same reference over node:https trusting Node's roots plus
 *   the bundle;
 * - a SoftHSM P-256 key: ≤ 1.3× the file-key figure, next to the same ratio for two minimal programs
 *   (bench/reference/minimal-pkcs11-create-session.cjs over the file-key one): what SoftHSM and pkcs11js cost;
 * - for scale: `node -e 0` (Node's own start), the same dist/ without any code cache, and with a V8 flag in
 *   NODE_OPTIONS (the per-Node, per-flags user cache, src/cli/launcher/code-cache.ts, made by the first run).
 * The split "Node's start / the work any Node program pays / ours" is the profile of what remains, in time and,
 * where valgrind is installed (BENCH_INSTRUCTIONS=0 skips it), in instructions, which other jobs on the machine
 * do not move (each case's least of BENCH_INSTRUCTION_RUNS=3 runs); with callgrind_annotate, one callgrind run of
 * ours and of the reference says where the instructions go (code caches, lazy compiling, Sparkplug, the collection)
 * and gives the ratio without Node's random hash-seed search.
 * BENCH_NODES=/path/to/node22:/path/to/node24 runs everything again under those Node binaries (the cache the
 * build shipped is for the building Node; the others make their own on first use, as an installation would).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { median, timeCommand } from "./lib/measure.js";

const RUNS = Number(process.env["BENCH_RUNS"] ?? 30);
const ROOT = process.cwd();
const SOFTHSM_MODULE = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"].find((p) => existsSync(p));
const ARNS = {
  trustAnchor: "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/bench",
  profile: "arn:aws:rolesanywhere:us-east-1:000000000000:profile/bench",
  role: "arn:aws:iam::000000000000:role/bench",
};
const ARN_FLAGS = ["--trust-anchor-arn", ARNS.trustAnchor, "--profile-arn", ARNS.profile, "--role-arn", ARNS.role];

const { dir, cleanup } = makeTempDir("raa-bench-cold-");
const ca = createCa(dir, { name: "Bench CA" });
const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "bench-device", keyType: "p256" });
const tlsCa = createCa(join(dir, "tls"), { name: "Bench TLS CA" });
const tlsLeaf = issueLeaf(tlsCa, join(dir, "tls"), {
  name: "127.0.0.1",
  extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1"],
});
// The shipped dist/ once more without the code cache, beside node_modules so that it resolves the same packages.
const uncached = join(ROOT, "node_modules", ".cache", "raa-bench-uncached-dist");
rmSync(uncached, { recursive: true, force: true });
cpSync("dist", uncached, { recursive: true });
for (const file of readdirSync(uncached)) if (file.endsWith(".cjs.cache")) rmSync(join(uncached, file));

const baseEnv: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: join(dir, "no-agent") };
delete baseEnv["NODE_OPTIONS"];
delete baseEnv["NODE_EXTRA_CA_CERTS"];
delete baseEnv["AWS_CA_BUNDLE"];

interface Case {
  readonly label: string;
  readonly args: string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** One run with its output (asynchronous: the endpoints answer from this process). */
async function run(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(node, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d));
  child.stderr!.on("data", (d: Buffer) => (stderr += d));
  const [code] = await once(child, "exit");
  return { code, stdout, stderr };
}

/** Peak RSS (MB) of one run, reported by bench/lib/peak-rss.cjs preloaded into it. */
async function peakRss(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(node, ["-r", join(ROOT, "bench", "lib", "peak-rss.cjs"), ...args], { stdio: ["ignore", "ignore", "ignore", "pipe"], env });
  let out = "";
  child.stdio[3]!.on("data", (d: Buffer) => (out += d));
  const [code] = await once(child, "exit");
  if (code !== 0) throw new Error(`${args.join(" ")} exited with ${code}`);
  return Number(out.trim()) / 1024;
}

function ratioLine(what: string, value: number, refName: string, ref: number, target: number, unit = "ms"): void {
  const ratio = value / ref;
  console.log(
    `${what}: median ${value.toFixed(1)} ${unit} | ${refName}: ${ref.toFixed(1)} ${unit} | ratio ${ratio.toFixed(2)}× (target ≤ ${target}×: ${ratio <= target ? "meets" : "MISSES"})`,
  );
}

async function endpoints(trustAnchors: string[]): Promise<{ http: string; https: string; stop: () => Promise<void> }> {
  const { startLocalEndpoint } = await import(join(ROOT, "dist", "lib", "local-endpoint", "server.js"));
  const http = await startLocalEndpoint({ trustAnchors, port: 0 });
  const https = await startLocalEndpoint({ trustAnchors, port: 0, tls: { cert: tlsLeaf.certPem, key: readFileSync(tlsLeaf.keyPath) } });
  return { http: http.url, https: https.url, stop: async () => void (await Promise.all([http.close(), https.close()])) };
}

function softHsmToken(): { uri: string; module: string; ca: string; env: NodeJS.ProcessEnv } | undefined {
  if (!SOFTHSM_MODULE) return undefined;
  const tokenDir = join(dir, "softhsm");
  execFileSync("bash", [join(ROOT, "softhsm", "create-test-token.sh"), tokenDir], { stdio: ["ignore", "ignore", "inherit"], env: baseEnv });
  return {
    ca: join(tokenDir, "ca.pem"),
    uri: "pkcs11:token=rolesanywhere;object=ec-key",
    module: SOFTHSM_MODULE,
    env: { ...baseEnv, SOFTHSM2_CONF: join(tokenDir, "softhsm2.conf"), RAA_BENCH_PIN: "1234" },
  };
}

async function benchNode(node: string, urls: { http: string; https: string }, hsm: ReturnType<typeof softHsmToken>): Promise<void> {
  const version = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
  // A home of its own per Node: its first run writes the user cache when the shipped one does not fit.
  const home = join(dir, `home-${version}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const env = { ...baseEnv, HOME: home, XDG_CACHE_HOME: join(home, ".cache") };
  // A cache directory below a regular file: it can be neither read nor made, so no user cache is used or written.
  const noCacheEnv = { ...env, XDG_CACHE_HOME: join(leaf.certPath, "cache") };
  const cli = join(ROOT, "dist", "cli.cjs");
  const ours = (url: string, extra: string[] = []) => [cli, "credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARN_FLAGS, "--endpoint", url, ...extra];
  const reference = (url: string, extra: string[] = []) => [join(ROOT, "bench", "reference", "minimal-create-session.cjs"), leaf.certPath, leaf.keyPath, url, ARNS.trustAnchor, ARNS.profile, ARNS.role, ...extra];
  const cases: Case[] = [
    { label: "node", args: ["-e", "0"] },
    { label: "ref", args: reference(urls.http) },
    { label: "ours", args: ours(urls.http), env },
    { label: "refTls", args: reference(urls.https, [tlsCa.certPath]) },
    { label: "oursTls", args: ours(urls.https, ["--ca-bundle", tlsCa.certPath]), env },
    { label: "uncached", args: [join(uncached, "cli.cjs"), ...ours(urls.http).slice(1)], env: noCacheEnv },
    { label: "flags", args: ours(urls.http), env: { ...env, NODE_OPTIONS: "--max-old-space-size=4096" } },
  ];
  if (hsm) {
    const hsmArgs = [cli, "credential-process", "--certificate", hsm.uri, "--private-key", hsm.uri, "--pkcs11-lib", hsm.module, "--pkcs11-pin-env", "RAA_BENCH_PIN", ...ARN_FLAGS, "--endpoint", urls.http];
    cases.push({ label: "softhsm", args: hsmArgs, env: { ...env, ...hsm.env, HOME: home, XDG_CACHE_HOME: join(home, ".cache") } });
    const minimalHsm = [join(ROOT, "bench", "reference", "minimal-pkcs11-create-session.cjs"), hsm.module, "rolesanywhere", "ec-key", urls.http, ARNS.trustAnchor, ARNS.profile, ARNS.role];
    cases.push({ label: "refHsm", args: minimalHsm, env: { ...hsm.env, PKCS11_PIN: "1234" } });
  }
  // Each case once to check it works (and to make the user caches, as a first run would).
  for (const c of cases) {
    const check = await run(node, c.args, c.env ?? baseEnv);
    if (check.code !== 0 || (c.label !== "node" && !check.stdout.startsWith('{"Version":1'))) throw new Error(`${c.label} failed: ${check.stderr}`);
  }
  const times = new Map<string, number[]>(cases.map((c) => [c.label, []]));
  for (let i = 0; i < RUNS; i++) for (const c of cases) times.get(c.label)!.push(await timeCommand(node, c.args, c.env ?? baseEnv));
  const rss = { ours: [] as number[], ref: [] as number[] };
  for (let i = 0; i < 7; i++) {
    rss.ref.push(await peakRss(node, reference(urls.http), baseEnv));
    rss.ours.push(await peakRss(node, ours(urls.http), env));
  }
  // Instruction counts of the cases the split below names, each case's least of INSTRUCTION_RUNS rounds (Node's
  // random hash-seed search moves a single count by a few M), the cases of a round at once (valgrind runs each on one core).
  const counted = ["node", "ref", "ours", "refTls", "oursTls", "softhsm", "refHsm"].map((label) => cases.find((c) => c.label === label)).filter((c): c is Case => c !== undefined);
  const counts = new Map<string, number | undefined>();
  for (let round = 0; round < INSTRUCTION_RUNS; round++) {
    const results = await Promise.all(counted.map((c) => instructions(node, c.args, c.env ?? baseEnv)));
    counted.forEach((c, i) => counts.set(c.label, leastOf(counts.get(c.label), results[i])));
  }
  const m = (label: string) => median(times.get(label)!);
  console.log(`### Node ${version} (${node === process.execPath ? "the Node that built dist/" : node}), n=${RUNS}, load average ${loadAverage()}`);
  ratioLine("cold credential-process, file P-256 key, HTTP", m("ours"), "minimal CommonJS reference", m("ref"), 1.15);
  ratioLine("  peak RSS", median(rss.ours), "the reference's", median(rss.ref), 1.1, "MB");
  ratioLine("cold credential-process over HTTPS with --ca-bundle", m("oursTls"), "minimal HTTPS reference (Node's roots + the bundle)", m("refTls"), 1.15);
  if (hsm) {
    ratioLine("cold credential-process, SoftHSM P-256 key", m("softhsm"), "the file-key figure", m("ours"), 1.3);
    console.log(
      `  for scale: bench/reference/minimal-pkcs11-create-session.cjs (pkcs11js, one login and C_Sign) ${m("refHsm").toFixed(1)} ms, ` +
        `${(m("refHsm") / m("ref")).toFixed(2)}× the minimal file-key reference (the floor of this ratio: SoftHSM's own start); ` +
        `ours is ${(m("softhsm") / m("refHsm")).toFixed(2)}× it`,
    );
  }
  console.log(
    `  where the time goes (HTTP): Node's start (node -e 0) ${m("node").toFixed(1)} ms | the work any Node program pays (reference − node -e 0) ` +
      `${(m("ref") - m("node")).toFixed(1)} ms | ours on top (credential-process − reference) ${(m("ours") - m("ref")).toFixed(1)} ms`,
  );
  const ir = (label: string) => counts.get(label);
  if (ir("ours") !== undefined && ir("ref") !== undefined && ir("node") !== undefined) {
    const n0 = ir("node")!, r = ir("ref")!, o = ir("ours")!;
    console.log(
      `  instructions (cachegrind, least of ${INSTRUCTION_RUNS} runs): node -e 0 ${n0.toFixed(0)}M | reference ${r.toFixed(0)}M | ours ${o.toFixed(0)}M: ratio ${(o / r).toFixed(2)}×; ` +
        `Node's start ${n0.toFixed(0)}M, the work any Node program pays ${(r - n0).toFixed(0)}M, ours on top ${(o - r).toFixed(0)}M` +
        (ir("softhsm") !== undefined && ir("refHsm") !== undefined
          ? ` | SoftHSM ${ir("softhsm")!.toFixed(0)}M (${(ir("softhsm")! / o).toFixed(2)}× the file key), minimal pkcs11js program ${ir("refHsm")!.toFixed(0)}M (${(ir("refHsm")! / r).toFixed(2)}× the minimal file-key one)`
          : ""),
    );
  }
  const split = await Promise.all([instructionSplit(node, ours(urls.http), env), instructionSplit(node, reference(urls.http), baseEnv)]);
  if (split[0] && split[1]) {
    const [o, r] = split;
    const parts = SPLIT.map(([label]) => `${label} ${o[label]!.toFixed(1)} / ${r[label]!.toFixed(1)}`).join(", ");
    const rest = (c: Record<string, number>) => c["without the search"]! - SPLIT.slice(1).reduce((sum, [label]) => sum + c[label]!, 0);
    console.log(
      `  where the instructions go (callgrind, one run each, ours / the reference, M): ${parts}; the rest (running the JavaScript, ` +
        `OpenSSL, Node's start) ${rest(o).toFixed(1)} / ${rest(r).toFixed(1)}; without the search the ratio is ${(o["without the search"]! / r["without the search"]!).toFixed(3)}× (1.15× is ${(1.15 * r["without the search"]!).toFixed(1)} M)`,
    );
  }
  if (ir("oursTls") !== undefined && ir("refTls") !== undefined) {
    const r = ir("refTls")!, o = ir("oursTls")!;
    console.log(`  instructions over HTTPS with --ca-bundle (cachegrind, least of ${INSTRUCTION_RUNS} runs): reference ${r.toFixed(0)}M | ours ${o.toFixed(0)}M: ratio ${(o / r).toFixed(2)}× (target ≤ 1.15×: ${o / r <= 1.15 ? "meets" : "MISSES"}); ours on top ${(o - r).toFixed(0)}M`);
  }
  console.log(
    `  for scale: without any code cache ${m("uncached").toFixed(1)} ms (${(m("uncached") / m("ref")).toFixed(2)}×); ` +
      `NODE_OPTIONS=--max-old-space-size=4096 (user cache for that flag) ${m("flags").toFixed(1)} ms (${(m("flags") / m("ref")).toFixed(2)}×)`,
  );
}

/**
 * Instructions one run executes (valgrind's cachegrind, every thread), in millions, or undefined without
 * valgrind. Unlike time, the count hardly moves when other jobs share the CPU: it shows how the time splits on a
 * busy machine. (It leaves out the kernel's part: system calls, page faults.)
 */
async function instructions(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | undefined> {
  if (!HAS_VALGRIND) return undefined;
  const child = spawn("valgrind", ["--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", node, ...args], { stdio: ["ignore", "ignore", "pipe"], env });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d));
  const [code] = await once(child, "exit");
  const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr)?.[1];
  return code === 0 && refs ? Number(refs.replace(/,/g, "")) / 1e6 : undefined;
}
/**
 * What the split line names, each a function's inclusive count (the first, outermost entry callgrind_annotate lists):
 * Node's random hash-seed prime search (left out of the "without the search" total), deserialising code caches (the
 * bundle's, and Node's own for its builtins, which both programs pay), compiling functions on their first call,
 * Sparkplug's batches, and the young-generation collection on the main thread and on its worker.
 */
const SPLIT: readonly (readonly [string, string])[] = [
  ["hash-seed search", "detail::sprp("],
  ["code caches", "v8::internal::CodeSerializer::Deserialize("],
  ["lazy compiling", "v8::internal::Runtime_CompileLazy("],
  ["Sparkplug", "v8::internal::baseline::BaselineBatchCompiler::CompileBatch("],
  ["collection (main thread)", "v8::internal::Heap::CollectGarbage("],
  ["collection (worker)", "v8::internal::ScavengerCollector::JobTask::Run("],
];

/** One run under callgrind, split by SPLIT (M instructions; "without the search": the total less the search), or undefined. */
async function instructionSplit(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, number> | undefined> {
  if (!HAS_VALGRIND || spawnSync("callgrind_annotate", ["--version"]).error !== undefined) return undefined; // (it exits 255 there)
  const out = join(dir, `callgrind.${process.hrtime.bigint()}`);
  const child = spawn("valgrind", ["--tool=callgrind", "--dump-instr=no", `--callgrind-out-file=${out}`, node, ...args], { stdio: ["ignore", "ignore", "ignore"], env });
  const [code] = await once(child, "exit");
  if (code !== 0) return undefined;
  const annotated = spawnSync("callgrind_annotate", ["--inclusive=yes", "--threshold=100", out], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).stdout.split("\n");
  rmSync(out, { force: true });
  const count = (symbol: string) => {
    const line = annotated.find((l) => l.includes(symbol) && !l.includes("'2"));
    return line === undefined ? 0 : Number(line.trim().split(" ")[0]!.replace(/,/g, "")) / 1e6;
  };
  const result: Record<string, number> = {};
  for (const [label, symbol] of SPLIT) result[label] = count(symbol);
  result["without the search"] = count("PROGRAM TOTALS") - result["hash-seed search"]!;
  return result;
}
const HAS_VALGRIND = process.env["BENCH_INSTRUCTIONS"] !== "0" && spawnSync("valgrind", ["--version"]).status === 0;
const INSTRUCTION_RUNS = Math.max(1, Number(process.env["BENCH_INSTRUCTION_RUNS"] ?? 3) || 3);

function leastOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

function loadAverage(): string {
  return readFileSync("/proc/loadavg", "latin1").split(" ").slice(0, 3).join(" ");
}

const nodes = [process.execPath, ...(process.env["BENCH_NODES"] ?? "").split(":").filter(Boolean).map((p) => resolve(p))];
const hsm = softHsmToken();
const servers = await endpoints([ca.certPath, ...(hsm ? [hsm.ca] : [])]);
try {
  for (const node of nodes) await benchNode(node, servers, hsm);
} finally {
  await servers.stop();
  rmSync(uncached, { recursive: true, force: true });
  cleanup();
}
