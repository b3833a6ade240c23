#!/usr/bin/env node
/**
 * `serve` throughput on a cache hit (target ≥ 5,000 req/s on 2 cores, zero errors), for the IMDSv2 and the
 * ECS endpoints, with wrk (C, light on the shared CPU) or autocannon when wrk is missing. Over dist/.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { request } from "node:http";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { credentialFlags, makeFixture, startLocalEndpoint, waitForLine } from "./agent.mjs";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const CLI = join(ROOT, "dist", "cli.js");

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

export async function run() {
  const seconds = Number(process.env.BENCH_SECONDS ?? 10);
  const fixture = makeFixture("raa-bench-serve-");
  const endpoint = await startLocalEndpoint(fixture.ca.cert);
  let serve;
  try {
    serve = spawn(process.execPath, [CLI, "serve", ...credentialFlags(fixture, endpoint.url), "--port", "0", "--imds", "--ecs", "--allow-open-imds"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    serve.stdout.on("data", (d) => (stdout += d));
    const [, port] = await waitForLine(serve, /Local server started on port: (\d+)/, "serve");
    serve.stderr.resume();
    const base = `http://127.0.0.1:${port}`;
    const token = (await http(`${base}/latest/api/token`, "PUT", { "x-aws-ec2-metadata-token-ttl-seconds": "21600" })).body;
    const imdsUrl = `${base}/latest/meta-data/iam/security-credentials/bench`;
    const imdsHeaders = { "x-aws-ec2-metadata-token": token };
    const warm = await http(imdsUrl, "GET", imdsHeaders);
    if (warm.status !== 200) throw new Error(`serve answered ${warm.status}: ${warm.body}`);
    const ecsToken = /AWS_CONTAINER_AUTHORIZATION_TOKEN=(\S+)/.exec(stdout)?.[1];
    const ecsUrl = /AWS_CONTAINER_CREDENTIALS_FULL_URI=(\S+)/.exec(stdout)?.[1];

    for (const [name, url, headers] of [
      ["IMDSv2 credentials", imdsUrl, imdsHeaders],
      ["ECS credentials", ecsUrl, { authorization: ecsToken }],
    ]) {
      const r = await load(url, headers, seconds, 50);
      console.log(
        `serve ${name} (cache hit, ${r.tool}, 50 connections, ${seconds} s): ${Math.round(r.rps)} req/s | target ≥ 5,000 req/s: ${r.rps >= 5000 ? "meets" : "MISSES"} | errors: ${r.errors} (target 0: ${r.errors === 0 ? "meets" : "MISSES"})`,
      );
    }
  } finally {
    serve?.kill("SIGTERM");
    if (serve) await once(serve, "exit").catch(() => {});
    await endpoint.stop();
    fixture.cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await run();
