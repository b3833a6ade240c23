/**
 * serve's IMDSv2 and ECS request handling, fuzzed over real HTTP on loopback: requests of valid structure with
 * hostile detail (methods, targets, token headers, Host, browser headers, framing), written as raw bytes. The
 * oracle is a model: from the request alone it says what the answer must be (status, and whose credentials), and
 * no answer holds a secret or a token it was not asked for. After each case a good request must still be served.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCredentialServer, type RunningCredentialServer } from "../../src/serve/credential-server.js";
import { ecsConsumers, type EcsConsumer } from "../../src/serve/ecs-consumers.js";
import { ImdsTokenStore } from "../../src/serve/imds-tokens.js";
import type { SourceRegistry } from "../../src/credentials/source-registry.js";
import type { IssuedCredentials } from "../../src/rolesanywhere/credentials.js";
import type { RoleArn } from "../../src/arn.js";
import { standInSettings } from "../helpers/stand-in.js";
import { exchange, percentDecodedOrSame, registryIssuing, runs, SEED, type WireResponse } from "./fuzz-support.js";

const ROLES = ["gateway", "reader", "unicode", "broken"] as const;
const expiration = new Date(Date.now() + 3600_000);
const issued = (role: string): IssuedCredentials => ({
  accessKeyId: `ASIA${role.toUpperCase()}`,
  secretAccessKey: `secret-${role}-${"s".repeat(20)}`,
  sessionToken: role === "unicode" ? "token-\u00e9\u4e2d\u{1f511}" : `session-${role}-${"t".repeat(20)}`,
  expiration,
});
const SECRETS = ROLES.flatMap((r) => [issued(r).secretAccessKey, issued(r).sessionToken]);

const consumers: EcsConsumer[] = [
  { name: "app", role: "gateway", token: "app-token-Qm9vZ2llV29vZ2llMTIzNDU2Nzg5MGFiY2RlZg" },
  { name: "backup", role: "reader", token: "backup-token-WXl6enkxMjM0NTY3ODkwYWJjZGVmZ2hpams" },
  { name: "orphan", role: "gone", token: "orphan-token-T3JwaGFuMTIzNDU2Nzg5MGFiY2RlZmdoaWo" },
  { name: "flaky", role: "broken", token: "flaky-token-Rmxha3kxMjM0NTY3ODkwYWJjZGVmZ2hpams" },
];

let registry: SourceRegistry;
/** Both endpoints (most cases), IMDS alone, ECS alone; each with the IMDS tokens it issued (TTL ≥ 3600 s). */
interface Endpoint {
  readonly server: RunningCredentialServer;
  readonly port: number;
  readonly imds: boolean;
  readonly ecs: boolean;
  readonly live: string[];
}
const endpoints: Endpoint[] = [];
let port: number;
/** Every endpoint's valid IMDS tokens (each valid only where it was issued), one known expired, one forged. */
const live: string[] = [];
let expired: string;
let forged: string;
const seenTokens = new Set<string>();
const tally = { cases: 0, byStatus: new Map<number, number>() };

beforeAll(async () => {
  registry = registryIssuing(issued);
  await registry.apply(ROLES.map((name) => ({ name, settings: { ...standInSettings(), session: { ...standInSettings().session, roleArn: `arn:aws:iam::1:role/${name}` as RoleArn } } })));
  const put = async (at: number, ttl: string) => (await exchange({ port: at }, wire("PUT", "/latest/api/token", [["Host", `127.0.0.1:${at}`], ["X-aws-ec2-metadata-token-ttl-seconds", ttl]])))[0]!.body;
  for (const [imds, ecs] of [[true, true], [true, false], [false, true]] as const) {
    const server = await startCredentialServer({
      roles: (role) => registry.get(role),
      ...(imds ? { imds: { defaultRole: () => registry.names()[0], allowWithEcs: true } } : {}),
      ...(ecs ? { ecs: { consumers: ecsConsumers(consumers) } } : {}),
      host: "127.0.0.1",
      port: 0,
    });
    const tokens = imds ? [await put(server.port, "21600"), await put(server.port, "3600")] : [];
    endpoints.push({ server, port: server.port, imds, ecs, live: tokens });
    live.push(...tokens);
  }
  port = endpoints[0]!.port;
  expired = await put(port, "1");
  const issuedBy = Date.now();
  forged = new ImdsTokenStore().issue(21600);
  // Waiting for a token to expire (not racing a timer): it was issued before `issuedBy`, and is checked against the
  // clock when used, after this.
  while (Date.now() <= issuedBy + 1100) await new Promise((r) => setTimeout(r, 100));
  for (const t of [...live, expired, forged]) seenTokens.add(t);
}, 30_000);
afterAll(async () => {
  for (const e of endpoints) await e.server.close();
  await registry.closeAll();
  console.log(`FUZZ serve (seed ${SEED}): ${tally.cases} cases, by status ${JSON.stringify(Object.fromEntries([...tally.byStatus].sort()))} (each as the model said if the test passed)`);
});

type Header = readonly [string, string];
interface Case {
  readonly endpoint: Endpoint;
  readonly method: string;
  readonly target: string;
  readonly headers: readonly Header[];
  readonly body: string;
}

function wire(method: string, target: string, headers: readonly Header[], body = ""): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, ...headers.map(([n, v]) => `${n}: ${v}`), "Connection: close", "", ""];
  return Buffer.from(lines.join("\r\n") + body, "latin1");
}

// ---- the generator ------------------------------------------------------------------------------------------

const TOKEN_PATH = "/latest/api/token";
const ROLES_PATH = "/latest/meta-data/iam/security-credentials";
const ECS_PATH = "/v1/credentials";

const flipCase = (s: string, i: number) => s.slice(0, i) + (s[i] === s[i]!.toUpperCase() ? s[i]!.toLowerCase() : s[i]!.toUpperCase()) + s.slice(i + 1);
const nameCase = (name: string) => fc.constantFrom(name, name.toLowerCase(), name.toUpperCase(), flipCase(name, 0));

const roleSegment = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...ROLES) }, fc.constantFrom(
  "nosuch", "gone", "Gateway", "GATEWAY", "%67ateway", "gate%77ay", "gateway%2F", "%2Fgateway", "..", "%2e%2e", "%2E%2E",
  "..%2fgateway", "../gateway", "./gateway", "gateway/..", "__proto__", "constructor", "toString", "hasOwnProperty", "%", "%zz", "%E9", "%C3%A9",
  "gateway%00", "gateway%20", "gateway;x", "gateway#frag", "", "%u0067ateway", "gateway%2e", "\u00e9",
));
const path = fc.oneof(
  { weight: 3, arbitrary: roleSegment.map((r) => `${ROLES_PATH}/${r}`) },
  { weight: 2, arbitrary: fc.constantFrom(ECS_PATH, `${ECS_PATH}/`) },
  fc.constantFrom(TOKEN_PATH, `${TOKEN_PATH}/`, `${TOKEN_PATH}/x`, `${TOKEN_PATH}x`, ROLES_PATH, `${ROLES_PATH}/`, `${ROLES_PATH}x`, ECS_PATH, `${ECS_PATH}/`,
    `${ECS_PATH}/gateway`, `${ECS_PATH}x`, "/", "/latest/meta-data/", "/latest", "/v1/credentials/../credentials", "/latest/api/../api/token"),
);
/** A path edited the way path-confusion attacks do: case, `//`, `/./`, `/../`, `%2e`, trailing slash. */
const editedPath = fc.tuple(path, fc.array(fc.tuple(fc.nat(), fc.constantFrom("upper", "slash2", "dot", "dotdot", "pct2e", "pct2f", "trail", "dropTrail")), { maxLength: 2 }), fc.boolean()).map(([p, edits, edit]) =>
  (edit ? edits : []).reduce((s: string, [at, kind]) => {
    const slashes = [...s.matchAll(/\//g)].map((m) => m.index);
    const slash = slashes.length ? slashes[at % slashes.length]! : 0;
    switch (kind) {
      case "upper": return s.length ? flipCase(s, at % s.length) : s;
      case "slash2": return `${s.slice(0, slash)}/${s.slice(slash)}`;
      case "dot": return `${s.slice(0, slash)}/.${s.slice(slash)}`;
      case "dotdot": return `${s.slice(0, slash)}/x/..${s.slice(slash)}`;
      case "pct2e": return s.replace(".", "%2e");
      case "pct2f": return slash > 0 ? `${s.slice(0, slash)}%2F${s.slice(slash + 1)}` : s;
      case "trail": return `${s}/`;
      case "dropTrail": return s.endsWith("/") ? s.slice(0, -1) : s;
    }
    return s;
  }, p),
);
const query = fc.constantFrom("", "", "", "?", "?x=1", "?role=gateway", `?token=${consumers[0]!.token}`, "?a=%zz&b");
// Besides origin-form: the asterisk and absolute forms, which name no path of ours.
const target = fc.oneof({ weight: 30, arbitrary: fc.tuple(editedPath, query).map(([p, q]) => p + q) }, fc.constantFrom("*", `http://127.0.0.1:PORT${ECS_PATH}`));

/** Token-like values: the real ones, and a prefix, one character changed, padding, case, the other kind's. */
const tokenVariant = (valid: () => string) =>
  fc.tuple(fc.constantFrom("valid", "valid", "valid", "valid", "prefix", "changed", "padded", "case", "extended", "empty"), fc.nat()).map(([kind, n]) => () => {
    const t = valid();
    switch (kind) {
      case "valid": return t;
      case "prefix": return t.slice(0, n % t.length);
      case "changed": {
        const i = n % t.length;
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
        const c = alphabet[(alphabet.indexOf(t[i]!) + 1 + (n % 7)) % alphabet.length]!;
        return t.slice(0, i) + (c === t[i] ? "!" : c) + t.slice(i + 1);
      }
      case "padded": return ` \t${t} `;
      case "case": return flipCase(t, n % t.length);
      case "extended": return `${t}=`;
      default: return "";
    }
  });
const imdsToken = fc.oneof(
  tokenVariant(() => live[0]!),
  tokenVariant(() => live[1]!),
  tokenVariant(() => live[3]!),
  fc.constant(() => expired),
  fc.constant(() => forged),
  fc.constant(() => `${live[0]!}, ${live[0]!}`),
  fc.constantFrom(...consumers).map((c) => () => c.token),
);
const ecsToken = fc.oneof(
  fc.constantFrom(...consumers).chain((c) => tokenVariant(() => c.token)),
  fc.constantFrom(...consumers).map((c) => () => `Bearer ${c.token}`),
  fc.constant(() => live[0]!),
);
const ttl = fc.oneof(
  fc.constantFrom("0", "1", "21600", "21601", "-1", "+600", "600 ", "0600", "6e2", "600.0", "0x258", "", "abc", "9".repeat(30), "-0", "+0", "\u00b9", "600, 600", " 600"),
  fc.integer({ min: -5, max: 30000 }).map(String),
);
const OK_HOSTS = new Set(["127.0.0.1:PORT", "localhost:PORT", "LOCALHOST:PORT", "127.0.0.2:PORT", "[::1]:PORT"]);
const badHost = fc.constantFrom("127.0.0.1", "127.0.0.1:80", "localhost",
  "127.0.0.1:PORT1", "evil.example:PORT", "localhost.:PORT", "127.1:PORT", "127.0.0.1:0PORT", "127.0.0.1:PORT, 127.0.0.1:PORT", "", "[::1:PORT", "127.0.0.1:PORT:PORT");
const host = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...OK_HOSTS) }, badHost);
const junk = fc.constantFrom<Header>(["User-Agent", "aws-sdk-js/3"], ["Accept", "*/*"], ["X-Junk", "\u00ff\u00e9"], ["Cookie", "a=b"], ["Referer", "http://evil.example/"], ["Sec-Fetch-Mode", "cors"], ["Via", "1.1 proxy"]);

/** Present in one case out of eight. */
const rarely = <T,>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, arb);

const request = fc
  .record({
    method: fc.constantFrom("GET", "GET", "GET", "GET", "GET", "GET", "PUT", "PUT", "PUT", "POST", "HEAD", "DELETE", "OPTIONS", "PATCH", "get", "PUTS"),
    target,
    host: fc.option(fc.tuple(nameCase("Host"), host), { freq: 20 }),
    imds: fc.option(fc.tuple(nameCase("X-aws-ec2-metadata-token"), imdsToken, fc.boolean()), { freq: 2 }),
    ttl: fc.option(fc.tuple(nameCase("X-aws-ec2-metadata-token-ttl-seconds"), ttl, fc.boolean()), { freq: 2 }),
    auth: fc.option(fc.tuple(nameCase("Authorization"), ecsToken, fc.boolean()), { freq: 2 }),
    browser: rarely(fc.tuple(fc.constantFrom("Origin", "origin", "Sec-Fetch-Site", "SEC-FETCH-DEST", "Sec-Fetch-User"), fc.constantFrom("http://evil.example", "null", ""))),
    xff: rarely(fc.tuple(nameCase("X-Forwarded-For"), fc.constantFrom("10.0.0.1", "127.0.0.1", ""))),
    framing: fc.oneof({ weight: 14, arbitrary: fc.constant("none") }, fc.constantFrom("cl0", "cl0", "cl", "chunked", "clte", "many")),
    // With framing "many": header lines in all (Connection included), about the most serve takes (63).
    many: fc.constantFrom(62, 63, 64, 65, 70, 500),
    junk: fc.array(junk, { maxLength: 3 }),
    order: fc.nat(),
    // Half the cases keep the method, Host and framing an SDK would use, so that the token and path rules are reached.
    typical: fc.boolean(),
    endpoint: fc.constantFrom(0, 0, 0, 0, 1, 2),
  })
  .map((generated): (() => Case) => shownAs("the case in the assertion message", () => {
    let r = generated;
    const endpoint = endpoints[r.endpoint]!;
    const P = String(endpoint.port);
    const sub = (s: string) => s.replace(/PORT1/g, String(endpoint.port + 1)).replace(/PORT/g, P);
    if (r.typical) {
      r = { ...r, method: r.target.startsWith(TOKEN_PATH) ? "PUT" : "GET", host: ["Host", "127.0.0.1:PORT"], browser: null, framing: "none" };
      if (r.target.startsWith(ROLES_PATH) && !r.imds) r = { ...r, imds: ["X-aws-ec2-metadata-token", () => endpoint.live[0] ?? live[0]!, false] };
      if (r.target.startsWith(ECS_PATH) && !r.auth) r = { ...r, auth: ["Authorization", () => consumers[r.order % consumers.length]!.token, false] };
    }
    const headers: Header[] = [...r.junk];
    if (r.host) headers.push([r.host[0], sub(r.host[1])]);
    if (r.imds) {
      const v = r.imds[1]();
      headers.push([r.imds[0], v]);
      if (r.imds[2]) headers.push([r.imds[0].toLowerCase(), v]);
    }
    if (r.ttl) headers.push([r.ttl[0], r.ttl[1]]);
    if (r.ttl?.[2]) headers.push([r.ttl[0].toUpperCase(), "60"]);
    if (r.auth) {
      const v = r.auth[1]();
      headers.push([r.auth[0], v]);
      if (r.auth[2]) headers.push(["authorization", v]);
    }
    if (r.browser) headers.push(r.browser);
    if (r.xff) headers.push(r.xff);
    let body = "";
    if (r.framing === "cl0") headers.push(["Content-Length", "0"]);
    if (r.framing === "cl") (headers.push(["Content-Length", "5"]), (body = "hello"));
    if (r.framing === "chunked") (headers.push(["Transfer-Encoding", "chunked"]), (body = "0\r\n\r\n"));
    if (r.framing === "clte") (headers.push(["Content-Length", "5"], ["Transfer-Encoding", "chunked"]), (body = "0\r\n\r\n"));
    if (r.framing === "many") for (let i = 0; headers.length + 1 < r.many; i++) headers.push([`X-Many-${i}`, "v"]);
    // The host line anywhere among the others.
    const at = r.order % (headers.length + 1);
    const shuffled = r.host ? [...headers.filter((h) => h[0] !== r.host![0]).slice(0, at), ...headers.filter((h) => h[0] === r.host![0]), ...headers.filter((h) => h[0] !== r.host![0]).slice(at)] : headers;
    return { endpoint, method: r.method, target: sub(r.target), headers: shuffled, body };
  }));

/** fast-check prints a case's generator by its source otherwise. */
function shownAs<T extends object>(text: string, value: T): T {
  return Object.assign(value, { [fc.toStringMethod]: () => text });
}

// ---- the model ----------------------------------------------------------------------------------------------

/** `ecsCode`: the ECS error document's `code` (what the SDKs' container provider reads). */
type Expected = { status: number; credentialsOf?: string; token?: true; roleList?: string; ecsCode?: string };

/** A header's value as the server sees it: repeated lines joined with ", ", surrounding blanks removed. */
function headerValue(headers: readonly Header[], name: string, repeated: "joined" | "first" = "joined"): string | undefined {
  const values = headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v.replace(/^[ \t]+|[ \t]+$/g, ""));
  if (!values.length) return undefined;
  return repeated === "first" ? values[0] : values.join(", ");
}

function expected(c: Case): Expected {
  const h = (n: string, repeated?: "joined" | "first") => headerValue(c.headers, n, repeated);
  // HTTP-level refusals: methods outside HTTP's (or lower case), bytes outside printable ASCII in the target; 64 header
  // lines or more (Connection counted), 431 on every Node (Node 22 and later answer it themselves); request bodies.
  if (!c.target.startsWith("/") && c.target !== "*" && !c.target.startsWith("http://")) return { status: 400 };
  if (!["GET", "PUT", "POST", "HEAD", "DELETE", "OPTIONS", "PATCH"].includes(c.method) || !/^[\x21-\x7e]+$/.test(c.target)) return { status: 400 };
  if (c.headers.length + 1 >= 64) return { status: 431 };
  if (h("transfer-encoding") !== undefined || (h("content-length") ?? "0") !== "0") return { status: 400 };
  const hostValue = h("host");
  // Node requires a Host line in HTTP/1.1.
  if (hostValue === undefined) return { status: 400 };
  // Browser-borne or not naming this endpoint (DNS rebinding).
  const q = c.target.indexOf("?");
  const p = q < 0 ? c.target : c.target.slice(0, q);
  const refused = ["origin", "sec-fetch-site", "sec-fetch-dest", "sec-fetch-user"].some((n) => h(n) !== undefined) ||
    ![...OK_HOSTS].some((ok) => ok.replace("PORT", String(c.endpoint.port)) === hostValue);
  if (refused) return p.startsWith(ECS_PATH) ? { status: 403, ecsCode: "RequestRefused" } : { status: 403 };
  if (c.endpoint.ecs && (p === ECS_PATH || p === `${ECS_PATH}/`)) {
    if (c.method !== "GET") return { status: 405, ecsCode: "MethodNotAllowed" };
    if (q >= 0) return { status: 400, ecsCode: "InvalidRequest" };
    const auth = h("authorization");
    if (!auth) return { status: 401, ecsCode: "NoToken" };
    const consumer = consumers.find((k) => k.token === auth);
    if (!consumer) return { status: 403, ecsCode: "InvalidToken" };
    if (!(ROLES as readonly string[]).includes(consumer.role)) return { status: 500, ecsCode: "RoleNotConfigured" };
    if (consumer.role === "broken") return { status: 500, ecsCode: "SERVICE_UNAVAILABLE" };
    return { status: 200, credentialsOf: consumer.role };
  }
  if (c.endpoint.imds && (p === TOKEN_PATH || p.startsWith(`${TOKEN_PATH}/`))) {
    if (c.method !== "PUT") return { status: 405 };
    if (h("x-forwarded-for") !== undefined) return { status: 400 };
    // Repeated, the first value counts (as Go's Header.Get).
    const t = h("x-aws-ec2-metadata-token-ttl-seconds", "first");
    const ok = t === undefined || (/^[+-]?[0-9]+$/.test(t) && Number(t) >= 1 && Number(t) <= 21600);
    return ok ? { status: 200, token: true } : { status: 400 };
  }
  if (c.endpoint.imds && (p === ROLES_PATH || p.startsWith(`${ROLES_PATH}/`))) {
    if (c.method !== "GET") return { status: 405 };
    const token = h("x-aws-ec2-metadata-token");
    if (!token) return { status: 401 };
    if (!c.endpoint.live.includes(token)) return { status: 401 };
    let rest = p.slice(ROLES_PATH.length);
    if (rest.startsWith("/")) rest = rest.slice(1);
    if (rest.endsWith("/")) rest = rest.slice(0, -1);
    const role = percentDecodedOrSame(rest);
    if (role === "") return { status: 200, roleList: ROLES[0] };
    if (role.includes("/") || !(ROLES as readonly string[]).includes(role)) return { status: 404 };
    return role === "broken" ? { status: 503 } : { status: 200, credentialsOf: role };
  }
  return { status: 404 };
}

// ---- the oracle ---------------------------------------------------------------------------------------------

function check(c: Case, responses: WireResponse[]): void {
  const want = expected(c);
  const shown = `${c.endpoint.imds ? "imds" : ""}${c.endpoint.ecs ? "+ecs" : ""} ${c.method} ${c.target} ${JSON.stringify(c.headers)} body ${JSON.stringify(c.body)}`;
  expect(responses.length, shown).toBe(1);
  const got = responses[0]!;
  tally.cases++;
  tally.byStatus.set(got.status, (tally.byStatus.get(got.status) ?? 0) + 1);
  expect(got.status, shown).toBe(want.status);
  const everything = `${got.headers}\r\n${Buffer.from(got.body, "latin1").toString("utf8")}`;
  for (const ecs of consumers) expect(everything.includes(ecs.token), `${shown}: an ECS token in the answer`).toBe(false);
  for (const t of seenTokens) expect(everything.includes(t), `${shown}: an IMDS token in the answer`).toBe(false);
  const leaked = SECRETS.filter((s) => everything.includes(s));
  if (want.credentialsOf === undefined) {
    expect(leaked, `${shown}: credentials in a ${got.status} answer`).toEqual([]);
  } else {
    const doc = JSON.parse(Buffer.from(got.body, "latin1").toString("utf8")) as Record<string, unknown>;
    const own = issued(want.credentialsOf);
    expect({ id: doc["AccessKeyId"], secret: doc["SecretAccessKey"], token: doc["Token"] }, shown).toEqual({ id: own.accessKeyId, secret: own.secretAccessKey, token: own.sessionToken });
    expect(leaked.sort(), shown).toEqual([own.secretAccessKey, own.sessionToken].sort());
    // The documents the SDKs read: ECS's four fields; IMDS's seven, in aws_signing_helper's order.
    const fields = c.target.startsWith(ECS_PATH) ? ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] : ["AccessKeyId", "SecretAccessKey", "Token", "Code", "Type", "Expiration", "LastUpdated"];
    expect([Object.keys(doc), doc["Expiration"]], shown).toEqual([fields, expiration.toISOString().replace(/\.\d{3}Z$/, "Z")]);
  }
  if (want.token) {
    expect(got.body, shown).toMatch(/^[A-Za-z0-9+/]{100}$/);
    seenTokens.add(got.body);
  } else if (c.method !== "HEAD") {
    expect(got.body, `${shown}: a token-like value in the answer`).not.toMatch(/[A-Za-z0-9+/]{100}/);
  }
  if (want.roleList !== undefined) expect(got.body, shown).toBe(want.roleList);
  if (want.ecsCode !== undefined && c.method !== "HEAD") {
    expect(got.headers, shown).toMatch(/\r\ncontent-type: application\/json/i);
    const doc = JSON.parse(got.body) as Record<string, unknown>;
    expect([doc["code"], typeof doc["message"]], shown).toEqual([want.ecsCode, "string"]);
  }
  // Every answer of serve's own (not Node's parse errors, 400 and 431) is not to be cached.
  if ((want.status !== 400 && want.status !== 431) || want.ecsCode) expect(got.headers, shown).toMatch(/\r\ncache-control: no-store/i);
  if (want.status < 500) expect(got.status, shown).toBeLessThan(500);
}

/** A good request of each kind, after every case: the server still answers. */
async function stillServes(i: number): Promise<void> {
  const hostLine: Header = ["Host", `127.0.0.1:${port}`];
  const [r] = i % 2
    ? await exchange({ port }, wire("GET", `${ROLES_PATH}/reader`, [hostLine, ["X-aws-ec2-metadata-token", live[0]!]]))
    : await exchange({ port }, wire("GET", ECS_PATH, [hostLine, ["Authorization", consumers[0]!.token]]));
  expect(r?.status, `a good request after case ${i}`).toBe(200);
}

describe(`serve: IMDS and ECS requests against a model (seed ${SEED})`, () => {
  it("answers each hostile request as the model says, and a good one after it", async () => {
    let i = 0;
    await fc.assert(
      fc.asyncProperty(request, async (make) => {
        const c = make();
        check(c, await exchange({ port: c.endpoint.port }, wire(c.method, c.target, c.headers, c.body), [c.method === "HEAD"]));
        await stillServes(i++);
      }),
      // Under Node 22 and 24 (scripts/test.sh runs this file again there): enough cases to reach each framing.
      { numRuns: runs(process.env["RAA_TEST_NODE_MAJOR"] ? 600 : 2500) },
    );
  }, 120_000);
});
