#!/usr/bin/env node
/**
 * The agent, measured against its references in one run (all over dist/, built by `npm run build`):
 * - `curl --unix-socket` on the agent (target: median ≤ 15 ms);
 * - a Node client (`dist/lib/agent/client.js` in a fresh `node`, target: ≤ 1.2× `node -e 0`) and
 *   `credential-process --agent --profile` (target: ≤ 1.1× bench/reference/minimal-agent-client.cjs, the least a
 *   Node client of the agent costs);
 * - a cold `credential-process` (signs and calls CreateSession itself) and `node -e 0`, for scale;
 * - the agent's RSS after 10,000 requests (target ≤ 80 MB) and its growth over 10,000 more (≈ 0).
 * Run it alone with `node bench/agent.mjs` (after `npm run build`; unset NODE_EXTRA_CA_CERTS).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const CLI = join(ROOT, "dist", "cli.cjs");
const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/bench",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/bench",
  "role-arn": "arn:aws:iam::000000000000:role/bench",
};

/** A CA and a P-256 leaf made with openssl in a fresh temp dir. */
export function makeFixture(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const sh = (args) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
  const ca = { cert: join(dir, "ca.pem"), key: join(dir, "ca.key") };
  const leaf = { cert: join(dir, "leaf.pem"), key: join(dir, "leaf.key") };
  sh(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca.key, "-out", ca.cert, "-days", "2", "-subj", "/CN=Bench CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  sh(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", leaf.key, "-out", join(dir, "leaf.csr"), "-subj", "/CN=bench-device"]);
  writeFileSync(join(dir, "leaf.ext"), "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
  sh(["x509", "-req", "-in", join(dir, "leaf.csr"), "-CA", ca.cert, "-CAkey", ca.key, "-set_serial", "0x1234", "-days", "2", "-sha256", "-extfile", join(dir, "leaf.ext"), "-out", leaf.cert]);
  return { dir, ca, leaf, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The verifying local CreateSession endpoint (dist/lib), in this process, on a free port. (In-process rather
 * than `dist/cli.js local-endpoint`, so that it is not one more Node process competing for the two cores.)
 */
export async function startLocalEndpoint(caCert) {
  const { startLocalEndpoint: start } = await import(pathToFileURL(join(ROOT, "dist", "lib", "local-endpoint", "server.js")).href);
  const endpoint = await start({ trustAnchors: [caCert], port: 0 });
  return { url: endpoint.url, stop: () => endpoint.close() };
}

/** The credential flags for the fixture's leaf against `endpoint`. */
export function credentialFlags(fixture, endpoint) {
  return ["--certificate", fixture.leaf.cert, "--private-key", fixture.leaf.key, ...Object.entries(ARNS).flatMap(([k, v]) => [`--${k}`, v]), "--endpoint", endpoint];
}

/** Waits until `child` writes a stderr line matching `pattern`; returns the match. */
export async function waitForLine(child, pattern, what) {
  const lines = createInterface({ input: child.stderr });
  const timer = setTimeout(() => child.kill("SIGTERM"), 30_000);
  try {
    for await (const line of lines) {
      const m = pattern.exec(line);
      if (m) return m;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`${what} exited before it was ready`);
}

export function timeRun(command, args) {
  return new Promise((done, fail) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      code === 0 ? done(ms) : fail(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr.trim()}`));
    });
  });
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function rssMb(pid) {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return kb / 1024;
}

function line(what, value, reference, referenceValue, target, runs, unit = "ms") {
  const ratio = value / referenceValue;
  console.log(`${what}: median ${value.toFixed(1)} ${unit} | ${reference}: ${referenceValue.toFixed(1)} ${unit} | ratio ${ratio.toFixed(2)}× ${target} | n=${runs}`);
}

/** The Node options the shipped systemd units set (NODE_OPTIONS): a small young generation keeps RSS flat. */
export const UNIT_NODE_OPTIONS = "--max-semi-space-size=1";

async function startAgent(config, socket, nodeOptions) {
  const env = { ...process.env };
  if (nodeOptions) env.NODE_OPTIONS = nodeOptions;
  else delete env.NODE_OPTIONS;
  const agent = spawn(process.execPath, [CLI, "agent", "--config", config, "--socket", socket], { stdio: ["ignore", "ignore", "pipe"], env });
  await waitForLine(agent, /agent listening on/, "the agent");
  agent.stderr.resume();
  return {
    pid: agent.pid,
    stop: async () => {
      agent.kill("SIGTERM");
      await once(agent, "exit").catch(() => {});
    },
  };
}

/** RSS of an agent every 5,000 requests (50 at a time) up to 20,000. */
async function measureRss(config, socket, nodeOptions, label) {
  const agent = await startAgent(config, socket, nodeOptions);
  try {
    const { fetchFromAgent } = await import(pathToFileURL(join(ROOT, "dist", "lib", "agent", "client.js")).href);
    const burst = async (n) => {
      for (let done = 0; done < n; done += 50) await Promise.all(Array.from({ length: 50 }, () => fetchFromAgent(socket, "bench")));
    };
    await fetchFromAgent(socket, "bench");
    const start = rssMb(agent.pid);
    const samples = [];
    for (let i = 0; i < 4; i++) {
      await burst(5000);
      samples.push(rssMb(agent.pid));
    }
    const [, at10k, , at20k] = samples;
    console.log(
      `agent RSS after 10,000 requests, ${label}: ${at10k.toFixed(1)} MB (target ≤ 80 MB: ${at10k <= 80 ? "meets" : "MISSES"}) | ` +
        `at start ${start.toFixed(1)} MB, every 5,000: ${samples.map((m) => m.toFixed(1)).join(", ")} MB | ` +
        `growth from 10,000 to 20,000: ${(at20k - at10k).toFixed(1)} MB`,
    );
  } finally {
    await agent.stop();
  }
}

export async function run() {
  const runs = Number(process.env.BENCH_RUNS ?? 30);
  const fixture = makeFixture("raa-bench-agent-");
  const endpoint = await startLocalEndpoint(fixture.ca.cert);
  let agent;
  try {
    const runDir = join(fixture.dir, "run");
    mkdirSync(runDir, { mode: 0o700 });
    const socket = join(runDir, "agent.sock");
    const config = join(fixture.dir, "config.json");
    writeFileSync(
      config,
      JSON.stringify({ profiles: { bench: { certificate: fixture.leaf.cert, "private-key": fixture.leaf.key, ...ARNS, endpoint: endpoint.url } } }),
      { mode: 0o600 },
    );
    agent = await startAgent(config, socket, UNIT_NODE_OPTIONS);

    const client = join(fixture.dir, "client.mjs");
    writeFileSync(
      client,
      `import { fetchFromAgent } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist", "lib", "agent", "client.js")).href)};
const c = await fetchFromAgent(${JSON.stringify(socket)}, "bench");
if (!c) process.exit(1);
process.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration.toISOString() }));
`,
    );
    // The same client bundled as one CommonJS file: Node starts CJS entry points without the ESM loader
    // (an empty .mjs costs ~15 ms more than `node -e 0` here), which is what a ≤ 1.2× client needs.
    const clientCjs = join(fixture.dir, "client.cjs");
    const { build } = await import("esbuild");
    await build({
      stdin: {
        contents: `import { fetchFromAgent } from ${JSON.stringify(join(ROOT, "dist", "lib", "agent", "client.js"))};
fetchFromAgent(${JSON.stringify(socket)}, "bench").then((c) => {
  if (!c) process.exit(1);
  process.stdout.write(JSON.stringify({ Version: 1, AccessKeyId: c.accessKeyId, SecretAccessKey: c.secretAccessKey, SessionToken: c.sessionToken, Expiration: c.expiration.toISOString() }));
});`,
        resolveDir: ROOT,
        loader: "js",
      },
      outfile: clientCjs,
      bundle: true,
      format: "cjs",
      platform: "node",
      target: "node20",
      logLevel: "silent",
    });
    const curlArgs = ["-sf", "--unix-socket", socket, "-o", "/dev/null", "http://agent/v1/credentials/bench"];
    const viaCli = [CLI, "credential-process", "--agent", "--agent-socket", socket, "--profile", "bench", "--config", config];
    const cliAgent = spawnSync(process.execPath, viaCli, { encoding: "utf8" }).status === 0;
    const cold = [CLI, "credential-process", ...credentialFlags(fixture, endpoint.url)];
    await timeRun("curl", curlArgs); // first request: waits for the first CreateSession

    const minimal = [join(ROOT, "bench", "reference", "minimal-agent-client.cjs"), socket, "bench"];
    // The same launcher from an installation without the native helper: the client then walks the socket's path
    // by file descriptor instead of reading the peer's uid. The difference is what the helper costs (or saves).
    const nativeHelper = join(ROOT, "dist", "native", `${process.platform}-${process.arch}`, "raa_native.node");
    const withoutNative = join(fixture.dir, "without-native");
    cpSync(join(ROOT, "dist"), join(withoutNative, "dist"), { recursive: true, filter: (src) => !src.startsWith(join(ROOT, "dist", "native")) });
    symlinkSync(join(ROOT, "node_modules"), join(withoutNative, "node_modules"));
    const viaCliWalk = [join(withoutNative, "dist", "cli.cjs"), ...viaCli.slice(1)];
    const dlopenProbe = `const t = process.hrtime.bigint(); process.dlopen({ exports: {} }, ${JSON.stringify(nativeHelper)}); process.stdout.write(String(Number(process.hrtime.bigint() - t) / 1e6));`;
    const t = { node: [], curlAlone: [], curl: [], client: [], clientCjs: [], minimal: [], cli: [], cliWalk: [], dlopen: [], cold: [] };
    for (let i = 0; i < runs; i++) {
      t.node.push(await timeRun(process.execPath, ["-e", "0"]));
      t.curlAlone.push(await timeRun("curl", ["--version"]));
      t.curl.push(await timeRun("curl", curlArgs));
      t.client.push(await timeRun(process.execPath, [client]));
      t.clientCjs.push(await timeRun(process.execPath, [clientCjs]));
      t.minimal.push(await timeRun(process.execPath, minimal));
      if (cliAgent) t.cli.push(await timeRun(process.execPath, viaCli));
      if (cliAgent) t.cliWalk.push(await timeRun(process.execPath, viaCliWalk));
      if (existsSync(nativeHelper)) t.dlopen.push(Number(execFileSync(process.execPath, ["-e", dlopenProbe], { encoding: "utf8" })));
      t.cold.push(await timeRun(process.execPath, cold));
    }
    const node = median(t.node);
    const curl = median(t.curl);
    const curlAlone = median(t.curlAlone);
    console.log(
      `curl --unix-socket on the agent: median ${curl.toFixed(1)} ms | target ≤ 15 ms: ${curl <= 15 ? "meets" : "MISSES"} | ` +
        `curl --version alone: ${curlAlone.toFixed(1)} ms (the agent's share: ${(curl - curlAlone).toFixed(1)} ms) | node -e 0: ${node.toFixed(1)} ms | n=${runs}`,
    );
    line("Node client (dist/lib/agent/client.js, ESM)", median(t.client), "node -e 0", node, `(target ≤ 1.2×: ${median(t.client) / node <= 1.2 ? "meets" : "MISSES"})`, runs);
    line("Node client (same code bundled as one CJS file)", median(t.clientCjs), "node -e 0", node, `(target ≤ 1.2×: ${median(t.clientCjs) / node <= 1.2 ? "meets" : "MISSES"})`, runs);
    line("  for scale: bench/reference/minimal-agent-client.cjs (the least a Node client costs)", median(t.minimal), "node -e 0", node, "", runs);
    if (cliAgent) {
      const ratio = median(t.cli) / median(t.minimal);
      line("credential-process --agent --profile (dist/cli.cjs, answered by the launcher)", median(t.cli), "bench/reference/minimal-agent-client.cjs", median(t.minimal), `(target ≤ 1.1×: ${ratio <= 1.1 ? "meets" : "MISSES"})`, runs);
    }
    else console.log("credential-process --agent: not available in this build (skipped)");
    if (cliAgent) line("  the same without the native helper (directory walk instead of SO_PEERCRED)", median(t.cliWalk), "with the helper", median(t.cli), "", runs);
    if (t.dlopen.length) console.log(`  loading the native helper (dlopen of dist/native/…/raa_native.node, in-process): median ${median(t.dlopen).toFixed(2)} ms | n=${runs}`);
    line("cold credential-process (no agent)", median(t.cold), "curl via agent", curl, "(for scale)", runs);
    await agent.stop();
    agent = undefined;

    await measureRss(config, socket, UNIT_NODE_OPTIONS, `NODE_OPTIONS=${UNIT_NODE_OPTIONS} (as the systemd units run it)`);
    await measureRss(config, socket, undefined, "Node defaults");
  } finally {
    await agent?.stop();
    await endpoint.stop();
    fixture.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await run();
