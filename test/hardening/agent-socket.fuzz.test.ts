/**
 * The agent's protocol on its UNIX socket, fuzzed both ways. Server: raw requests of valid structure with hostile
 * detail (profile names, ARN queries, methods, bodies, truncation, garbage, huge values, several requests on one
 * connection) against a model of the documented API; the right profile's credentials or the documented error, never
 * another profile's, and the real client is served after each case. Client: `fetchFromAgent` against an agent that
 * answers mutated responses; it returns the answer's credentials, undefined (404) or an AgentError, nothing else.
 */
import { CONDITION_NAMES } from "../../src/agent/request-conditions.js";
import fc from "fast-check";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentServer, type RunningAgentServer } from "../../src/agent/agent-server.js";
import { fetchFromAgent } from "../../src/agent/client.js";
import { prepareSocketPath } from "../../src/agent/socket-safety.js";
import type { SourceRegistry } from "../../src/credentials/source-registry.js";
import type { IssuedCredentials } from "../../src/rolesanywhere/credentials.js";
import type { RoleArn } from "../../src/arn.js";
import { AgentError, ERROR_CODES } from "../../src/errors.js";
import { makeTempDir } from "../helpers/pki.js";
import { standInSettings } from "../helpers/stand-in.js";
import { exchange, mutationOf, parsesOrAgentError, percentDecodedOrSame, printTallies, registryIssuing, runs, SEED, type WireResponse } from "./fuzz-support.js";

const PROFILES = ["gateway", "reader", "broken", "v1.2", "a_b-C"] as const;
const SESSION_NAMES: Record<string, string | undefined> = { gateway: "gw-1" };
const TA = standInSettings().session.trustAnchorArn;
const PA = standInSettings().session.profileArn;
const roleArn = (p: string) => `arn:aws:iam::1:role/${p}`;
const expiration = new Date(Date.now() + 3600_000);
const issued = (p: string): IssuedCredentials => ({
  accessKeyId: `ASIA${p.replace(/\W/g, "").toUpperCase()}`,
  secretAccessKey: `secret-${p}-${"s".repeat(20)}`,
  sessionToken: `session-${p}-${"t".repeat(20)}`,
  expiration,
});
const SECRETS = PROFILES.flatMap((p) => [issued(p).secretAccessKey, issued(p).sessionToken]);

const { dir, cleanup } = makeTempDir("raa-fuzz-agent-");
const socketPath = join(dir, "run", "agent.sock");
let registry: SourceRegistry;
let server: RunningAgentServer;
const tally = { connections: 0, requests: 0, byStatus: new Map<number, number>() };

beforeAll(async () => {
  registry = registryIssuing(issued);
  await registry.apply(
    PROFILES.map((name) => ({
      name,
      settings: { ...standInSettings(), session: { ...standInSettings().session, roleArn: roleArn(name) as RoleArn, ...(SESSION_NAMES[name] ? { roleSessionName: SESSION_NAMES[name] } : {}) } },
    })),
  );
  await prepareSocketPath(socketPath);
  server = await startAgentServer(registry, { path: socketPath });
}, 30_000);
afterAll(async () => {
  await server.close();
  await registry.closeAll();
  cleanup();
  console.log(`FUZZ agent socket (seed ${SEED}): ${tally.connections} connections, ${tally.requests} requests, by status ${JSON.stringify(Object.fromEntries([...tally.byStatus].sort()))}`);
  printTallies("agent socket client");
});

// ---- the generator ------------------------------------------------------------------------------------------

const name = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROFILES).map(encodeURIComponent) },
  fc.constantFrom("Gateway", "GATEWAY", "nosuch", "gate%77ay", "%67ateway", "gateway%2F", "gateway/", "gateway/x", "..", "%2e%2e", "../credentials/gateway",
    "%2e%2e%2fgateway", "__proto__", "constructor", "toString", "hasOwnProperty", "", "%", "%zz", "%00", "gateway%00", "v1%2E2", "v1.2.", "a_b-c", "status",
    "gateway?x", "gateway#f", "gateway;v=1", "%C3%A9", "%FF", `${"g".repeat(3000)}`),
);
const arnParams = fc.record(
  {
    ta: fc.constantFrom(TA, TA, TA, `${TA}x`, TA.toUpperCase(), "", encodeURIComponent(TA)),
    pa: fc.constantFrom(PA, PA, PA, `${PA}/`, ""),
    role: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PROFILES).map(roleArn) }, fc.constantFrom("", roleArn("nosuch"), roleArn("Gateway"), "arn:aws:iam::2:role/gateway")),
    session: fc.constantFrom(undefined, undefined, "gw-1", "gw-2", "", "GW-1"),
    extra: fc.constantFrom("", "", "&unknown=1", "&role-arn=arn:aws:iam::1:role/reader", "&trust-anchor-arn=", "&__proto__=x", "&=&&"),
    drop: fc.constantFrom(-1, -1, -1, 0, 1, 2),
  },
).map(({ ta, pa, role, session, extra, drop }) => {
  const pairs: [string, string][] = [["trust-anchor-arn", ta], ["profile-arn", pa], ["role-arn", role]];
  if (drop >= 0) pairs.splice(drop, 1);
  if (session !== undefined) pairs.push(["role-session-name", session]);
  return `/v1/credentials?${new URLSearchParams(pairs).toString()}${extra}`;
});
const target = fc.oneof(
  { weight: 4, arbitrary: name.map((n) => `/v1/credentials/${n}`) },
  { weight: 2, arbitrary: arnParams },
  fc.constantFrom("/v1/status", "/v1/status/", "/v1/status?x", "/V1/status", "/", "/v1/credentials", "/v1/credentials/", "/v1/credentials/gateway/../reader",
    "/v1/status/../credentials/reader", "/v1//credentials/gateway", "//agent/v1/credentials/gateway", "//[x", "/v1/credentials/%2e%2e/status", "*"),
);
type Framing = "plain" | "cl0" | "body" | "chunked" | "hugeHeader" | "noHost";
interface AgentRequest {
  readonly method: string;
  readonly target: string;
  readonly framing: Framing;
  readonly junk: readonly (readonly [string, string])[];
}
const request = fc.record({
  method: fc.oneof({ weight: 12, arbitrary: fc.constant("GET") }, fc.constantFrom("HEAD", "POST", "PUT", "DELETE")),
  target,
  framing: fc.oneof({ weight: 10, arbitrary: fc.constant<Framing>("plain") }, fc.constantFrom<Framing>("cl0", "body", "chunked", "hugeHeader", "noHost")),
  junk: fc.array(fc.constantFrom(["X-Unknown", "1"] as const, ["Accept", "application/json"] as const, ["Authorization", "Bearer x"] as const, ["Content-Type", "application/json"] as const), { maxLength: 2 }),
});
/** One connection: 1–4 requests, then possibly garbage, a truncated request, or nothing. */
const connection = fc.record({
  requests: fc.array(request, { minLength: 1, maxLength: 4 }),
  tail: fc.oneof({ weight: 6, arbitrary: fc.constant("") }, fc.constantFrom("GET /v1/credentials/gateway HTTP/1.1\r\nHost: agent\r\n", "GET /v1/status HT", "\x00\xff{\"profile\":\"gateway\"}\r\n\r\n", "GET /v1/credentials/gateway HTTP/1.1\r\nHost: agent\r\nContent-Length: 100\r\n\r\n{\"a\":")),
});

function encode(r: AgentRequest, last: boolean): string {
  const headers: string[] = r.framing === "noHost" ? [] : ["Host: agent"];
  for (const [n, v] of r.junk) headers.push(`${n}: ${v}`);
  let body = "";
  if (r.framing === "cl0") headers.push("Content-Length: 0");
  if (r.framing === "body") (headers.push("Content-Length: 24"), (body = '{"profile":"reader",xx}}'));
  if (r.framing === "chunked") (headers.push("Transfer-Encoding: chunked"), (body = '5\r\n{"a":\r\n0\r\n\r\n'));
  if (r.framing === "hugeHeader") headers.push(`X-Huge: ${"h".repeat(20_000)}`);
  if (last) headers.push("Connection: close");
  return [`${r.method} ${r.target} HTTP/1.1`, ...headers, "", body].join("\r\n");
}

// ---- the model ----------------------------------------------------------------------------------------------

type Expected = { status: number; credentialsOf?: string; status200?: true; closes?: true };

/** The documented API (agent-server.ts), the target read as a WHATWG URL relative to http://agent. */
function expected(r: AgentRequest): Expected {
  if (r.framing === "hugeHeader") return { status: 431, closes: true };
  if (r.framing === "noHost") return { status: 400, closes: true };
  if (r.method !== "GET") return { status: 405 };
  const url = URL.parse(r.target, "http://agent");
  if (!url) return { status: 400 };
  if (url.pathname === "/v1/status") return { status: 200, status200: true };
  // A query parameter the agent does not know (a newer client's condition) on either credentials form: 404.
  const known = url.pathname === "/v1/credentials" ? ["trust-anchor-arn", "profile-arn", "role-arn", "role-session-name", ...CONDITION_NAMES] : [];
  const credentialsPath = url.pathname === "/v1/credentials" || url.pathname.startsWith("/v1/credentials/");
  if (credentialsPath && [...url.searchParams.keys()].some((k) => !known.includes(k))) return { status: 404 };
  let profile: string | undefined;
  if (url.pathname.startsWith("/v1/credentials/")) {
    profile = PROFILES.find((p) => p === percentDecodedOrSame(url.pathname.slice("/v1/credentials/".length)));
  } else if (url.pathname === "/v1/credentials") {
    const q = url.searchParams;
    const [ta, pa, role] = ["trust-anchor-arn", "profile-arn", "role-arn"].map((k) => q.get(k));
    if (!ta || !pa || !role) return { status: 400 };
    const session = q.get("role-session-name") || undefined;
    profile = PROFILES.find((p) => ta === TA && pa === PA && role === roleArn(p) && SESSION_NAMES[p] === session);
  }
  if (profile === undefined) return { status: 404 };
  return profile === "broken" ? { status: 503 } : { status: 200, credentialsOf: profile };
}

function checkOne(r: AgentRequest, got: WireResponse, shown: string): void {
  const want = expected(r);
  tally.requests++;
  tally.byStatus.set(got.status, (tally.byStatus.get(got.status) ?? 0) + 1);
  expect(got.status, shown).toBe(want.status);
  const leaked = SECRETS.filter((s) => got.headers.includes(s) || got.body.includes(s));
  if (want.credentialsOf === undefined) {
    expect(leaked, `${shown}: credentials in a ${got.status} answer`).toEqual([]);
  } else if (r.method === "GET") {
    const own = issued(want.credentialsOf);
    const doc = JSON.parse(got.body) as Record<string, unknown>;
    expect(doc, shown).toMatchObject({ Version: 1, AccessKeyId: own.accessKeyId, SecretAccessKey: own.secretAccessKey, SessionToken: own.sessionToken });
    expect(leaked.sort(), shown).toEqual([own.secretAccessKey, own.sessionToken].sort());
  }
  if (want.status200) {
    const doc = JSON.parse(got.body) as { profiles: { name: string }[] };
    expect(doc.profiles.map((p) => p.name).sort(), shown).toEqual([...PROFILES].sort());
  }
}

describe(`agent socket: the server against a model (seed ${SEED})`, () => {
  it("answers each request of each connection as the model says, and the real client after it", async () => {
    await fc.assert(
      fc.asyncProperty(connection, async ({ requests, tail }) => {
        const text = requests.map((r, i) => encode(r, i === requests.length - 1 && tail === "")).join("") + tail;
        const shown = JSON.stringify(text.length > 600 ? `${text.slice(0, 600)}…` : text);
        const responses = await exchange({ path: socketPath }, Buffer.from(text, "latin1"), requests.map((r) => r.method === "HEAD"));
        tally.connections++;
        // Requests are answered in order up to the first that closes the connection. A parse error (a header too
        // large, garbage, a request cut off by the end of the connection) is answered at once by Node, ahead of the
        // answers still being made: then some of those are missing and its 400/431 comes last.
        const closing = requests.findIndex((r) => expected(r).closes);
        const answered = closing < 0 ? requests.length : closing + 1;
        // Node reads past a request that closes the connection: a header too large after it still preempts.
        const preempted = tail !== "" || requests.some((r) => r.framing === "hugeHeader");
        // A tail whose headers are complete (its body cut off) is a request for the gateway's credentials.
        const tailAsks = tail.includes("\r\n\r\n") && tail.startsWith("GET /v1/credentials/gateway ");
        responses.forEach((got, i) => {
          if (i < answered && got.status === expected(requests[i]!).status) return checkOne(requests[i]!, got, `${shown} request ${i}`);
          expect(preempted, `${shown}: answer ${i} (${got.status}) is none of the requests'`).toBe(true);
          const leaked = SECRETS.filter((s) => got.body.includes(s));
          if (got.status === 200 && tailAsks && i >= answered) expect(leaked.sort(), shown).toEqual([issued("gateway").secretAccessKey, issued("gateway").sessionToken].sort());
          else expect([[400, 431].includes(got.status), leaked], `${shown}: answer ${i}`).toEqual([true, []]);
        });
        if (!preempted) expect(responses.length, shown).toBe(answered);
        else expect(responses.length, shown).toBeGreaterThan(0);
        const good = await fetchFromAgent(socketPath, "gateway");
        expect(good?.accessKeyId, `the real client after ${shown}`).toBe(issued("gateway").accessKeyId);
      }),
      { numRuns: runs(1500) },
    );
  }, 120_000);
});

describe(`agent socket: the client against a hostile agent (seed ${SEED})`, () => {
  const hostilePath = join(dir, "hostile", "agent.sock");
  let hostile: Server;
  let answer: Buffer = Buffer.alloc(0);
  beforeAll(async () => {
    await prepareSocketPath(hostilePath);
    hostile = createServer((socket) => {
      let seen = "";
      socket.on("data", (d: Buffer) => {
        seen += d.toString("latin1");
        if (seen.includes("\r\n\r\n")) socket.end(answer);
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => hostile.listen(hostilePath, resolve));
  });
  afterAll(() => new Promise<void>((resolve) => hostile.close(() => resolve())));

  const response = (status: string, body: string, extra = "") => `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const own = issued("gateway");
  const good = { Version: 1, AccessKeyId: own.accessKeyId, SecretAccessKey: own.secretAccessKey, SessionToken: own.sessionToken, Expiration: expiration.toISOString().replace(/\.\d+Z$/, "Z") };
  const VALID = [
    response("200 OK", JSON.stringify(good)),
    response("503 Service Unavailable", JSON.stringify({ Code: "SERVICE_UNAVAILABLE", Message: "gateway: CreateSession answered 503" })),
    response("404 Not Found", JSON.stringify({ Code: "ProfileNotFound", Message: "the agent has no profile named \"gateway\"" })),
  ];
  const fieldValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom("", "2000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "not a date", "x".repeat(100_000), 2, "1", null));
  const answers = fc.oneof(
    fc.constantFrom(...VALID).chain((v) => mutationOf(Buffer.from(v, "latin1"))),
    fc.tuple(fc.constantFrom(...Object.keys(good)), fieldValue).map(([k, v]) => Buffer.from(response("200 OK", JSON.stringify({ ...good, [k]: v })))),
    fc.tuple(fc.constantFrom("200 OK", "503 x", "500 x", "404 x", "401 x", "302 Found", "100 Continue", "999 x"), fc.oneof(fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.string({ maxLength: 40 })))
      .map(([st, body]) => Buffer.from(response(st, body))),
    fc.constantFrom(
      Buffer.from(response("200 OK", JSON.stringify({ ...good, __proto__: { Version: 1 }, constructor: 1, Unknown: "x" }))),
      Buffer.from(response("503 x", JSON.stringify({ Code: "toString", Message: "m" }))),
      Buffer.from(response("503 x", JSON.stringify({ Code: "__proto__", Message: { a: 1 } }))),
      Buffer.from(response("503 x", JSON.stringify({ Code: "SERVICE_UNAVAILABLE", Message: "one\ntwo\r\n\u001b[31mred\u2028" }))),
      Buffer.from(response("503 x", JSON.stringify({ Code: "PIN_INCORRECT", Message: "m".repeat(1 << 20) }))),
      Buffer.from(`HTTP/1.1 200 OK\r\n\r\n${JSON.stringify(good)}${JSON.stringify(good)}`),
      Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"),
      Buffer.alloc(0),
      Buffer.from(response("200 OK", JSON.stringify({ ...good, AccessKeyId: "A".repeat(1 << 20) }))),
    ),
  );

  it("returns the answer's credentials, undefined for 404, or an AgentError", async () => {
    await fc.assert(
      fc.asyncProperty(answers, async (bytes) => {
        answer = bytes;
        let got: Awaited<ReturnType<typeof fetchFromAgent>>;
        await parsesOrAgentError("agent client: hostile answer", async () => {
          try {
            got = await fetchFromAgent(hostilePath, "gateway");
          } catch (error) {
            // The agent's code is kept only when it is one of ours (its exit code follows); its message on one bounded,
            // printable line.
            if (error instanceof AgentError) {
              const line = error.toOneLine();
              expect([Object.hasOwn(ERROR_CODES, error.code), /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(line), line.length <= 4_100], line.slice(0, 200)).toEqual([true, false, true]);
            }
            throw error;
          }
        });
        if (got === undefined) return;
        const text = bytes.toString("utf8");
        expect(/^HTTP\/1\.[01] 200/.test(text), "credentials from a non-200 answer").toBe(true);
        const body = JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>;
        expect({ id: got.accessKeyId, secret: got.secretAccessKey, token: got.sessionToken }).toEqual({ id: body["AccessKeyId"], secret: body["SecretAccessKey"], token: body["SessionToken"] });
        expect(got.expiration.getTime()).toBeGreaterThan(Date.now());
      }),
      { numRuns: runs(1000) },
    );
  }, 120_000);
});
