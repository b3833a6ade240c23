/**
 * Fault injection for the local endpoints (issue 7, items 2 and 3): the agent socket with wrong permissions
 * or owned by another user, a peer of another uid, and `serve` facing non-loopback peers.
 *
 * The tests run as root; "another user" is uid 65534, reached with `setpriv --reuid=65534 --regid=65534
 * --clear-groups`. Non-loopback peers come from a network namespace joined to this one by a veth pair
 * (10.231.x.1 here, 10.231.x.2 there), and from `curl --interface 10.231.x.1` towards 127.0.0.1.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { distCopy } from "./helpers/local-trust.js";

const CLI = join(process.cwd(), "dist", "cli.js");
const NOBODY = 65534;
const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/sock",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/sock",
  "--role-arn", "arn:aws:iam::000000000000:role/sock",
];
const ENV = { ...process.env, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: "/nonexistent", ROLES_ANYWHERE_AGENT_SOCKET: "" };

const { dir, cleanup } = makeTempDir("raa-faults-socket-");
let local: LocalEndpoint;
let leaf: IssuedCertificate;
let config: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  chmodSync(dir, 0o755); // uid 65534 runs a fake agent below this directory
  const ca = createCa(join(dir, "ca"), { name: "Socket Faults CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "socket-device" });
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  config = join(dir, "config.json");
  const [, ta, , profile, , role] = ARNS;
  writeFileSync(
    config,
    JSON.stringify({ profiles: { sock: { certificate: leaf.certPath, "private-key": leaf.keyPath, "trust-anchor-arn": ta, "profile-arn": profile, "role-arn": role, endpoint: local.url } } }),
    { mode: 0o600 },
  );
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await local?.close();
  cleanup();
});

interface Result { code: number; stdout: string; stderr: string }
function run(cmd: string, args: string[]): Promise<Result> {
  return new Promise((resolve) =>
    execFile(cmd, args, { env: ENV, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    ),
  );
}
const cli = (args: string[]) => run(process.execPath, [CLI, ...args]);
const asNobody = (cmd: string, args: string[]) => run("setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", cmd, ...args]);

function expectOneLine(r: Result, code: number, pattern: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: "" });
  expect(r.stderr.split("\n")).toHaveLength(2);
  expect(r.stderr).toMatch(/^roles-anywhere-agent: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/**
 * An agent refused for its socket path: one line, the documented exit code, and no CreateSession, since the path
 * is checked before any signer is opened (an unsafe directory must not cost a PIN or a session).
 */
async function expectAgentRefusal(args: string[], code: number, pattern: RegExp): Promise<void> {
  const before = local.issued.length;
  expectOneLine(await cli(["agent", ...args]), code, pattern);
  expect(local.issued.length).toBe(before);
}

/** Starts the agent; resolves once it listens. */
async function startAgent(socket: string): Promise<ChildProcess> {
  const agent = spawn(process.execPath, [CLI, "agent", "--config", config, "--socket", socket], { env: ENV, stdio: ["ignore", "ignore", "pipe"] });
  children.push(agent);
  await untilLogLine(agent, /agent listening on/);
  return agent;
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** A private directory (0700, root's) for a socket. */
function privateDir(name: string): string {
  const path = join(dir, name);
  mkdirSync(path, { mode: 0o700 });
  return path;
}

describe("agent: refuses an unsafe socket path, replaces only a dead one", () => {
  it("refuses a world-writable socket directory (0777)", async () => {
    const d = privateDir("open-dir");
    chmodSync(d, 0o777);
    await expectAgentRefusal(["--config", config, "--socket", join(d, "agent.sock")], 3, /socket directory .*open-dir is accessible to other users \(mode 777\) \(run: chmod 700 /);
    expect(existsSync(join(d, "agent.sock"))).toBe(false);
  });

  it("refuses a socket directory owned by another user (uid 65534)", async () => {
    const d = privateDir("foreign-dir");
    chownSync(d, NOBODY, NOBODY);
    await expectAgentRefusal(["--config", config, "--socket", join(d, "agent.sock")], 3, /socket directory .*foreign-dir belongs to uid 65534, not to this user \(0\) \(another user may have created it/);
    expect(existsSync(join(d, "agent.sock"))).toBe(false);
  });

  it("leaves a file that is not a socket alone", async () => {
    const d = privateDir("not-a-socket");
    writeFileSync(join(d, "agent.sock"), "precious");
    await expectAgentRefusal(["--config", config, "--socket", join(d, "agent.sock")], 3, /agent\.sock exists and is not a socket; it was left alone/);
    expect(readFileSync(join(d, "agent.sock"), "utf8")).toBe("precious");
  });

  it("replaces a dead socket left by another user (0666, uid 65534) with its own 0600 one, and refuses to replace a live agent", async () => {
    const d = privateDir("stale");
    const socket = join(d, "agent.sock");
    // A socket file whose listener is gone (a crashed agent): bind, then exit without unlinking.
    execFileSync("python3", ["-c", `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(socket)})`]);
    chownSync(socket, NOBODY, NOBODY);
    chmodSync(socket, 0o666);
    const agent = await startAgent(socket);
    try {
      const info = statSync(socket);
      expect({ socket: info.isSocket(), uid: info.uid, mode: info.mode & 0o777 }).toEqual({ socket: true, uid: 0, mode: 0o600 });
      const r = await run("curl", ["-sf", "--unix-socket", socket, "http://agent/v1/credentials/sock"]);
      expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
      await expectAgentRefusal(["--config", config, "--socket", socket], 2, /an agent is already listening on .*agent\.sock \(stop it first/);
      expect(statSync(socket).ino).toBe(info.ino);
    } finally {
      await stop(agent);
    }
  });

  it("a peer of another uid cannot connect: the 0700 directory, then the 0600 socket, stop it at connect(2)", async () => {
    const d = privateDir("peer");
    const socket = join(d, "agent.sock");
    const agent = await startAgent(socket);
    try {
      const mine = await run("curl", ["-sf", "--unix-socket", socket, "http://agent/v1/status"]);
      expect(mine.code).toBe(0);
      const blocked = await asNobody("curl", ["-sS", "--unix-socket", socket, "http://agent/v1/credentials/sock"]);
      expect(blocked.code).toBe(7); // curl: couldn't connect
      expect(blocked.stderr).toMatch(/Permission denied|Couldn't connect/);
      expect(blocked.stdout).toBe("");
      // Even with the directory opened up, the socket's own mode keeps uid 65534 out.
      chmodSync(d, 0o755);
      const stillBlocked = await asNobody("curl", ["-sS", "--unix-socket", socket, "http://agent/v1/credentials/sock"]);
      expect(stillBlocked.code).toBe(7);
      expect(stillBlocked.stdout).toBe("");
    } finally {
      await stop(agent);
    }
  });
});

describe("agent under socket activation", () => {
  it("refuses a TCP socket passed as fd 3 (a .socket unit with ListenStream=PORT): one line, exit 3, nobody served", async () => {
    // Before: the agent served that port; without the native helper anyone reaching it got credentials, with it
    // every connection was dropped unanswered and unlogged, and the agent ran on.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const before = local.issued.length;
    const agent = spawn("systemd-socket-activate", ["-l", `127.0.0.1:${port}`, process.execPath, CLI, "agent", "--config", config], { env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    children.push(agent);
    const log = await untilLogLine(agent, /Listening on/);
    const exited = once(agent, "exit");
    const peer = await run("curl", ["-s", "-m", "10", `http://127.0.0.1:${port}/v1/credentials/sock`]);
    expect(peer.stdout).not.toMatch(/AccessKeyId/);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(3);
    const ours = log.filter((l) => l.startsWith("roles-anywhere-agent: "));
    expect(ours).toEqual([
      `roles-anywhere-agent: the socket systemd passed (fd 3) is a TCP socket on 127.0.0.1 port ${port}, not a UNIX socket (the agent's .socket unit must listen on a path: ListenStream=%t/roles-anywhere-agent.sock)`,
    ]);
    expect(log.join("\n")).not.toMatch(/internal error|\n\s+at /);
    expect(local.issued.length - before).toBeLessThanOrEqual(1);
  });
});

describe("agent under socket activation, without the native helper", () => {
  it("refuses an abstract socket passed as fd 3 (ListenStream=@name): one line, exit 3, nobody served", async () => {
    // Before: served; an abstract socket has no file mode or directory, and only peer credentials could keep others out.
    const cli = distCopy(process.cwd(), join(dir, "without-native"), { withoutNativeHelper: true });
    const name = `raa-abstract-${process.pid}-${Date.now()}`;
    const before = local.issued.length;
    const agent = spawn("systemd-socket-activate", ["-l", `@${name}`, process.execPath, cli, "agent", "--config", config], { env: ENV, stdio: ["ignore", "pipe", "pipe"] });
    children.push(agent);
    const log = await untilLogLine(agent, /Listening on/);
    const exited = once(agent, "exit");
    const peer = await asNobody("curl", ["-s", "-m", "10", "--abstract-unix-socket", name, "http://agent/v1/credentials/sock"]);
    expect(peer.stdout).not.toMatch(/AccessKeyId/);
    const [code] = (await exited) as [number | null];
    expect(code).toBe(3);
    const dumpable = "roles-anywhere-agent: warning: the process stays dumpable"; // said by any daemon without the helper
    expect(log.filter((l) => l.startsWith("roles-anywhere-agent: ") && !l.startsWith(dumpable))).toEqual([
      `roles-anywhere-agent: the socket systemd passed (fd 3) is in the abstract namespace (@${name}), where any local user can connect, and without the native helper (dist/native/) the agent cannot check who does (the agent's .socket unit must listen on a path: ListenStream=%t/roles-anywhere-agent.sock)`,
    ]);
    expect(local.issued.length - before).toBeLessThanOrEqual(1);
  });
});

describe("client (credential-process): never trusts a socket another user could have planted", () => {
  const viaAgent = (socket: string, extra: string[] = []) =>
    cli(["credential-process", "--agent-socket", socket, "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", local.url, ...extra]);

  it("uses this user's agent when its socket is private (control)", async () => {
    const socket = join(privateDir("client-ok"), "agent.sock");
    const agent = await startAgent(socket);
    try {
      const before = local.issued.length;
      const r = await viaAgent(socket, ["--agent"]);
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
      const again = await viaAgent(socket, ["--agent"]);
      expect(JSON.parse(again.stdout).AccessKeyId).toBe(JSON.parse(r.stdout).AccessKeyId);
      expect(local.issued.length - before).toBeLessThanOrEqual(1); // served from the agent's cache
    } finally {
      await stop(agent);
    }
  });

  it("an agent that stops with a request unanswered (a restart with it queued: connection reset; or killed) is no agent: signed directly unless --agent", async () => {
    // Before: exit 7 "cannot talk to the agent at …: ECONNRESET" without --agent too (7 of 50 callers at an agent's SIGTERM).
    const socket = join(privateDir("client-reset"), "agent.sock");
    // Closing a UNIX socket whose request is still unread resets it, as a stopping agent does to the connections it
    // has not accepted; one answered with nothing but the end of the stream is an agent killed after reading.
    const script = "import socket,sys\ns=socket.socket(socket.AF_UNIX);s.bind(sys.argv[1]);s.listen(8);print('READY',flush=True)\n"
      + "while True:\n c=s.accept()[0];c.recv(1,socket.MSG_PEEK) if sys.argv[2]=='reset' else c.recv(4096);print('ASKED',flush=True);c.close()\n";
    for (const how of ["reset", "end"]) {
      const stopping = spawn("python3", ["-c", script, socket, how], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(stopping);
      const said = await untilLogLine(stopping, /^READY$/, 60_000, stopping.stdout!);
      try {
        const before = local.issued.length;
        const direct = await viaAgent(socket);
        expect({ how, code: direct.code, stderr: direct.stderr }).toEqual({ how, code: 0, stderr: "" });
        expect(local.issued.map((s) => s.credentials.accessKeyId)).toContain(JSON.parse(direct.stdout).AccessKeyId);
        expect(local.issued.length - before).toBe(1);
        const message = how === "reset" ? "cannot talk to the agent at .*client-reset/agent\\.sock: ECONNRESET" : "the agent at .*client-reset/agent\\.sock sent an incomplete answer";
        const hint = " \\(the agent stopped or restarted, or it already holds its 1,024 connections .*; ask again, or drop --agent to sign directly\\)";
        expectOneLine(await viaAgent(socket, ["--agent"]), 7, new RegExp(`^roles-anywhere-agent: ${message}${hint}\n$`));
        expect(said.filter((l) => l === "ASKED")).toHaveLength(2);
      } finally {
        stopping.kill("SIGKILL");
        await once(stopping, "exit");
        rmSync(socket, { force: true });
      }
    }
  });

  it("refuses a fake agent run by uid 65534 in its own directory by its peer credentials, sends it nothing, and signs directly unless --agent", async () => {
    const d = join(dir, "fake");
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, NOBODY, NOBODY);
    const socket = join(d, "agent.sock");
    const fakeId = "ASIAFAKEFAKEFAKE";
    const fakeBody = JSON.stringify({ Version: 1, AccessKeyId: fakeId, SecretAccessKey: "attacker", SessionToken: "attacker", Expiration: "2099-01-01T00:00:00Z" });
    // Issued by the local endpoint, not the fake: not "no FAKE in it", which issued ids (ASIA + 16 base32) and keys
    // (base64) hold by chance.
    const issuedId = (stdout: string) => {
      expect(stdout).not.toContain(fakeId);
      const id = JSON.parse(stdout).AccessKeyId as string;
      expect(local.issued.map((s) => s.credentials.accessKeyId)).toContain(id);
      return id;
    };
    const script = `const s=require("http").createServer((q,r)=>{console.log("REQUEST "+q.url);r.setHeader("content-type","application/json");r.end(${JSON.stringify(fakeBody)})});s.listen(${JSON.stringify(socket)},()=>{require("fs").chmodSync(${JSON.stringify(socket)},0o600);console.log("READY")})`;
    const fake = spawn("setpriv", [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(fake);
    const said = await untilLogLine(fake, /^READY$/, 60_000, fake.stdout!);
    const requests = () => said.filter((l) => l.startsWith("REQUEST"));
    try {
      // Root can connect to anything, which makes this the case where only the client's own check helps.
      expect((await run("curl", ["-sf", "--unix-socket", socket, "http://agent/probe"])).stdout).toContain("ASIAFAKE");
      const probed = requests().length;
      const pattern = /refusing to use the agent socket .*fake\/agent\.sock: it is served by uid 65534 \(pid \d+\), not by this user \(0\)/;
      expectOneLine(await viaAgent(socket, ["--agent"]), 3, pattern);
      const direct = await viaAgent(socket); // found at the path without --agent: one warning, then signed directly
      expect(direct.code).toBe(0);
      expect(direct.stderr).toMatch(new RegExp(`^roles-anywhere-agent: warning: ${pattern.source}; signing directly instead\n$`));
      issuedId(direct.stdout);
      await new Promise((r) => setTimeout(r, 100));
      expect(requests().slice(probed)).toEqual([]);
      const noAgent = await viaAgent(socket, ["--no-agent"]);
      expect(noAgent.code).toBe(0);
      issuedId(noAgent.stdout);
    } finally {
      fake.kill("SIGKILL");
    }
  });

  it("trusts this user's own agent by its peer credentials even where the socket's modes are loose; the agent itself turns other users away", async () => {
    const d = privateDir("client-loose");
    const socket = join(d, "agent.sock");
    const agent = await startAgent(socket);
    try {
      chmodSync(socket, 0o666);
      chmodSync(d, 0o755);
      const own = await viaAgent(socket, ["--agent"]);
      expect(own.stderr).toBe("");
      expect(JSON.parse(own.stdout).AccessKeyId).toMatch(/^ASIA/);
      // The kernel no longer stops uid 65534 at connect(2); the agent's own peer check does.
      const other = await asNobody("curl", ["-sS", "--unix-socket", socket, "http://agent/v1/credentials/sock"]);
      expect(other.stdout).toBe("");
      expect(other.code).not.toBe(0);
    } finally {
      await stop(agent);
    }
  });
});

/** A network namespace joined by a veth pair; undefined (with the reason) when this machine cannot make one. */
function makeNetns(): { ns: string; host: string; peer: string; remove: () => void } | string {
  const ns = `raa-sock-${process.pid}`;
  const hostIf = `raah${process.pid}`.slice(0, 15);
  const peerIf = `raan${process.pid}`.slice(0, 15);
  // Idempotent and tolerant: each part may already be gone (deleting one end of a veth deletes both).
  const remove = () => {
    for (const args of [["link", "del", hostIf], ["netns", "del", ns]]) {
      try {
        execFileSync("ip", args, { stdio: "ignore" });
      } catch {
        /* already gone */
      }
    }
  };
  // Namespaces left by a run that was killed before its afterAll.
  for (const line of execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n")) {
    const old = /^raa-sock-(\d+)\b/.exec(line);
    if (old && !existsSync(`/proc/${old[1]}`)) {
      try {
        execFileSync("ip", ["netns", "del", `raa-sock-${old[1]}`], { stdio: "ignore" });
      } catch {
        /* raced with its owner */
      }
    }
  }
  try {
    execFileSync("ip", ["netns", "add", ns]);
    execFileSync("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", peerIf]);
    execFileSync("ip", ["link", "set", peerIf, "netns", ns]);
    execFileSync("ip", ["link", "set", hostIf, "up"]);
    // The subnet is claimed by adding its route, which fails if another run (any worktree, any pid) holds it: two
    // runs whose pids agree modulo 250 would otherwise route each other's traffic.
    let id = -1;
    for (let k = 0; k < 250 && id < 0; k++) {
      const candidate = (process.pid + k) % 250;
      try {
        execFileSync("ip", ["route", "add", `10.231.${candidate}.0/30`, "dev", hostIf], { stdio: "ignore" });
        id = candidate;
      } catch {
        /* held by another run */
      }
    }
    if (id < 0) throw new Error("no free 10.231.x.0/30");
    const [host, peer] = [`10.231.${id}.1`, `10.231.${id}.2`];
    execFileSync("ip", ["addr", "add", `${host}/30`, "dev", hostIf, "noprefixroute"]);
    execFileSync("ip", ["-n", ns, "addr", "add", `${peer}/30`, "dev", peerIf]);
    execFileSync("ip", ["-n", ns, "link", "set", peerIf, "up"]);
    execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
    return { ns, host, peer, remove };
  } catch (e) {
    remove();
    return `ip netns/veth not available: ${(e as Error).message.split("\n")[0]}`;
  }
}

const netns = makeNetns();
if (typeof netns === "string") console.log(`faults-agent-socket: serve tests skipped: ${netns}`);
const hasNetns = typeof netns !== "string";
afterAll(() => {
  if (typeof netns !== "string") netns.remove();
});
process.once("exit", () => {
  if (typeof netns !== "string") netns.remove();
});

describe.skipIf(!hasNetns)("serve: non-loopback peers", () => {
  const n = netns as Exclude<typeof netns, string>;
  afterAll(() => n.remove());

  async function startServe(args: string[]): Promise<{ child: ChildProcess; port: number; log: string[] }> {
    const child = spawn(process.execPath, [CLI, "serve", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", local.url, "--port", "0", ...args], {
      env: ENV,
      stdio: ["ignore", "ignore", "pipe"],
    });
    children.push(child);
    const log: string[] = [];
    let port = 0;
    for await (const line of createInterface({ input: child.stderr! })) {
      log.push(line);
      const m = /Local server started on port: (\d+)/.exec(line);
      if (m) port = Number(m[1]);
      const wrote = /^wrote (.*\.env)$/.exec(line);
      // With --ecs alone the port is only in the consumer's env file.
      if (wrote) port = Number(/AWS_CONTAINER_CREDENTIALS_FULL_URI=http:\/\/[^:]+:(\d+)\//.exec(readFileSync(wrote[1]!, "utf8"))![1]);
      if (port && (!args.includes("--ecs") || wrote)) return { child, port, log };
    }
    throw new Error(`serve exited: ${log.join("\n")}`);
  }
  /** curl's answer as status and body. */
  const curl = async (args: string[], ns?: string) => {
    const base = ["curl", "-s", "-w", "\\n%{http_code}", "--max-time", "5", ...args];
    const r = ns ? await run("ip", ["netns", "exec", ns, ...base]) : await run(base[0]!, base.slice(1));
    const cut = r.stdout.lastIndexOf("\n");
    return { status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
  };
  const curlFromNs = (args: string[]) => curl(args, n.ns);

  it("refuses to put the IMDS endpoint (tokens for anyone who asks) on a non-loopback address", async () => {
    expectOneLine(await cli(["serve", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", local.url, "--port", "0", "--bind", n.host]), 2, new RegExp(`the IMDS endpoint can only listen on loopback, not ${n.host.replace(/\./g, "\\.")}`));
    expectOneLine(await cli(["serve", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", local.url, "--port", "0", "--bind", "0.0.0.0", "--imds", "--ecs"]), 2, /the IMDS endpoint can only listen on loopback, not 0\.0\.0\.0/);
  });

  it("the ECS endpoint on a non-loopback address answers a peer in another namespace only with the consumer's token", async () => {
    const envDir = join(dir, "ecs-env");
    // Plain HTTP off loopback sends tokens and credentials in clear: refused unless asked for (TLS otherwise).
    expectOneLine(await cli(["serve", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", local.url, "--port", "0", "--bind", n.host, "--ecs"]), 2, /would send tokens and credentials over the network in clear/);
    const s = await startServe(["--ecs", "--bind", n.host, "--ecs-env-dir", envDir, "--allow-plain-http"]);
    try {
      const env = readFileSync(join(envDir, "sock.env"), "utf8");
      const token = /AWS_CONTAINER_AUTHORIZATION_TOKEN=(\S+)/.exec(env)![1]!;
      const url = `http://${n.host}:${s.port}/v1/credentials`;
      const none = await curlFromNs([url]);
      expect(none.status).toBe("401");
      expect(none.body).not.toContain("AccessKeyId");
      const wrong = await curlFromNs(["-H", "Authorization: not-the-token", url]);
      expect(wrong.status).toBe("403");
      expect(wrong.body).not.toContain("AccessKeyId");
      const inQuery = await curlFromNs([`${url}?token=${token}`]);
      expect(inQuery.status).toBe("400");
      const imds = await curlFromNs(["-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60", `http://${n.host}:${s.port}/latest/api/token`]);
      expect(imds.status).toBe("404");
      const good = await curlFromNs(["-H", `Authorization: ${token}`, url]);
      expect(good.status).toBe("200");
      expect(JSON.parse(good.body).AccessKeyId).toMatch(/^ASIA/);
    } finally {
      await stop(s.child);
    }
  });

  it("the IMDS endpoint on loopback refuses a peer whose address is not loopback (curl --interface)", async () => {
    const s = await startServe([]);
    try {
      const url = `http://127.0.0.1:${s.port}/latest/api/token`;
      const put = ["-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 60"];
      const foreign = await curl([...put, "--interface", n.host, url]);
      expect(foreign).toEqual({ status: "403", body: "forbidden\n" });
      const loop = await curl([...put, url]);
      expect(loop.status).toBe("200");
      expect(loop.body).toHaveLength(100); // the token
      const creds = await curl(["--interface", n.host, "-H", `X-aws-ec2-metadata-token: ${loop.body}`, `http://127.0.0.1:${s.port}/latest/meta-data/iam/security-credentials/sock`]);
      expect(creds).toEqual({ status: "403", body: "forbidden\n" }); // a valid token does not help a non-loopback peer
      const mine = await curl(["-H", `X-aws-ec2-metadata-token: ${loop.body}`, `http://127.0.0.1:${s.port}/latest/meta-data/iam/security-credentials/sock`]);
      expect(mine.status).toBe("200");
    } finally {
      await stop(s.child);
    }
  });
});
