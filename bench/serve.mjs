#!/usr/bin/env node
/**
 * `serve` on a cache hit, over dist/, against aws_signing_helper's `serve` and the least a Node HTTP server
 * costs (see run()), with wrk (C, light on the shared CPU) or autocannon when wrk is missing.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer as createNetServer } from "node:net";
import { once } from "node:events";
import { request } from "node:http";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { credentialFlags, makeFixture, startLocalEndpoint } from "./agent.mjs";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const CLI = join(ROOT, "dist", "cli.cjs");

function http(url, method, headers = {}) {
  return new Promise((done, fail) => {
    const req = request(url, { method, headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => done({ status: res.statusCode, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

const hasWrk = spawnSync("wrk", ["--version"]).error === undefined;

/** Requests/s and error count for `seconds` of load with `connections` connections. */
async function load(url, headers, seconds, connections) {
  if (hasWrk) {
    const out = execFileSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]), url], {
      encoding: "utf8",
    });
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
    return { tool: "wrk", rps, errors };
  }
  const { default: autocannon } = await import("autocannon");
  const result = await autocannon({ url, headers, duration: seconds, connections });
  return { tool: "autocannon", rps: result.requests.average, errors: result.errors + result.non2xx + result.timeouts };
}

/** Resident memory of a process, in MB. */
/** CPU time (user + system, all threads) a process has used so far, in microseconds. */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "latin1").replace(/^.*\) /, "").split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

function rssMb(pid) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "latin1"))?.[1]) / 1024;
}

/** A free TCP port on 127.0.0.1 (for the Go helper, which has no "any port"). */
async function freePort() {
  const server = createNetServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  return port;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Starts a server process and resolves once `ready` matches a line of its output. */
async function startProcess(command, args, ready, stream = "stderr") {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: BENCH_ENV });
  let output = "";
  const match = await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${command} did not start: ${output}`)), 30_000);
    const onData = (d) => {
      output += d;
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        done(m);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => fail(new Error(`${command} exited with ${code}: ${output}`)));
  });
  child.stdout.resume();
  child.stderr.resume();
  child.removeAllListeners("exit");
  return { child, match, output: () => output, stop: async () => { child.kill("SIGTERM"); await once(child, "exit").catch(() => {}); } };
}

const BENCH_ENV = { ...process.env };
delete BENCH_ENV.NODE_OPTIONS;
delete BENCH_ENV.NODE_EXTRA_CA_CERTS;

/**
 * serve against its references, back to back in alternating rounds (medians) after a warm-up, 50 connections each:
 * - requests/s of an IMDSv2 credentials GET with a token: ≥ 1.0× aws_signing_helper's `serve` on this machine
 *   (the binary named by BENCH_AWS_SIGNING_HELPER; skipped without it) and, for scale, the minimal Node server;
 * - resident memory after ≥ 100,000 requests: ≤ 1.2× bench/reference/minimal-imds-server.cjs after as many,
 *   and flat from the first round to the last;
 * - CPU time per request of each (steadier than requests/s when other jobs share the machine);
 * - the ECS endpoint, and zero errors everywhere.
 */
export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const goHelper = process.env.BENCH_AWS_SIGNING_HELPER;
  const fixture = makeFixture("raa-bench-serve-");
  const endpoint = await startLocalEndpoint(fixture.ca.cert);
  const servers = [];
  try {
    const ours = await startProcess(process.execPath, [CLI, "serve", ...credentialFlags(fixture, endpoint.url), "--port", "0", "--imds", "--ecs", "--allow-open-imds"], /Local server started on port: (\d+)/);
    servers.push(ours);
    const base = `http://127.0.0.1:${ours.match[1]}`;
    const token = (await http(`${base}/latest/api/token`, "PUT", { "x-aws-ec2-metadata-token-ttl-seconds": "21600" })).body;
    const targets = [{ name: "serve", url: `${base}/latest/meta-data/iam/security-credentials/bench`, headers: { "x-aws-ec2-metadata-token": token }, pid: ours.child.pid }];
    const warm = await http(targets[0].url, "GET", targets[0].headers);
    if (warm.status !== 200) throw new Error(`serve answered ${warm.status}: ${warm.body}`);
    const minimal = await startProcess(process.execPath, [join(ROOT, "bench", "reference", "minimal-imds-server.cjs"), String(JSON.parse(warm.body).Token.length)], /^(\d+)\n/m, "stdout");
    servers.push(minimal);
    // The same request as serve's, token header included: the reference reads as many bytes and ignores them.
    targets.push({ name: "minimal", url: `http://127.0.0.1:${minimal.match[1]}/latest/meta-data/iam/security-credentials/bench`, headers: targets[0].headers, pid: minimal.child.pid });
    if (goHelper) {
      const port = await freePort();
      const go = await startProcess(goHelper, ["serve", ...credentialFlags(fixture, endpoint.url), "--port", String(port)], /Local server started on port/);
      servers.push(go);
      const goBase = `http://127.0.0.1:${port}`;
      const goToken = (await http(`${goBase}/latest/api/token`, "PUT", { "x-aws-ec2-metadata-token-ttl-seconds": "21600" })).body;
      const goUrl = `${goBase}/latest/meta-data/iam/security-credentials/bench`;
      const goWarm = await http(goUrl, "GET", { "x-aws-ec2-metadata-token": goToken });
      if (goWarm.status !== 200) throw new Error(`aws_signing_helper serve answered ${goWarm.status}: ${goWarm.body}`);
      targets.push({ name: "go", url: goUrl, headers: { "x-aws-ec2-metadata-token": goToken }, pid: go.child.pid });
    }
    // V8 still re-optimizes Node's HTTP code (and ours) after several seconds of load (--trace-deopt): without a
    // long enough warm-up, the compiler threads' CPU lands in the first round of whichever server is youngest.
    const warmUp = Number(process.env.BENCH_WARMUP_SECONDS ?? 8);
    for (const t of targets) {
      t.rps = [];
      t.errors = 0;
      t.requests = 0;
      t.cpu = 0;
      await load(t.url, t.headers, warmUp, 50);
    }
    const rssFirst = {};
    for (let r = 0; r < rounds; r++) {
      for (const t of targets) {
        const cpuBefore = cpuMicros(t.pid);
        const result = await load(t.url, t.headers, seconds, 50);
        t.cpu += cpuMicros(t.pid) - cpuBefore;
        t.rps.push(result.rps);
        t.errors += result.errors;
        t.requests += result.rps * seconds;
        if (r === 0) rssFirst[t.name] = rssMb(t.pid);
      }
    }
    const [serve, min, go] = [targets[0], targets[1], targets[2]];
    const tool = hasWrk ? "wrk" : "autocannon";
    const load1 = readFileSync("/proc/loadavg", "latin1").split(" ").slice(0, 3).join(" ");
    console.log(`serve IMDSv2 credentials GET with a token, ${tool}, 50 connections, ${rounds} alternating rounds of ${seconds} s (load average ${load1}):`);
    if (go) {
      const ratio = median(serve.rps) / median(go.rps);
      console.log(
        `  requests/s: median ${Math.round(median(serve.rps))} (rounds ${serve.rps.map(Math.round).join(", ")}) | aws_signing_helper serve (${goHelper}): ${Math.round(median(go.rps))} (rounds ${go.rps.map(Math.round).join(", ")}) | ratio ${ratio.toFixed(2)}× (target ≥ 1.0×: ${ratio >= 1 ? "meets" : "MISSES"})`,
      );
    } else {
      console.log("  aws_signing_helper: not measured (set BENCH_AWS_SIGNING_HELPER to its binary)");
    }
    console.log(
      `  for scale: the minimal Node server (bench/reference/minimal-imds-server.cjs, one fixed JSON, no checks): median ${Math.round(median(min.rps))} req/s (rounds ${min.rps.map(Math.round).join(", ")}); serve is ${(median(serve.rps) / median(min.rps)).toFixed(2)}× it`,
    );
    // CPU per request holds still when other jobs share the CPU (requests/s does not), and counts Go's second core.
    const cpuPerRequest = (t) => t.cpu / t.requests;
    console.log(
      `  CPU per request (user + system): serve ${cpuPerRequest(serve).toFixed(1)} µs | minimal Node server ${cpuPerRequest(min).toFixed(1)} µs` +
        (go ? ` | aws_signing_helper ${cpuPerRequest(go).toFixed(1)} µs | ratio Go/serve ${(cpuPerRequest(go) / cpuPerRequest(serve)).toFixed(2)}×` : ""),
    );
    if (go) {
      // The floor any Node server stands on here: node:http answering one fixed JSON, against Go's net/http.
      const floor = median(min.rps) / median(go.rps);
      const node = cpuPerRequest(min);
      console.log(
        `  the Node floor: the minimal Node server is ${floor.toFixed(2)}× aws_signing_helper in requests/s, ${(cpuPerRequest(go) / node).toFixed(2)}× in CPU per request; ` +
          `of serve's ${cpuPerRequest(serve).toFixed(1)} µs, ${node.toFixed(1)} µs are node:http's own (the minimal server's) and ${(cpuPerRequest(serve) - node).toFixed(1)} µs above it (serve's handlers and Cache-Control header, plus the load's noise)`,
      );
    }
    const rss = rssMb(serve.pid);
    const minRss = rssMb(min.pid);
    console.log(
      `  resident memory after ${Math.round(serve.requests / 1000)}k requests: ${rss.toFixed(1)} MB | minimal Node server after ${Math.round(min.requests / 1000)}k: ${minRss.toFixed(1)} MB | ratio ${(rss / minRss).toFixed(2)}× (target ≤ 1.2×: ${rss / minRss <= 1.2 ? "meets" : "MISSES"}) | ` +
        `after the first round ${rssFirst.serve.toFixed(1)} MB (growth ${(rss - rssFirst.serve).toFixed(1)} MB)` +
        (go ? ` | aws_signing_helper ${rssMb(go.pid).toFixed(1)} MB` : ""),
    );
    console.log(`  errors: ${targets.map((t) => `${t.name} ${t.errors}`).join(", ")} (target 0: ${targets.every((t) => t.errors === 0) ? "meets" : "MISSES"})`);

    const split = await profileServe(["serve", ...credentialFlags(fixture, endpoint.url), "--port", "0", "--imds"], seconds);
    const ownMicros = (split.ours / split.busy) * cpuPerRequest(serve);
    console.log(
      `  where serve's CPU goes (a V8 CPU profile of a second serve under the same load, ${split.samples} samples; each sample belongs to the JavaScript ` +
        `function running, or calling into native code): serve's own code ${pct(split.ours, split.busy)}, Node's (node:http, streams and the system calls they make) ${pct(split.node, split.busy)}, ` +
        `garbage collection ${pct(split.gc, split.busy)}, V8 and other native ${pct(split.other, split.busy)} → serve's own code ≈ ${ownMicros.toFixed(1)} µs of its ${cpuPerRequest(serve).toFixed(1)} µs per request`,
    );

    const ecsToken = /AWS_CONTAINER_AUTHORIZATION_TOKEN=(\S+)/.exec(ours.output())?.[1];
    const ecsUrl = /AWS_CONTAINER_CREDENTIALS_FULL_URI=(\S+)/.exec(ours.output())?.[1];
    const ecs = await load(ecsUrl, { authorization: ecsToken }, seconds, 50);
    console.log(`serve ECS credentials (${ecs.tool}, 50 connections, ${seconds} s): ${Math.round(ecs.rps)} req/s | errors: ${ecs.errors} (target 0: ${ecs.errors === 0 ? "meets" : "MISSES"})`);
  } finally {
    for (const s of servers) await s.stop();
    await endpoint.stop();
    fixture.cleanup();
  }
}

const pct = (part, whole) => `${((100 * part) / whole).toFixed(1)} %`;

/**
 * Runs serve under `node --cpu-prof` for `seconds` of wrk load and splits the profile's samples by owner: the
 * innermost JavaScript frame with a source decides (a native call such as writev counts for its caller), so
 * "ours" is every sample in or called from dist/ and "node" every one in or called from Node's own modules.
 */
async function profileServe(args, seconds) {
  const dir = mkdtempSync(join(tmpdir(), "raa-bench-prof-"));
  try {
    const server = await startProcess(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${dir}`, CLI, ...args], /Local server started on port: (\d+)/);
    const base = `http://127.0.0.1:${server.match[1]}`;
    const token = (await http(`${base}/latest/api/token`, "PUT", { "x-aws-ec2-metadata-token-ttl-seconds": "21600" })).body;
    const url = `${base}/latest/meta-data/iam/security-credentials/bench`;
    // The first request waits for CreateSession at the endpoint in this process, which wrk's synchronous run would
    // block: without this, every request of the load waits, and the profile shows start-up alone.
    const warm = await http(url, "GET", { "x-aws-ec2-metadata-token": token });
    if (warm.status !== 200) throw new Error(`the profiled serve answered ${warm.status}: ${warm.body}`);
    const profiled = await load(url, { "x-aws-ec2-metadata-token": token }, seconds, 50);
    if (!(profiled.rps > 0) || profiled.errors > 0) throw new Error(`the profiled serve answered ${profiled.rps} requests/s with ${profiled.errors} errors`);
    await server.stop(); // SIGTERM: serve exits normally, and Node writes the profile as it does
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("serve wrote no CPU profile");
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8"));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const ownerOf = new Map();
    const owner = (id) => {
      if (ownerOf.has(id)) return ownerOf.get(id);
      const { functionName, url: source } = nodes.get(id).callFrame;
      let result;
      if (functionName === "(idle)") result = "idle";
      else if (functionName === "(garbage collector)") result = "gc";
      else if (source.startsWith("node:")) result = "node";
      else if (source.includes("/dist/")) result = "ours";
      else result = parent.has(id) ? owner(parent.get(id)) : "other";
      ownerOf.set(id, result);
      return result;
    };
    const split = { ours: 0, node: 0, gc: 0, other: 0, idle: 0 };
    profile.samples.forEach((id, i) => (split[owner(id)] += profile.timeDeltas[i] ?? 0));
    return { ...split, busy: split.ours + split.node + split.gc + split.other, samples: profile.samples.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await run();
