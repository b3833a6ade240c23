import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { execFile, spawn } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, STATUS_CODES } from "node:http";
import { connect, createServer } from "node:net";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { startAgentServer, type RunningAgentServer } from "../../src/agent/agent-server.js";
import { credentialsFromAgent, fetchFromAgent } from "../../src/agent/client.js";
import { requestConditions } from "../../src/agent/request-conditions.js";
import { defaultAgentSocketPath } from "../../src/agent/socket-path.js";
import { prepareSocketPath, systemdListenFd } from "../../src/agent/socket-safety.js";
import { holdSighup } from "../../src/daemon/held-sighup.js";
import { runDaemon } from "../../src/daemon/signals.js";
import { createCredentialSource, type SessionCreator } from "../../src/credentials/credential-source.js";
import { SourceRegistry } from "../../src/credentials/source-registry.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import { AuthError, InputError, NetworkError } from "../../src/errors.js";
import type { ProfileArn, RoleArn, TrustAnchorArn } from "../../src/arn.js";
import { VERSION } from "../../src/version.js";
import { Secret } from "../../src/secrets/secret.js";
import { makeTempDir } from "../helpers/pki.js";
import { standInSigner } from "../helpers/stand-in.js";
import { EventEmitter, once } from "node:events";

const run = promisify(execFile);
/** A socket file nobody listens on: what an agent killed with SIGKILL leaves (python binds one and exits). */
const makeDeadSocket = (path: string) => run("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path]);
const TA = "arn:aws:rolesanywhere:eu-west-1:1:trust-anchor/t";
const PA = "arn:aws:rolesanywhere:eu-west-1:1:profile/p";
const settings = (role: string, roleSessionName?: string): CredentialSettings => ({
  signer: { privateKey: "pkcs11:token=t;object=k" },
  session: {
    trustAnchorArn: TA as TrustAnchorArn,
    profileArn: PA as ProfileArn,
    roleArn: `arn:aws:iam::1:role/${role}` as RoleArn,
    durationSeconds: 3600,
    ...(roleSessionName ? { roleSessionName } : {}),
  },
  endpoint: {},
});
const signer = standInSigner();

describe("agent over its UNIX socket", () => {
  const { dir, cleanup } = makeTempDir("raa-agent-");
  const socketDir = join(dir, "run");
  const socketPath = join(socketDir, "agent.sock");
  const sessions = vi.fn<SessionCreator>();
  let registry: SourceRegistry;
  let server: RunningAgentServer;
  // CreateSession calls wait at this gate until the test opens it.
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const closeGate = () => (gate = new Promise<void>((r) => (release = r)));

  beforeAll(async () => {
    sessions.mockImplementation(async (_s, st) => {
      await gate;
      if (st.session.roleArn.endsWith("/Broken")) throw new NetworkError("SERVICE_UNAVAILABLE", "CreateSession answered 503 three times");
      if (st.session.roleArn.endsWith("/Locked")) throw new AuthError("PIN_INCORRECT", "the token rejected the PIN");
      return { accessKeyId: "ASIAGW", secretAccessKey: "s3cret", sessionToken: "tok", expiration: new Date(Date.now() + 3600_000) };
    });
    registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner: async () => signer, createSession: sessions }));
    await registry.apply([
      { name: "gateway", settings: settings("Gateway", "gw-1") },
      { name: "broken", settings: settings("Broken") },
    ]);
    await prepareSocketPath(socketPath);
    server = await startAgentServer(registry, { path: socketPath });
  });
  afterAll(async () => {
    await server.close();
    await registry.closeAll();
    cleanup();
  });

  it("answers 1,000 concurrent clients with one CreateSession", async () => {
    const before = sessions.mock.calls.filter(([, s]) => s.session.roleArn.endsWith("/Gateway")).length;
    await registry.closeAll();
    closeGate();
    await registry.apply([
      { name: "gateway", settings: settings("Gateway", "gw-1") },
      { name: "broken", settings: settings("Broken") },
    ]);
    const all = Array.from({ length: 1000 }, () => fetchFromAgent(socketPath, "gateway"));
    await new Promise((r) => setTimeout(r, 200));
    release();
    const results = await Promise.all(all);
    expect(results.every((c) => c?.accessKeyId === "ASIAGW")).toBe(true);
    const after = sessions.mock.calls.filter(([, s]) => s.session.roleArn.endsWith("/Gateway")).length;
    expect(after - before).toBe(1);
  });

  it("serves a profile asked by name with a config file only when the agent's profiles come from that file", async () => {
    // Before: the agent answered with its own "gateway" whatever config the client's line named.
    const path = join(socketDir, "by-config.sock");
    const agentConfig = join(dir, "config.json");
    const byConfig = await startAgentServer(registry, { path }, agentConfig);
    try {
      expect((await fetchFromAgent(path, { profile: "gateway", config: agentConfig }))?.sessionToken).toBe("tok");
      const reasons: string[] = [];
      const other = { profile: "gateway", config: join(dir, "other.json") };
      expect(await fetchFromAgent(path, other, undefined, { notServed: (why) => reasons.push(why) })).toBeUndefined();
      expect(reasons).toEqual([`${path}: the agent's profile "gateway" comes from ${JSON.stringify(agentConfig)}, not ${JSON.stringify(other.config)}`]);
      expect((await fetchFromAgent(path, "gateway"))?.sessionToken).toBe("tok");
    } finally {
      await byConfig.close();
    }
  });

  it("serves a request by ARNs only from a profile meeting each condition, compared normalised; names the first difference", async () => {
    const gateway = { trustAnchorArn: TA, profileArn: PA, roleArn: "arn:aws:iam::1:role/Gateway", roleSessionName: "gw-1" };
    const own = requestConditions(settings("Gateway", "gw-1"))!;
    expect(own).toMatchObject({ certificate: "", "private-key": "pkcs11:object=k;token=t", "session-duration": "3600", region: "eu-west-1" });
    expect((await fetchFromAgent(socketPath, { ...gateway, conditions: own }))?.sessionToken).toBe("tok");
    // The same key written another way (attributes in another order, a percent-escape) is the same key.
    const same = requestConditions({ ...settings("Gateway", "gw-1"), signer: { privateKey: "pkcs11:object=%6b;token=t" } })!;
    expect((await fetchFromAgent(socketPath, { ...gateway, conditions: same }))?.sessionToken).toBe("tok");
    const reasons: string[] = [];
    for (const [name, value] of [["certificate", "/home/u/renewed.pem"], ["session-duration", "900"], ["endpoint", "http://127.0.0.1:1"]]) {
      expect(await fetchFromAgent(socketPath, { ...gateway, conditions: { ...own, [name!]: value! } }, undefined, { notServed: (why) => reasons.push(why) })).toBeUndefined();
    }
    expect(reasons).toEqual([
      `${socketPath}: profile "gateway" has these ARNs but another certificate: "", not "/home/u/renewed.pem"`,
      `${socketPath}: profile "gateway" has these ARNs but another session-duration: "3600", not "900"`,
      `${socketPath}: profile "gateway" has these ARNs but another endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com", not "http://127.0.0.1:1"`,
    ]);
  });

  it("creates the socket with mode 0600", () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o600);
  });

  it("finds a profile by its ARNs and session name, and says undefined when nothing matches", async () => {
    const c = await fetchFromAgent(socketPath, { trustAnchorArn: TA, profileArn: PA, roleArn: "arn:aws:iam::1:role/Gateway", roleSessionName: "gw-1" });
    expect(c?.sessionToken).toBe("tok");
    expect(await fetchFromAgent(socketPath, { trustAnchorArn: TA, profileArn: PA, roleArn: "arn:aws:iam::1:role/Gateway" })).toBeUndefined();
    expect(await fetchFromAgent(socketPath, "nosuchprofile")).toBeUndefined();
    expect(await fetchFromAgent(join(dir, "nothing-here.sock"), "gateway")).toBeUndefined();
  });

  it("passes on the agent's error (same code) when the profile has no credentials", async () => {
    release();
    await expect(fetchFromAgent(socketPath, "broken")).rejects.toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      message: "agent: broken: CreateSession answered 503 three times",
    });
  });

  it("refuses an answer whose JSON is null as incomplete credentials (it used to fail destructuring null)", async () => {
    const path = join(dir, "null-answer.sock");
    const fake = createHttpServer((_req, res) => res.end("null"));
    await new Promise<void>((resolve) => fake.listen(path, resolve));
    try {
      await expect(fetchFromAgent(path, "gateway")).rejects.toMatchObject({
        code: "AGENT_UNAVAILABLE",
        message: "agent: the answer holds incomplete credentials; they were not used",
      });
    } finally {
      fake.close();
    }
  });

  it("waits for an agent that took the request (a slow CreateSession); gives up early on one that did not take it", async () => {
    // Before: a stopped agent (SIGSTOP, a socket unit whose service cannot start) held every client 35 s, then failed.
    const [busyPath, stoppedPath] = [join(dir, "busy.sock"), join(dir, "stopped.sock")];
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const creds = { Version: 1, AccessKeyId: "ASIABUSY", SecretAccessKey: "s", SessionToken: "t", Expiration: "2099-01-01T00:00:00Z" };
    const busy = createHttpServer((_req, res) => void released.then(() => res.end(JSON.stringify(creds))));
    const stopped = createServer(() => {}); // connected, never read: what the socket's backlog does for a stopped agent
    await Promise.all([[busy, busyPath], [stopped, stoppedPath]].map(([server, path]) =>
      new Promise<void>((resolve) => (server as ReturnType<typeof createServer>).listen(path as string, resolve))));
    try {
      const took = fetchFromAgent(busyPath, "gateway", undefined, { takeWithinMs: 1_000 });
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // past takeWithinMs: its 100 Continue came at once
      release();
      expect((await took)?.accessKeyId).toBe("ASIABUSY");
      await expect(fetchFromAgent(stoppedPath, "gateway", undefined, { takeWithinMs: 1_000 })).rejects.toMatchObject({
        code: "AGENT_UNAVAILABLE",
        message: `the agent at ${stoppedPath} did not take the request within 1 s (a stopped process, or a socket unit whose service cannot start)`,
      });
    } finally {
      busy.close();
      stopped.close();
    }
  });

  it("refuses an agent that hangs up without an answer (as on another uid's client), or answers 500", async () => {
    // Nothing ran these: a mutant resolving the cut answer as a 404 would have signed directly instead of saying so.
    const paths = [join(dir, "hangs-up.sock"), join(dir, "half-answer.sock"), join(dir, "http-500.sock")];
    const fakes = [
      createServer((c) => c.once("data", () => c.end())),
      createServer((c) => c.end("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n")),
      createHttpServer((_req, res) => res.writeHead(500).end("oops")),
    ];
    await Promise.all(fakes.map((f, i) => new Promise<void>((resolve) => f.listen(paths[i], resolve))));
    try {
      for (const path of paths.slice(0, 2)) {
        await expect(fetchFromAgent(path, "gateway")).rejects.toMatchObject({
          code: "AGENT_UNAVAILABLE",
          message: `the agent at ${path} sent an incomplete answer`,
        });
      }
      await expect(fetchFromAgent(paths[2]!, "gateway")).rejects.toMatchObject({
        code: "AGENT_UNAVAILABLE",
        message: "agent: the agent answered HTTP 500",
      });
    } finally {
      for (const f of fakes) f.close();
    }
  });

  it("refuses an answer above 64 KiB on one line, reading no further (was: read whole: 5 GB in 15 s from a flooding peer)", async () => {
    const path = join(dir, "huge-answer.sock");
    const valid = JSON.stringify({ Version: 1, AccessKeyId: "ASIAHUGE", SecretAccessKey: "s", SessionToken: "t", Expiration: new Date(Date.now() + 3600_000).toISOString() });
    const fake = createHttpServer((_req, res) => res.end(valid + " ".repeat(1024 * 1024)));
    await new Promise<void>((resolve) => fake.listen(path, resolve));
    try {
      await expect(fetchFromAgent(path, "gateway")).rejects.toMatchObject({
        code: "AGENT_UNAVAILABLE",
        message: `the agent at ${path} sent an answer above 64 KiB; it was not read further`,
      });
    } finally {
      fake.close();
    }
  });

  it("an agent stopped after taking the request (its 100 Continue sent, no answer) is no agent unless --agent", async () => {
    // Before: the 100 Continue counted as a byte of the answer, so without --agent this was exit 7, not a direct signing.
    const path = join(dir, "took-then-stopped.sock");
    const fake = createHttpServer((req) => req.socket.destroy()); // what stopping with closeAllConnections does
    await new Promise<void>((resolve) => fake.listen(path, resolve));
    try {
      const onUnsafe = vi.fn();
      expect(await credentialsFromAgent({ socket: path, required: false, env: {} }, "gateway", onUnsafe)).toBeUndefined();
      expect(onUnsafe).not.toHaveBeenCalled();
      await expect(credentialsFromAgent({ socket: path, required: true, env: {} }, "gateway", onUnsafe)).rejects.toMatchObject({
        code: "AGENT_UNAVAILABLE",
        message: expect.stringMatching(new RegExp(`^(the agent at ${path} sent an incomplete answer|cannot talk to the agent at ${path}: ECONNRESET)$`)),
      });
    } finally {
      fake.close();
    }
  });

  it("answers pipelined requests before a malformed one after them, then 400 and close (was: their answers lost, a 400 in their place)", async () => {
    const c = connect(socketPath);
    const chunks: Buffer[] = [];
    c.on("data", (d: Buffer) => chunks.push(d));
    const ask = "GET /v1/credentials/gateway HTTP/1.1\r\nHost: agent\r\n\r\n";
    c.write(`${ask}GET /v1/status HTTP/1.1\r\nHost: agent\r\n\r\n${ask}BROKEN\r\n\r\n`);
    await once(c, "close");
    const text = Buffer.concat(chunks).toString("latin1");
    expect(text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(["HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 200", "HTTP/1.1 400"]);
    expect(text.match(/"AccessKeyId":"ASIAGW"/g)).toHaveLength(2);
    expect(text).toContain('"profiles":');
    for (const [bad, status] of [["BROKEN\r\n\r\n", "400 Bad Request"], [`GET / HTTP/1.1\r\nX: ${"a".repeat(20_000)}\r\n\r\n`, "431 Request Header Fields Too Large"]]) {
      const alone = connect(socketPath);
      const got: Buffer[] = [];
      alone.on("data", (d: Buffer) => got.push(d)).write(bad!);
      await once(alone, "close");
      expect(Buffer.concat(got).toString("latin1")).toBe(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    }
  });

  it("serves the credential_process JSON to curl --unix-socket, and fails curl -f on errors", async () => {
    const { stdout } = await run("curl", ["-sf", "--unix-socket", socketPath, "http://agent/v1/credentials/gateway"]);
    const doc = JSON.parse(stdout);
    expect(Object.keys(doc)).toEqual(["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]);
    expect(doc).toMatchObject({ Version: 1, AccessKeyId: "ASIAGW" });
    await expect(run("curl", ["-sf", "--unix-socket", socketPath, "http://agent/v1/credentials/broken"])).rejects.toMatchObject({ code: 22 });
  });

  it("answers a profile name with a malformed percent-escape as an unknown profile (404), not as an internal error", async () => {
    const { stdout } = await run("curl", ["-s", "-w", "\n%{http_code}", "--unix-socket", socketPath, "http://agent/v1/credentials/gate%zzway"]);
    const [body, status] = stdout.split("\n");
    expect(status).toBe("404");
    expect(JSON.parse(body!)).toMatchObject({ Code: "ProfileNotFound", Message: 'the agent has no profile named "gate%zzway"' });
  });

  it("answers a request target that is not a URL with 400 InvalidRequest, not as an internal error", async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      let out = "";
      const request = "GET //[ HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n";
      const socket = connect(socketPath, () => socket.end(request));
      socket.on("data", (chunk) => (out += chunk)).on("end", () => resolve(out)).on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.split("\r\n\r\n")[1]!)).toMatchObject({ Code: "InvalidRequest" });
  });

  it("reports status without secrets", async () => {
    const { stdout } = await run("curl", ["-sf", "--unix-socket", socketPath, "http://agent/v1/status"]);
    expect(JSON.parse(stdout).profiles.map((p: { name: string; state: string }) => [p.name, p.state])).toEqual([
      ["gateway", "fresh"],
      ["broken", "expired"],
    ]);
    // Until when each profile's credentials are handed out (10 s before the service's Expiration here): the moment
    // its state turns "expired", which a monitor comparing `expiration` with the clock would otherwise miss.
    const gateway = JSON.parse(stdout).profiles[0];
    expect(Date.parse(gateway.expiration) - Date.parse(gateway.servedUntil)).toBe(10_000);
    expect(JSON.parse(stdout).profiles[1]).toMatchObject({ expiration: null, servedUntil: null });
    expect(stdout).not.toMatch(/s3cret|tok"/);
    // The version of the code the agent runs, which an upgrade of the package does not change until a restart: how a
    // fleet finds the agents still running the old one.
    expect(JSON.parse(stdout).version).toBe(VERSION);
  });

  it("matches every ARN of a query: another trust anchor or profile ARN with the same role gets nothing", async () => {
    // Only the role ARN differed between the profiles here: mutants ignoring the trust anchor or profile ARN survived.
    const other = { TA: `${TA}-other`, PA: `${PA}-other` };
    for (const [trustAnchorArn, profileArn] of [[other.TA, PA], [TA, other.PA]]) {
      const query = {
        trustAnchorArn: trustAnchorArn!,
        profileArn: profileArn!,
        roleArn: "arn:aws:iam::1:role/Gateway",
        roleSessionName: "gw-1",
      };
      expect(await fetchFromAgent(socketPath, query), JSON.stringify(query)).toBeUndefined();
    }
  });

  it("answers the HTTP API's refusals with their codes, and marks every answer no-store", async () => {
    const ask = (target: string, method = "GET") => new Promise<string>((resolve, reject) => {
      let out = "";
      const request = `${method} ${target} HTTP/1.1\r\nHost: agent\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
      const socket = connect(socketPath, () => socket.end(request));
      socket.on("data", (chunk) => (out += chunk)).on("end", () => resolve(out)).on("error", reject);
    });
    const answers = [
      [await ask("/v1/credentials/gateway", "POST"), 405, { Code: "MethodNotAllowed", Message: "use GET" }],
      [await ask(`/v1/credentials?trust-anchor-arn=${TA}&profile-arn=${PA}`), 400, {
        Code: "InvalidRequest",
        Message: "give /v1/credentials/<profile>, or trust-anchor-arn, profile-arn and role-arn",
      }],
      [await ask(`/v1/credentials?trust-anchor-arn=${TA}&profile-arn=${PA}&role-arn=arn:aws:iam::1:role/None`), 404, {
        Code: "NoMatchingProfile",
        Message: "no profile of the agent has these ARNs",
      }],
      [await ask("/v1/credentialsx"), 404, { Code: "NotFound", Message: "unknown path" }],
      [await ask("/v1/credentials/gateway"), 200, expect.objectContaining({ AccessKeyId: "ASIAGW" })],
    ] as const;
    for (const [answer, status, body] of answers) {
      const [head, text] = answer.split("\r\n\r\n");
      expect(head!.split("\r\n")[0]).toBe(`HTTP/1.1 ${status} ${STATUS_CODES[status]}`);
      expect(head).toMatch(/\r\ncontent-type: application\/json\r\n/i);
      expect(head).toMatch(/\r\ncache-control: no-store\r\n/i);
      expect(JSON.parse(text!)).toEqual(body);
    }
  });

  it("answers a query parameter it does not know (a newer client's condition) with 404: the client signs directly", async () => {
    // During a fleet's upgrade a newer credential-process may ask an older agent for more than these ARNs (a session
    // duration, a certificate). Before: the condition was ignored and a profile's credentials that may not meet it
    // came back (200); a 404 is what makes any client sign by itself (client.ts), as for a profile the agent lacks.
    const ask = (target: string) => new Promise<string>((resolve, reject) => {
      let out = "";
      const socket = connect(socketPath, () => socket.end(`GET ${target} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n`));
      socket.on("data", (chunk) => (out += chunk)).on("end", () => resolve(out)).on("error", reject);
    });
    const arns = `trust-anchor-arn=${TA}&profile-arn=${PA}&role-arn=arn:aws:iam::1:role/Gateway&role-session-name=gw-1`;
    for (const target of [`/v1/credentials/gateway?session-duration=900`, `/v1/credentials?${arns}&source-identity=x`]) {
      const [head, text] = (await ask(target)).split("\r\n\r\n");
      expect(head!.split("\r\n")[0], target).toBe("HTTP/1.1 404 Not Found");
      expect(JSON.parse(text!)).toEqual({
        Code: "NoMatchingProfile",
        Message: `this agent does not know the request's ${JSON.stringify(target.endsWith("x") ? "source-identity" : "session-duration")}: it cannot tell whether a profile meets it`,
      });
    }
    expect((await ask(`/v1/credentials?${arns}`)).split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    // A named profile takes no condition, not even the ARNs of a query: a mutant that allowed them there handed out
    // gateway's credentials for a request that asked for another role.
    const other = await ask("/v1/credentials/gateway?role-arn=arn:aws:iam::1:role/Other");
    expect(other.split("\r\n")[0]).toBe("HTTP/1.1 404 Not Found");
    expect(other).toContain('does not know the request\'s \\"role-arn\\"');
    // Not a credentials path: a query there changes nothing (a monitor's cache-buster on /v1/status, a wrong path).
    expect((await ask("/v1/status?t=1")).split("\r\n")[0]).toBe("HTTP/1.1 200 OK");
    expect(JSON.parse((await ask("/v1/credentialsx?t=1")).split("\r\n\r\n")[1]!)).toEqual({ Code: "NotFound", Message: "unknown path" });
  });
});

describe("an agent whose socket was replaced by a newer agent's", () => {
  it("stopping the older agent leaves the newer one's socket in place (Node unlinks a UNIX socket's path when it closes)", async () => {
    const { dir, cleanup } = makeTempDir("raa-agent-orphan-");
    const path = join(dir, "agent.sock");
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner: async () => signer, createSession: async () => { throw new NetworkError("TIMEOUT", "unused"); } }));
    try {
      const older = await startAgentServer(registry, { path });
      unlinkSync(path); // someone removed the socket while the agent ran…
      const newer = await startAgentServer(registry, { path }); // …and started another agent on the same path
      const newerSocket = statSync(path).ino;
      await older.close();
      expect(statSync(path, { throwIfNoEntry: false })?.ino).toBe(newerSocket);
      expect(await fetchFromAgent(path, "none")).toBeUndefined(); // the newer agent still answers (no such profile)
      await newer.close();
      expect(existsSync(path)).toBe(false);
    } finally {
      await registry.closeAll();
      cleanup();
    }
  });
});

describe("socket safety", () => {
  const { dir, cleanup } = makeTempDir("raa-sock-");
  afterAll(cleanup);

  it("refuses a directory other users can enter, or one owned by someone else", async () => {
    const open = join(dir, "open");
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    await expect(prepareSocketPath(join(open, "a.sock"))).rejects.toMatchObject({ code: "SOCKET_UNSAFE" });
    const foreign = join(dir, "foreign");
    mkdirSync(foreign, { mode: 0o700 });
    await expect(prepareSocketPath(join(foreign, "a.sock"), 12345)).rejects.toMatchObject({ code: "SOCKET_UNSAFE", message: expect.stringContaining("not to this user (12345)") });
    if (process.getuid?.() === 0) {
      chownSync(foreign, 12345, 12345);
      await expect(prepareSocketPath(join(foreign, "a.sock"))).rejects.toMatchObject({ code: "SOCKET_UNSAFE" });
    }
  });

  it("refuses a socket directory reached through one anyone can write, or that cannot be made, and says which", async () => {
    // Nothing ran these refusals: the walk's own (another user could swap the directory) and mkdir's failure.
    const open = join(dir, "world-writable");
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const below = join(open, "run");
    await expect(prepareSocketPath(join(below, "a.sock"))).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
      message: expect.stringMatching(new RegExp(`^socket directory ${below} is not safe: .*${open}`)),
      hint: "another user could replace the socket there: choose a path in a directory of yours with --socket",
    });
    expect(existsSync(below)).toBe(false);
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    await expect(prepareSocketPath(join(file, "run", "a.sock"))).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
      message: `cannot create the socket directory ${join(file, "run")}: ENOTDIR`,
    });
  });

  it("says what to do about each refusal (the hints were dropped by mutants without a test noticing)", async () => {
    await expect(prepareSocketPath("/x.sock")).rejects.toMatchObject({
      hint: "choose a path in a directory of yours with --socket (one is created, mode 0700, when missing)",
    });
    const mine = join(dir, "hints");
    mkdirSync(mine, { mode: 0o700 });
    await expect(prepareSocketPath(join(mine, "a.sock"), 12345)).rejects.toMatchObject({
      hint: "another user may have created it to intercept requests: choose another path with --socket",
    });
    chmodSync(mine, 0o750);
    await expect(prepareSocketPath(join(mine, "a.sock"))).rejects.toMatchObject({
      hint: `run: chmod 700 ${mine}   (or choose a private directory with --socket)`,
    });
    chmodSync(mine, 0o700);
    writeFileSync(join(mine, "a.sock"), "");
    await expect(prepareSocketPath(join(mine, "a.sock"))).rejects.toMatchObject({
      message: `${join(mine, "a.sock")} exists and is not a socket; it was left alone`,
      hint: "remove it or choose another --socket",
    });
    unlinkSync(join(mine, "a.sock"));
    const live = createServer();
    await new Promise<void>((r) => live.listen(join(mine, "a.sock"), r));
    try {
      await expect(prepareSocketPath(join(mine, "a.sock"))).rejects.toMatchObject({
        message: `an agent is already listening on ${join(mine, "a.sock")}`,
        hint: "stop it first, or give this one another --socket",
      });
    } finally {
      await new Promise<void>((r) => live.close(() => r()));
    }
  });

  it("refuses a socket directory any other user can enter or list, whatever bit lets them (not only 0755)", async () => {
    for (const mode of [0o701, 0o710, 0o704, 0o740]) {
      const d = join(dir, `mode-${mode.toString(8)}`);
      mkdirSync(d, { mode });
      chmodSync(d, mode);
      await expect(prepareSocketPath(join(d, "a.sock"))).rejects.toMatchObject({
        code: "SOCKET_UNSAFE",
        message: `socket directory ${d} is accessible to other users (mode ${mode.toString(8)})`,
      });
    }
  });

  it("refuses a relative path (usage), a path that names no file, and a socket directly in / with one clear line", async () => {
    // Before: rel.sock was accepted (a client elsewhere would not find it); /x.sock said "cannot create the socket
    // directory /: EISDIR"; /tmp/ created nothing and said "cannot create the socket directory /" too.
    const usage = (path: string, what: string) => ({ code: "USAGE", message: `the agent socket path ${path} ${what}` });
    await expect(prepareSocketPath("rel.sock")).rejects.toMatchObject(usage("rel.sock", "is relative: from another working directory it names another file"));
    for (const path of ["/tmp/", `${dir}/..`, `${dir}/.`]) {
      await expect(prepareSocketPath(path)).rejects.toMatchObject(usage(path, "does not end in a file name"));
    }
    await expect(prepareSocketPath("/x.sock")).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
      message: "the agent socket /x.sock cannot be directly in /: its directory must be this user's alone",
    });
  });

  it("refuses a relative --agent-socket on the client's side too (usage, one line), with --agent or without", async () => {
    // Before: credential-process took rel.sock (another file from another directory) and, without --agent, signed
    // directly when it did not exist, while `agent --socket rel.sock` was refused.
    const { main } = await import("../../src/cli/main.js");
    const relative = "is relative: from another working directory it names another file";
    const hint = "(give the absolute path of the socket file, e.g. $XDG_RUNTIME_DIR/agent.sock)";
    for (const [socket, what] of [["rel.sock", relative], ["./a/b.sock", relative], [`${dir}/..`, "does not end in a file name"]]) {
      for (const agent of [[], ["--agent"]]) {
        let stderr = "";
        const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
        const argv = ["credential-process", "--profile", "gw", "--config", join(dir, "none.json"), ...agent, "--agent-socket", socket!];
        expect(await main(argv, io), argv.join(" ")).toBe(2);
        expect(stderr).toBe(`roles-anywhere-agent: the agent socket path ${socket} ${what} ${hint}\n`);
      }
    }
  });

  it("refuses a relative ROLES_ANYWHERE_AGENT_SOCKET on both sides (usage, one line), as on the command line", async () => {
    // Before: passed over without a word; the agent and its clients used the default socket instead.
    const { main } = await import("../../src/cli/main.js");
    const line = "roles-anywhere-agent: the agent socket path ROLES_ANYWHERE_AGENT_SOCKET=rel.sock is relative: from another "
      + "working directory it names another file (give the absolute path of the socket file, e.g. $XDG_RUNTIME_DIR/agent.sock)\n";
    const none = join(dir, "none.json");
    const config = join(dir, "empty-config.json");
    writeFileSync(config, JSON.stringify({ profiles: {} }), { mode: 0o600 });
    for (const argv of [["credential-process", "--profile", "gw", "--config", none], ["credential-process", "--profile", "gw", "--agent"],
      ["agent", "--config", config]]) {
      let stderr = "";
      const env = { CI: "true", ROLES_ANYWHERE_AGENT_SOCKET: "rel.sock", XDG_RUNTIME_DIR: dir };
      const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env };
      expect(await main(argv, io), argv.join(" ")).toBe(2);
      expect(stderr, argv.join(" ")).toBe(line);
    }
    expect(() => defaultAgentSocketPath({ ROLES_ANYWHERE_AGENT_SOCKET: "./a.sock" })).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  it("creates a missing directory 0700, clears a stale socket, and refuses to replace a live agent or a file", async () => {
    const path = join(dir, "new", "a.sock");
    await prepareSocketPath(path);
    expect(statSync(join(dir, "new")).mode & 0o777).toBe(0o700);
    const live = createServer();
    await new Promise<void>((r) => live.listen(path, r));
    await expect(prepareSocketPath(path)).rejects.toMatchObject({ code: "LISTEN_FAILED" });
    await new Promise<void>((r) => live.close(() => r()));
    // Closing a net.Server removes its socket file: a stale one is made by a process that binds and exits.
    await makeDeadSocket(path);
    expect(statSync(path).isSocket()).toBe(true);
    await prepareSocketPath(path);
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, "not a socket");
    await expect(prepareSocketPath(path)).rejects.toMatchObject({ code: "SOCKET_UNSAFE" });
  });

  it("two agents starting at once beside a dead socket both get past it; a live agent with a full backlog keeps its socket", async () => {
    // Before: the second one's unlink failed with ENOENT ("internal error"); a connect refused with EAGAIN (a live
    // agent's backlog full) was taken for a dead socket's, and its socket unlinked: that agent became unreachable.
    const path = join(dir, "race", "a.sock");
    await prepareSocketPath(path);
    await makeDeadSocket(path);
    expect(statSync(path).isSocket()).toBe(true);
    await expect(Promise.all([prepareSocketPath(path), prepareSocketPath(path)])).resolves.toEqual([undefined, undefined]);
    expect(existsSync(path)).toBe(false);
    const fill = "import socket, sys, time\ns = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(0); held = []\n"
      + "while True:\n  c = socket.socket(socket.AF_UNIX); c.setblocking(False)\n  try: c.connect(sys.argv[1]); held.append(c)\n"
      + "  except BlockingIOError: break\nprint('full', flush=True); time.sleep(60)\n";
    const busy = spawn("python3", ["-c", fill, path], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await once(busy.stdout!, "data");
      await expect(prepareSocketPath(path)).rejects.toMatchObject({ code: "LISTEN_FAILED" });
      expect(statSync(path).isSocket()).toBe(true);
    } finally {
      busy.kill();
    }
  });

  it("refuses a socket path above the OS's 108 bytes before any signer, on the agent's side and the client's", async () => {
    // The OS cut such a path: the agent bound a socket at its first 108 bytes, in a directory never checked, left it
    // there and failed with "internal error: ENOENT … chmod" (exit 1); a client asked whatever listened there.
    const deep = join(dir, "d".repeat(60), "e".repeat(60));
    mkdirSync(deep, { recursive: true, mode: 0o700 });
    const path = join(deep, "agent.sock");
    const config = join(dir, "long.json");
    const profile = { certificate: join(dir, "no-cert.pem"), "private-key": join(dir, "no-key.pem"), "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": `arn:aws:iam::1:role/R` };
    writeFileSync(config, JSON.stringify({ profiles: { gw: profile } }), { mode: 0o600 });
    const { main } = await import("../../src/cli/main.js");
    for (const argv of [["agent", "--config", config, "--socket", path], ["credential-process", "--profile", "gw", "--config", config, "--agent", "--agent-socket", path]]) {
      let stderr = "";
      const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
      expect(await main(argv, io)).toBe(3);
      expect(stderr).toMatch(/^roles-anywhere-agent: the agent socket path \S+ is 1\d\d bytes long, above the OS limit of 108 \(use a shorter path, or reach its directory through a symbolic link in a short one\)\n$/);
    }
    expect(readdirSync(dirname(deep))).toEqual(["e".repeat(60)]);
    expect(readdirSync(deep)).toEqual([]);
  });

  it("picks the socket path from the environment, then /run/user/UID when it is the user's, then the home directory; never /tmp", () => {
    const home = () => "/home/u";
    const privateRunUser = (d: string, uid: number) => d === `/run/user/${uid}`;
    const none = () => false;
    expect(defaultAgentSocketPath({ XDG_RUNTIME_DIR: "/run/user/1000" }, 1000, home, none)).toBe("/run/user/1000/roles-anywhere-agent.sock");
    expect(defaultAgentSocketPath({ ROLES_ANYWHERE_AGENT_SOCKET: "/x/a.sock", XDG_RUNTIME_DIR: "/run/user/1000" }, 1000, home, none)).toBe("/x/a.sock");
    expect(defaultAgentSocketPath({ ROLES_ANYWHERE_AGENT_SOCKET: "", XDG_RUNTIME_DIR: "/r" }, 1000, home, none)).toBe("/r/roles-anywhere-agent.sock");
    expect(defaultAgentSocketPath({}, 1000, home, privateRunUser)).toBe("/run/user/1000/roles-anywhere-agent.sock");
    expect(defaultAgentSocketPath({}, 1000, home, none)).toBe("/home/u/.roles-anywhere-agent/agent.sock");
    expect(defaultAgentSocketPath({ TMPDIR: "/tmp" }, 1000)).not.toMatch(/^\/tmp\//);
  });

  it("has no default socket when HOME is empty or relative (never one in the working directory)", () => {
    const none = () => false;
    expect(() => defaultAgentSocketPath({}, 1000, () => "", none)).toThrow(
      expect.objectContaining({ code: "SOCKET_UNSAFE", message: "no default agent socket: HOME ('') is not an absolute path" }),
    );
    expect(() => defaultAgentSocketPath({ XDG_RUNTIME_DIR: "run" }, 1000, () => ".", none)).toThrow(/HOME \('\.'\)/);
    expect(defaultAgentSocketPath({ XDG_RUNTIME_DIR: "/run/user/1000" }, 1000, () => "", none)).toBe("/run/user/1000/roles-anywhere-agent.sock");
  });

  it("recognises systemd socket activation only for this process", () => {
    expect(systemdListenFd({ LISTEN_PID: "42", LISTEN_FDS: "1" }, 42)).toBe(3);
    expect(systemdListenFd({ LISTEN_PID: "41", LISTEN_FDS: "1" }, 42)).toBeUndefined();
    expect(systemdListenFd({ LISTEN_PID: "42", LISTEN_FDS: "0" }, 42)).toBeUndefined();
  });

  it("says where a socket-activation fd that is no socket came from, and what to do", async () => {
    const file = join(dir, "not-a-socket");
    writeFileSync(file, "");
    const fd = openSync(file, "r");
    try {
      const sources = { get: () => undefined, all: () => [] };
      await expect(startAgentServer(sources, { fd })).rejects.toMatchObject({
        code: "LISTEN_FAILED",
        message: `cannot listen on fd ${fd} (systemd socket activation: LISTEN_PID, LISTEN_FDS): EINVAL`,
        hint: "the service manager must pass an open UNIX stream socket there; unset LISTEN_PID otherwise",
      });
    } finally {
      closeSync(fd);
    }
  });

  it("stops through process.exit on SIGTERM or SIGINT during start-up or shutdown (exit handlers flush TPM objects); SIGHUP during start-up reloads once serving", async () => {
    // Before: no listener until the daemon served, nor once it was stopping (a CreateSession in flight is waited for),
    // so such a signal ended the process by its default action (exit 143), leaving the loaded TPM key in a simulator
    // or /dev/tpm0; a SIGHUP during start-up was ignored, losing a configuration changed after it was read.
    const exit = vi.spyOn(process, "exit").mockImplementation((() => undefined) as never);
    const log = vi.fn();
    const emitter = new EventEmitter();
    let listening!: (started: string) => void;
    let reloaded!: (line: string) => void;
    const reload = vi.fn((started: string) => new Promise<string>((r) => (reloaded = (line) => r(`${started}: ${line}`))));
    const shutDown = vi.fn(async () => {});
    try {
      const running = runDaemon(log, { startUp: () => new Promise<string>((r) => (listening = r)), reload, shutDown }, emitter);
      emitter.emit("SIGHUP");
      expect(exit).not.toHaveBeenCalled();
      for (const signal of ["SIGTERM", "SIGINT"] as const) emitter.emit(signal);
      expect(exit.mock.calls).toEqual([[0], [0]]);
      expect(reload).not.toHaveBeenCalled();
      listening("daemon");
      await vi.waitFor(() => expect(reload).toHaveBeenCalledWith("daemon"));
      expect(log.mock.calls.flat()).toEqual(["SIGHUP during start-up: reloading once started", "SIGTERM during start-up: stopping now", "SIGINT during start-up: stopping now"]);
      // Shutdown: the first SIGTERM waits for the reload in flight; a second one stops at once; SIGHUP is ignored.
      emitter.emit("SIGTERM");
      await vi.waitFor(() => expect(log).toHaveBeenLastCalledWith("SIGTERM: stopping"));
      emitter.emit("SIGHUP");
      emitter.emit("SIGTERM");
      expect(exit).toHaveBeenCalledTimes(3);
      expect(log.mock.calls.slice(-2).flat()).toEqual(["SIGHUP during shutdown: ignored", "SIGTERM during shutdown: stopping now"]);
      expect(shutDown).not.toHaveBeenCalled();
      reloaded("configuration reloaded");
      await running;
      expect(shutDown).toHaveBeenCalledWith("daemon");
      expect(log).toHaveBeenCalledWith("daemon: configuration reloaded");
      expect(["SIGTERM", "SIGINT", "SIGHUP"].map((s) => emitter.listenerCount(s))).toEqual([0, 0, 0]);
    } finally {
      exit.mockRestore();
    }
  });

  it("agent, serve and update listen for SIGHUP from their first step: a SIGHUP while the configuration is read does not kill them", async () => {
    // Before: nothing listened until the sources were being opened, nor between start-up and serving (serve's
    // --ecs-env-dir files): a SIGHUP there took its default action and killed the daemon; update listened only
    // once its source was open (a PIN prompt, --fail-fast's first CreateSession).
    const counts: number[] = [];
    const stopHere = () => {
      counts.push(process.listenerCount("SIGHUP"));
      return new InputError("CONFIG_INVALID", "stop here");
    };
    const { runServe } = await import("../../src/serve/run-serve.js");
    const { runAgent } = await import("../../src/agent/run-agent.js");
    const serve = { imds: true, ecs: false, allowOpenImds: false, host: "127.0.0.1", port: 0, env: {}, allowPlainHttp: false };
    const specs = async () => {
      throw stopHere();
    };
    const io = { ecsIdentity: {} as never, ecsConsumers: [], hopLimitGiven: false, log: () => {}, print: () => {} };
    await expect(runServe({ ...serve, ...io, specs })).rejects.toThrow("stop here");
    const env = new Proxy({}, { get: () => { throw stopHere(); } });
    await expect(runAgent({ profiles: [], env, log: () => {} })).rejects.toThrow("stop here");
    const { runUpdate } = await import("../../src/update/run-update.js");
    const update = { path: "/nonexistent/credentials", section: "default", once: false, log: () => {} };
    await expect(runUpdate({ ...update, settings: specs })).rejects.toThrow("stop here");
    expect(counts).toEqual([1, 1, 1]);
    expect(process.listenerCount("SIGHUP")).toBe(0);
  });

  it("wipes a profile's URI pin-value when a later profile of the config is wrong (start-up, as a SIGHUP's reload)", async () => {
    // Before: profile a's pin-value, taken out of its URI as held bytes, was left unwiped: no source owned it.
    const { runAgent } = await import("../../src/agent/run-agent.js");
    const { dir, cleanup } = makeTempDir("raa-agent-pin-");
    const made = vi.spyOn(Secret, "fromBytes");
    try {
      const profile = { "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": "arn:aws:iam::1:role/A", "private-key": "pkcs11:token=t;object=k?pin-value=1234" };
      const configPath = join(dir, "config.json");
      writeFileSync(configPath, JSON.stringify({ version: 1, profiles: { a: profile, b: { ...profile, "role-arn": undefined } } }), { mode: 0o600 });
      await expect(runAgent({ configPath, profiles: ["a", "b"], socket: join(dir, "agent.sock"), env: {}, log: () => {} }))
        .rejects.toThrow('profile "b" has no "role-arn"');
      const secrets = made.mock.results.map((r) => r.value as Secret);
      const wiped = (secret: Secret) => { try { secret.use(() => 0); return false; } catch { return true; } };
      expect(secrets.length).toBeGreaterThanOrEqual(1);
      expect(secrets.map(wiped)).toEqual(secrets.map(() => true));
    } finally {
      made.mockRestore();
      cleanup();
    }
  });

  it("takes a SIGHUP the launcher held before the daemon's modules loaded (holdSighup) as one during start-up", async () => {
    // Before: the daemon commands had no listener until runDaemon, ~150 ms after Node's start: a SIGHUP then
    // (systemd's ExecReload right after start) killed the process (exit 129).
    const before = process.listenerCount("SIGHUP");
    holdSighup();
    process.emit("SIGHUP");
    const log = vi.fn();
    const reload = vi.fn(async (started: string) => `${started}: reloaded`);
    let listening!: (started: string) => void;
    const running = runDaemon(log, { startUp: () => new Promise<string>((r) => (listening = r)), reload });
    expect(process.listenerCount("SIGHUP")).toBe(before + 1); // runDaemon's own: the launcher's is gone
    expect(log.mock.calls.flat()).toEqual(["SIGHUP during start-up: reloading once started"]);
    listening("daemon");
    await vi.waitFor(() => expect(log).toHaveBeenCalledWith("daemon: reloaded"));
    process.emit("SIGTERM");
    await running;
    expect(reload).toHaveBeenCalledTimes(1);
    expect(process.listenerCount("SIGHUP")).toBe(before);
  });

  it("turns SIGHUP into a reload and SIGTERM into a stop", async () => {
    const emitter = new EventEmitter();
    const reload = vi.fn(async () => "configuration reloaded");
    const log = vi.fn();
    const running = runDaemon(log, { reload }, emitter);
    emitter.emit("SIGHUP");
    emitter.emit("SIGTERM");
    await running;
    expect(reload).toHaveBeenCalledTimes(1);
    expect(log.mock.calls.flat().sort()).toEqual(["SIGTERM: stopping", "configuration reloaded"]);
    expect(emitter.listenerCount("SIGHUP")).toBe(0);
  });

  it("runs SIGHUP reloads one after another, and logs a failed one as kept configuration", async () => {
    // Mutants starting a reload beside the one running, or dropping the failed reload's words, survived.
    const emitter = new EventEmitter();
    const log = vi.fn();
    const finish: Array<() => void> = [];
    let running = 0;
    const reload = vi.fn(() => {
      running++;
      expect(running).toBe(1);
      return new Promise<string>((resolve, reject) => finish.push(() => {
        running--;
        if (finish.length === 1) reject(new InputError("CONFIG_INVALID", "config /c.json: not JSON"));
        else resolve("configuration reloaded");
      }));
    });
    const daemon = runDaemon(log, { reload }, emitter);
    emitter.emit("SIGHUP");
    emitter.emit("SIGHUP");
    await vi.waitFor(() => expect(finish).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 10));
    expect(reload).toHaveBeenCalledTimes(1);
    finish[0]!();
    await vi.waitFor(() => expect(finish).toHaveLength(2));
    finish[1]!();
    await vi.waitFor(() => expect(log).toHaveBeenCalledWith("configuration reloaded"));
    emitter.emit("SIGTERM");
    await daemon;
    expect(log.mock.calls.flat()).toEqual([
      "reload failed, keeping the previous configuration: config /c.json: not JSON",
      "configuration reloaded",
      "SIGTERM: stopping",
    ]);
  });
});

describe("the agent's log lines", () => {
  it("are printable single lines: a line break or ESC in --socket or a config file's path forges no log line", async () => {
    // Before: "agent listening on /tmp/…/a" then "FAKE LINE for profiles: p", and the refresh failures split likewise.
    const { main } = await import("../../src/cli/main.js");
    const { dir, cleanup } = makeTempDir("raa-agent-log-");
    const config = join(dir, "config.json");
    const certificate = join(dir, "missing\nFAKE CERT\u001b[2J.pem");
    const profile = { certificate, "private-key": join(dir, "k.pem"), "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": "arn:aws:iam::1:role/r" };
    writeFileSync(config, JSON.stringify({ profiles: { p: profile } }), { mode: 0o600 });
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
    try {
      const code = main(["agent", "--config", config, "--socket", join(dir, "a\nFAKE LINE")], io);
      await vi.waitFor(() => expect(stderr).toMatch(/for profiles: p\n/), { timeout: 5_000 });
      process.emit("SIGTERM");
      expect(await code).toBe(0);
      expect(stderr).toContain(`agent listening on ${join(dir, "a FAKE LINE")} for profiles: p\n`);
      expect(stderr).toContain(`certificate file ${join(dir, "missing FAKE CERT [2J.pem")} does not exist`);
      expect(stderr.split("\n").filter((line) => /^FAKE|\u001b/.test(line))).toEqual([]);
    } finally {
      cleanup();
    }
  });
});

describe("the daemons' path flags given empty (an unset \"$VAR\")", () => {
  it.each([
    [["agent", "--socket", ""], "socket"],
    [["agent", "--socket="], "socket"],
    [["agent", "--config", ""], "config"],
    [["serve", "--ecs", "--ecs-token-dir", ""], "ecs-token-dir"],
    [["serve", "--ecs", "--ecs-env-dir", ""], "ecs-env-dir"],
    [["serve", "--ecs", "--tls-certificate", "", "--tls-key", ""], "tls-certificate"],
  ])("%j is a usage error, not the default path", async (argv, flag) => {
    // Before: `agent --socket ""` listened on the default socket; `serve --ecs-token-dir ""` made random tokens.
    const { main } = await import("../../src/cli/main.js");
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
    expect(await main(argv, io)).toBe(2);
    expect(stderr).toBe(`roles-anywhere-agent: --${flag} is empty (give a value, or leave the flag out for the default)\n`);
  });
});
