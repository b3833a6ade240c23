/**
 * runChecks' rows after the key: the agent socket, the endpoint (DNS, transport, reachability, clock) and
 * CreateSession, against loopback servers, with a key and certificate that pass every check before them.
 */
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { runChecks, type CheckRow } from "../../src/doctor/checks.js";
import type { CreateSessionOptions } from "../../src/rolesanywhere/types.js";
import { createCa, issueLeaf } from "../helpers/pki.js";
import { sessionParams, startEndpoint, type ScriptedEndpoint } from "../rolesanywhere/support.js";

// raa-doctor.invalid fails as RFC 6761 has resolvers fail it, without asking the host's DNS server: a CI host whose
// resolver is slow or unreachable answered EAI_AGAIN (after seconds), not ENOTFOUND. Every other name: the real lookup.
vi.mock("node:dns/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:dns/promises")>();
  const lookup = ((host: string, ...rest: unknown[]) => {
    // A DNS answer for a localhost name (RFC 6761: loopback) naming another host: what a request would not use.
    if (host === "raa-doctor.localhost") return Promise.resolve([{ address: "192.0.2.1", family: 4 }]);
    if (host !== "raa-doctor.invalid") return (real.lookup as (...a: unknown[]) => unknown)(host, ...rest);
    const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { errno: -3008, code: "ENOTFOUND", syscall: "getaddrinfo", hostname: host });
    return Promise.reject(error);
  }) as typeof real.lookup;
  return { ...real, default: { ...real, lookup }, lookup };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-rows-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = createCa(join(dir, "ca"), { name: "Doctor Rows CA" });
const leaf = issueLeaf(ca, dir, { name: "doctor-rows-leaf" });
chmodSync(leaf.keyPath, 0o600);

/** An endpoint whose host never resolves (.invalid, RFC 6761): the rows after DNS are skipped. */
const UNRESOLVED = "http://raa-doctor.invalid:9";

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const checks = async (endpoint: CreateSessionOptions, more: { agentSocket?: string; createSession?: boolean } = {}) => {
  const rows = await runChecks(
    {
      signer: { certificate: leaf.certPath, privateKey: leaf.keyPath },
      session: sessionParams(),
      endpoint: { maxAttempts: 1, timeoutMs: 5_000, ...endpoint },
      agentSocket: more.agentSocket ?? join(dir, "no-agent.sock"),
      createSession: more.createSession ?? false,
      warningDays: 0,
      env: {},
    },
    () => undefined,
  );
  return (name: string): CheckRow | undefined => rows.find((r) => r.name === name);
};

/** A loopback endpoint: GET / answers 200 with `date`, POST /sessions the AccessDenied Roles Anywhere gives. */
async function endpointAt(date: Date): Promise<ScriptedEndpoint> {
  const server = await startEndpoint([
    (req, res) => {
      res.sendDate = false;
      const denied = { message: "Access denied: no such trust anchor" };
      const headers = { Date: date.toUTCString(), "Content-Type": "application/json" };
      res.writeHead(req.method === "POST" ? 403 : 200, headers);
      res.end(req.method === "POST" ? JSON.stringify(denied) : "{}");
    },
  ]);
  open.push(server);
  return server;
}

describe("runChecks: the endpoint's rows", () => {
  it("a host that does not resolve: the DNS row fails with the errno; reachability, clock not tried", async () => {
    const row = await checks({ endpoint: UNRESOLVED });
    expect(row("DNS")).toMatchObject({
      outcome: "fail",
      detail: "raa-doctor.invalid does not resolve (ENOTFOUND)",
      hint: "check /etc/resolv.conf, the host name, or HTTPS_PROXY",
    });
    expect([row("reachability")?.outcome, row("clock")?.outcome]).toEqual(["skip", "skip"]);
  });

  it("a localhost name: the DNS row gives the loopback addresses requests use, not what DNS would answer", async () => {
    const server = await endpointAt(new Date());
    const row = await checks({ endpoint: `http://raa-doctor.localhost:${server.port}` });
    expect(row("DNS")).toMatchObject({ outcome: "pass", detail: "raa-doctor.localhost → 127.0.0.1, ::1 (a localhost name: loopback, not looked up)" });
    expect(row("reachability")).toMatchObject({ outcome: "pass" });
    expect(server.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("a transport that cannot be set up (CA bundle missing): the endpoint row fails, nothing after it", async () => {
    const caBundle = join(dir, "no-such-bundle.pem");
    const row = await checks({ endpoint: "https://127.0.0.1:9", caBundle });
    expect(row("endpoint")).toMatchObject({ outcome: "fail", detail: expect.stringContaining(caBundle) });
    expect(row("DNS")).toBeUndefined();
  });

  it("a Date header 10 minutes ahead: the clock row fails, and CreateSession is not tried", async () => {
    const server = await endpointAt(new Date(Date.now() + 10 * 60_000));
    const row = await checks({ endpoint: server.url }, { createSession: true });
    const reached = expect.stringMatching(/^plain HTTP, HTTP 200 in \d+ ms$/);
    expect(row("reachability")).toMatchObject({ outcome: "pass", detail: reached });
    expect(row("clock")).toMatchObject({
      outcome: "fail",
      detail: expect.stringMatching(/^this machine's clock is (9 min 5\d s|10 min( \d+ s)?) behind/),
      hint: "fix the clock (NTP): signatures more than 5 minutes off are refused",
    });
    expect(row("CreateSession")).toMatchObject({ outcome: "skip", detail: "not tried: fix the failures above first" });
    expect(server.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("without createSession no session is asked for, even when every check passes (was never checked)", async () => {
    const server = await endpointAt(new Date());
    const row = await checks({ endpoint: server.url });
    expect(row("clock")).toMatchObject({ outcome: "pass" });
    expect(row("CreateSession")).toMatchObject({ outcome: "skip", detail: "not tried", hint: expect.stringMatching(/^add --create-session/) });
    expect(server.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("CreateSession refused: its row fails with the service's error", async () => {
    const server = await endpointAt(new Date());
    const row = await checks({ endpoint: server.url }, { createSession: true });
    expect(row("clock")).toMatchObject({ outcome: "pass" });
    const denied = expect.stringContaining("Access denied: no such trust anchor");
    expect(row("CreateSession")).toMatchObject({ outcome: "fail", detail: denied });
    expect(server.requests.map((r) => r.method)).toEqual(["GET", "POST"]);
  });
});

const AGENT = "agent socket";

describe("runChecks: the agent socket's row", () => {
  const listen = async (path: string): Promise<Server> => {
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return server;
  };

  it("a socket that an agent serves passes; one left behind with nobody listening is skipped", async () => {
    const sockets = join(dir, "sockets");
    mkdirSync(sockets, { mode: 0o700 });
    const live = join(sockets, "agent.sock");
    const server = await listen(live);
    open.push(server);
    // A second name for the socket: it stays when the server is closed (which removes the first).
    const stale = join(sockets, "stale.sock");
    linkSync(live, stale);
    const agentRow = async (agentSocket: string) => (await checks({ endpoint: UNRESOLVED }, { agentSocket }))(AGENT);
    expect(await agentRow(live)).toMatchObject({
      outcome: "pass",
      detail: `${live}: served by this user, private directory`,
    });
    await new Promise((resolve) => server.close(resolve));
    expect(await agentRow(stale)).toMatchObject({
      outcome: "skip",
      detail: `${stale} exists but no agent answers`,
    });
    // No socket at all (credential-process then signs by itself): a skip that says so, not "exists".
    const none = join(sockets, "none.sock");
    expect(await agentRow(none)).toMatchObject({ outcome: "skip", detail: `no agent socket at ${none}` });
  });

  it("a socket path the agent could not use (longer than the OS allows): the row fails with why", async () => {
    let deep = join(dir, "d".repeat(60));
    mkdirSync(join(deep, "e".repeat(60)), { recursive: true });
    deep = join(deep, "e".repeat(60), "agent.sock");
    writeFileSync(deep, "");
    const row = (await checks({ endpoint: UNRESOLVED }, { agentSocket: deep }))("agent socket");
    expect(row).toMatchObject({ outcome: "fail", detail: expect.stringMatching(/above the OS limit of 10\d$/) });
    expect(row?.error?.code).toBe("SOCKET_UNSAFE");
  });
});
