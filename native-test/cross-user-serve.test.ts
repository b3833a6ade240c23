/**
 * `serve` and another local account (`r15a-…`, created with useradd and removed afterwards) that took its port
 * first. Any local user can listen on a free port from 1024 up — at boot before serve starts, or while it restarts
 * — and the consumers pointed at that port then get that user's answers (an ECS consumer sends it its token).
 * serve cannot prevent it (SECURITY.md: a port below 1024 can), but it must not hide it: it used to say "another
 * process uses that port: pick another with --port", which moves serve and leaves the consumers with the squatter.
 *
 * The same account then floods a running serve (SECURITY.md): IMDS tokens in a loop (they used to push the owner's
 * token out of a 256-token store: 401 from then on) and slow connections (they used to take every descriptor).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const { dir, cleanup } = makeTempDir("raa-cross-user-serve-");
let attacker: LocalUser;
let endpoint: LocalEndpoint;
let leaf: IssuedCertificate;

const ENV = { PATH: process.env["PATH"], NODE_EXTRA_CA_CERTS: "", HOME: dir, XDG_RUNTIME_DIR: "/nonexistent" };
const flags = () => [
  "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/squat",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/squat",
  "--role-arn", "arn:aws:iam::000000000000:role/Squat",
  "--endpoint", endpoint.url, "--timeout", "5", "--max-attempts", "1",
];

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Squat Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "squat-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  if (canCreateUsers()) attacker = createLocalUser("r15a-mallory", dir);
});

afterAll(async () => {
  attacker?.remove();
  await endpoint?.close();
  cleanup();
});

describe.skipIf(!canCreateUsers())("serve on a port another user took first", () => {
  it("fails with one line that names the other user's uid and says the consumers reach that process (was: 'pick another')", async () => {
    // The squatter takes a port of the kernel's choosing and says which: a port found free here and released could
    // be taken by a parallel file's listen(0) before the squatter (another node process) got it.
    const squatter = attacker.spawn(process.execPath, ["-e", `const s = require("net").createServer().listen(0, "127.0.0.1", () => console.log("READY " + s.address().port))`], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const port = Number((await untilLogLine(squatter, /^READY \d+$/, 60_000, squatter.stdout!))[0]!.slice(6));
      const r = await runCli(DIST_CLI, ["serve", ...flags(), "--port", String(port)], ENV, 30_000);
      expect(r.code).toBe(EXIT_CODES.usage);
      const lines = r.stderr.trim().split("\n").filter((l) => !l.includes("warning"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
      expect(lines[0]).toContain(`a process of uid ${attacker.uid}, not this user, listens there: programs pointed at port ${port} reach it instead`);
    } finally {
      squatter.kill("SIGKILL");
    }
  });

  it("control: a port this user holds gets the plain hint", async () => {
    const own: Server = createServer();
    await new Promise<void>((r) => own.listen(0, "127.0.0.1", r));
    const port = (own.address() as { port: number }).port;
    try {
      const r = await runCli(DIST_CLI, ["serve", ...flags(), "--port", String(port)], ENV, 30_000);
      expect(r.code).toBe(EXIT_CODES.usage);
      expect(r.stderr).toContain("another process uses that port: pick another with --port");
      expect(r.stderr).not.toContain("not this user");
    } finally {
      await new Promise((r) => own.close(r));
    }
  });
});

/** serve (IMDS) as a process whose open-file limit is `nofile` (sh's ulimit sets soft and hard: Node cannot raise it). */
async function serveWithFileLimit(nofile: number): Promise<{ child: ChildProcess; port: number; log: string[] }> {
  const args = [DIST_CLI, "serve", ...flags(), "--port", "0"];
  const child = spawn("sh", ["-c", `ulimit -n ${nofile} && exec "$0" "$@"`, process.execPath, ...args], { env: ENV, stdio: ["ignore", "ignore", "pipe"] });
  const started = /Local server started on port: (\d+)/;
  const log = await untilLogLine(child, started);
  return { child, port: Number(log.map((l) => started.exec(l)).find(Boolean)![1]), log };
}

/** One HTTP request on a new connection (as SDKs' IMDS clients make them), 10 s at most: status, or 0 on failure. */
function imds(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString())).on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout"))).on("error", () => resolve({ status: 0, body: "" }));
    req.end();
  });
}

const CREDENTIALS = "/latest/meta-data/iam/security-credentials/Squat";
const newToken = (port: number) => imds(port, "PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": "21600" });

/**
 * The owner's consumer for `ms`: credentials again and again with the token it got first (as clients that cache
 * it for its TTL do), or (`fresh`) a new token before each (the JS SDK v3 and botocore): counts and rate.
 */
async function consumer(port: number, ms: number | (() => boolean), fresh = false) {
  let token = (await newToken(port)).body;
  const counts = { ok: 0, failed: 0, statuses: new Set<number>() };
  const start = Date.now();
  const going = typeof ms === "number" ? () => Date.now() - start < ms : ms;
  while (going()) {
    if (fresh) token = (await newToken(port)).body;
    const r = await imds(port, "GET", CREDENTIALS, { "x-aws-ec2-metadata-token": token });
    if (r.status === 200 && JSON.parse(r.body).AccessKeyId) {
      counts.ok++;
    } else {
      counts.failed++;
      counts.statuses.add(r.status);
    }
  }
  return { ...counts, perSecond: Math.round((counts.ok * 1000) / (Date.now() - start)) };
}

/** A script the other user runs against `port` for `ms`, printing one JSON line of counts at the end. */
function asAttacker(script: string, port: number, ms: number, ...more: number[]): Promise<Record<string, number>> {
  const child = attacker.spawn(process.execPath, ["-e", script, String(port), String(ms), ...more.map(String)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => resolve(JSON.parse(line)));
    child.once("exit", (code) => reject(new Error(`the attacker exited (${code})`)));
  });
}

// 16 requests at a time on kept-alive connections: new IMDS tokens as fast as serve gives them, for `ms` and until
// `min` tokens (60 s at most): a fixed 4 s got 331 on a loaded machine, near the 256 the test needs.
const TOKEN_FLOOD = `
const http = require("http"), [port, ms, min = 0] = process.argv.slice(1).map(Number), start = Date.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
let tokens = 0, errors = 0, running = 16;
const report = () => (console.log(JSON.stringify({ tokens, errors })), process.exit(0));
const done = () => (Date.now() - start >= ms && tokens >= min) || Date.now() - start >= 60_000;
const one = () => {
  if (done()) return --running === 0 && report();
  http.request({ host: "127.0.0.1", port, method: "PUT", path: "/latest/api/token", agent,
    headers: { "x-aws-ec2-metadata-token-ttl-seconds": "21600" } }, (res) => res.resume().on("end", () => (tokens++, one())))
    .on("error", () => (errors++, setTimeout(one, 10))).end();
};
for (let i = 0; i < 16; i++) one();
setTimeout(report, 61_000); // a request that neither ended nor failed`;

// 300 connections held open, each sending a request's header one byte every 200 ms; reopened when closed.
const CONNECTION_FLOOD = `
const net = require("net"), [port, ms] = process.argv.slice(1).map(Number), end = Date.now() + ms;
const head = "GET /latest/api/token HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nX-Slow: ";
let opened = 0, held = 0;
function one() {
  if (Date.now() > end) return;
  const s = net.connect(port, "127.0.0.1");
  let timer, i = 0;
  s.on("connect", () => (opened++, held++, (timer = setInterval(() => s.write(head[i++] ?? "a"), 200))));
  s.on("error", () => {}).on("close", () => (clearInterval(timer), timer && held--, setTimeout(one, 10)));
}
for (let i = 0; i < 300; i++) one();
setTimeout(() => (console.log(JSON.stringify({ opened, held })), process.exit(0)), ms + 300);`;

// One connection, 1,000 token requests in one write (pipelined: none waits for its answer), answers read until
// serve closes it (or 10 s).
const PIPELINE = `
const net = require("net"), [port] = process.argv.slice(1).map(Number);
const one = "PUT /latest/api/token HTTP/1.1\\r\\nHost: 127.0.0.1:" + port + "\\r\\nx-aws-ec2-metadata-token-ttl-seconds: 60\\r\\n\\r\\n";
let text = "";
const done = (closed) => (console.log(JSON.stringify({ answers: text.split("HTTP/1.1 200").length - 1, closed })), process.exit(0));
const s = net.connect(port, "127.0.0.1").on("data", (d) => (text += d.toString("latin1"))).on("error", () => {});
s.on("close", () => done(1)).write(one.repeat(1000));
setTimeout(() => done(0), 10_000);`;

// One token request with a chunked body of 10,000 one-byte chunks in one write: the status line of the answer, and
// whether serve closed the connection (within 10 s).
const TINY_CHUNKS = `
const net = require("net"), [port] = process.argv.slice(1).map(Number);
const head = "PUT /latest/api/token HTTP/1.1\\r\\nHost: 127.0.0.1:" + port + "\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n";
let text = "";
const done = (closed) => (console.log(JSON.stringify({ status: text.slice(0, 12), closed })), process.exit(0));
const s = net.connect(port, "127.0.0.1").on("data", (d) => (text += d.toString("latin1"))).on("error", () => {});
s.on("close", () => done(1)).write(head + "1\\r\\na\\r\\n".repeat(10_000) + "0\\r\\n\\r\\n");
setTimeout(() => done(0), 10_000);`;

// One token request with 2,000 header lines (Node's default count, within its 16 KiB): the answer's status line.
const MANY_HEADERS = `
const net = require("net"), [port] = process.argv.slice(1).map(Number);
let text = "";
const s = net.connect(port, "127.0.0.1").on("data", (d) => (text += d.toString("latin1"))).on("error", () => {});
s.on("close", () => (console.log(JSON.stringify({ status: text.slice(0, 12) })), process.exit(0)));
s.write("PUT /latest/api/token HTTP/1.1\\r\\nHost: 127.0.0.1:" + port + "\\r\\nConnection: close\\r\\n" + "a:b\\r\\n".repeat(1_990) + "\\r\\n");`;

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);

describe.skipIf(!canCreateUsers())("serve while another local user floods it", () => {
  it("the owner's cached IMDS token keeps working while the other user requests tokens in a loop (was: 401 after 256)", async () => {
    const s = await serveWithFileLimit(1024);
    try {
      const quiet = await consumer(s.port, 1000);
      let flooding = true;
      const flooded = asAttacker(TOKEN_FLOOD, s.port, 4000, 512).finally(() => (flooding = false));
      const [flood, during] = await Promise.all([flooded, consumer(s.port, () => flooding)]);
      const fresh = await Promise.all([asAttacker(TOKEN_FLOOD, s.port, 3000), consumer(s.port, 3000, true)]);
      console.log(`token flood: ${flood["tokens"]} tokens (${flood["errors"]} failed requests); owner's credentials/s alone ${quiet.perSecond}, during ${during.perSecond} (cached token), ${fresh[1].perSecond} (new token each); serve RSS ${rssKb(s.child.pid!)} kB`);
      expect(flood["tokens"]).toBeGreaterThan(256); // the old store's size: enough to push the owner's token out
      expect({ failed: during.failed, statuses: [...during.statuses] }).toEqual({ failed: 0, statuses: [] });
      expect(fresh[1].failed).toBe(0);
      expect(during.ok).toBeGreaterThan(0);
    } finally {
      s.child.kill("SIGKILL");
    }
  });

  it("the owner still gets credentials while the other user holds 300 slow connections (was: serve out of file descriptors)", async () => {
    // 256 descriptors: serve takes 128 connections, 32 of one user. More than the listen backlog (511) pending at
    // once would fill the kernel's queue, which delays every user's connections to any TCP service (SECURITY.md).
    const s = await serveWithFileLimit(256);
    try {
      const quiet = await consumer(s.port, 1000);
      const [flood, during] = await Promise.all([asAttacker(CONNECTION_FLOOD, s.port, 6000), consumer(s.port, 6000)]);
      console.log(`connection flood: ${JSON.stringify(flood)}; owner's credentials/s alone ${quiet.perSecond}, during ${during.perSecond}; serve RSS ${rssKb(s.child.pid!)} kB`);
      expect(flood["opened"]).toBeGreaterThan(200);
      expect({ failed: during.failed, statuses: [...during.statuses] }).toEqual({ failed: 0, statuses: [] });
      expect(during.ok).toBeGreaterThan(0);
      const capped = s.log.filter((l) => l.includes(`uid ${attacker.uid} opened more than`));
      expect(capped).toEqual([`uid ${attacker.uid} opened more than 32 connections, the most one user may hold: its newest are closed`]);
    } finally {
      s.child.kill("SIGKILL");
    }
  });
  it("pipelined requests: the first is answered, then the connection is closed unparsed (was: 1,000 answered in one go); a body: 400, 64+ headers: 431 (was: parsed, answered)", async () => {
    const s = await serveWithFileLimit(1024);
    try {
      // The requests after the first came in its read: Node parsed and answered them all before any other
      // connection's (32 such connections made each of the owner's requests wait over a second).
      const piped = await asAttacker(PIPELINE, s.port, 0);
      expect(piped).toEqual({ answers: 1, closed: 1 });
      // A body, which serve's requests never have: Node called into JavaScript for each of its chunks (32 such
      // connections, 1-byte chunks for 10 s each, made every owner request time out). 400 at the headers instead.
      expect(await asAttacker(TINY_CHUNKS, s.port, 0)).toEqual({ status: "HTTP/1.1 400", closed: 1 });
      // 2,000 headers, each handled in JavaScript: 250 connections of such requests (none pipelined) made half the
      // owner's requests time out, against none with as many plain ones. 431 from 64 header lines on, on every Node.
      expect(await asAttacker(MANY_HEADERS, s.port, 0)).toEqual({ status: "HTTP/1.1 431" });
      // Control: one kept-alive connection, each request sent once the one before is answered (SDKs, curl).
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const reused: boolean[] = [];
      for (let i = 0; i < 20; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port: s.port, method: "PUT", path: "/latest/api/token", agent, headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60" } }, (res) => {
            res.resume().on("end", () => resolve(res.statusCode!));
          });
          req.on("error", reject).end();
          reused.push(req.reusedSocket);
        });
        expect(status).toBe(200);
      }
      agent.destroy();
      expect(reused.filter(Boolean)).toHaveLength(19);
    } finally {
      s.child.kill("SIGKILL");
    }
  });
});
