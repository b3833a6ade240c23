import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ServiceError } from "../../src/errors.js";
import { createSession } from "../../src/rolesanywhere/create-session.js";
import type { CreateSessionOptions } from "../../src/rolesanywhere/types.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import {
  closedPort,
  KeyFileSigner,
  SECRET_ACCESS_KEY,
  SESSION_TOKEN,
  sessionParams,
  startEndpoint,
  startSilentServer,
  successBody,
  verifyReceivedSignature,
  type Reply,
  type ScriptedEndpoint,
} from "./support.js";
import { failure } from "../helpers/agent-error.js";

const { dir, cleanup } = makeTempDir("raa-create-session-");
afterAll(cleanup);
const ca = createCa(dir, { name: "CreateSession Test CA" });
const leaf = issueLeaf(ca, dir, { name: "leaf-p256", keyType: "p256" });
const signer = new KeyFileSigner(leaf.keyPath, leaf.certPem);

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function endpoint(...replies: Reply[]): Promise<ScriptedEndpoint> {
  const server = await startEndpoint(replies);
  open.push(server);
  return server;
}

/** A clock that advances one second per reading, from a fixed start. */
function steppingClock(start = "2026-11-23T10:20:30Z") {
  let t = Date.parse(start);
  return () => new Date((t += 1000) - 1000);
}

function options(url: string, extra: Partial<CreateSessionOptions> = {}) {
  const sleeps: number[] = [];
  const opts: CreateSessionOptions = {
    endpoint: url,
    env: {},
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...extra,
  };
  return { opts, sleeps };
}

const ok: Reply = { status: 201, body: successBody(), headers: { "x-amzn-RequestId": "req-ok-1" } };

describe("createSession on the wire", () => {
  it("returns the credentials and identity, from a request the certificate's key verifiably signed", async () => {
    const server = await endpoint(ok);
    const { opts } = options(`${server.url}/prefix/v1/`, { now: steppingClock() });
    const result = await createSession(signer, sessionParams({ roleSessionName: "edge-01" }), opts);

    expect(result).toEqual({
      credentials: {
        accessKeyId: "ASIAEXAMPLEEXAMPLE01",
        secretAccessKey: SECRET_ACCESS_KEY,
        sessionToken: SESSION_TOKEN,
        expiration: new Date("2030-01-01T00:00:00Z"),
      },
      subjectArn: "arn:aws:rolesanywhere:us-east-1:000000000000:subject/9f8e7d6c",
      assumedRoleArn: "arn:aws:sts::000000000000:assumed-role/test-role/abc",
      assumedRoleId: "AROAEXAMPLE:abc",
      roleArn: "arn:aws:iam::000000000000:role/test-role",
      sourceIdentity: "CN=leaf",
      requestId: "req-ok-1",
      clockSkewMs: expect.any(Number), // the test server's Date against the stepping clock
    });

    expect(server.requests).toHaveLength(1);
    const received = server.requests[0]!;
    expect(received.method).toBe("POST");
    expect(received.url).toMatch(/^\/prefix\/v1\/sessions\?profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A000000000000%3Aprofile%2F[^&]+&roleArn=[^&]+&trustAnchorArn=[^&]+$/);
    expect(received.body).toBe('{"durationSeconds":3600,"roleSessionName":"edge-01"}');
    expect(received.headers["host"]).toBe(`127.0.0.1:${server.port}`);
    expect(received.headers["content-type"]).toBe("application/json");
    expect(received.headers["content-length"]).toBe(String(received.body.length));
    expect(received.headers["user-agent"]).toMatch(/^roles-anywhere-agent\/\S+ \(node \d+\.\d+\.\d+; linux; \w+\)$/);
    expect(received.headers["x-amz-date"]).toBe("20261123T102030Z");

    const check = verifyReceivedSignature(received, leaf.certPem);
    expect(check.ok).toBe(true);
    expect(check).toMatchObject({ algorithm: "AWS4-X509-ECDSA-SHA256", serial: leaf.serialDecimal, region: "us-east-1", path: "/prefix/v1/sessions" });
    expect(check.signedHeaders).toBe("content-type;host;x-amz-date;x-amz-x509");
  });

  it("percent-encodes in the query what SigV4 does not leave as is (a role path may hold !'()* and +)", async () => {
    const server = await endpoint(ok);
    await createSession(signer, sessionParams({ roleArn: "arn:aws:iam::000000000000:role/p!'()*/a+b" }), options(server.url).opts);
    expect(server.requests[0]!.url).toContain("&roleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fp%21%27%28%29%2A%2Fa%2Bb&");
    expect(verifyReceivedSignature(server.requests[0]!, leaf.certPem).ok).toBe(true);
  });

  it("gives debug lines with the canonical request, string to sign, status and request id, never the credentials", async () => {
    const server = await endpoint(ok);
    const lines: string[] = [];
    await createSession(signer, sessionParams(), options(server.url, { debug: (l) => lines.push(l) }).opts);
    const text = lines.join("\n");
    expect(text).toContain(`CreateSession endpoint ${server.url} (from option), signing region us-east-1`);
    expect(text).toContain("canonical request:");
    expect(text).toContain("  | POST\n  | /sessions\n  | profileArn=");
    expect(text).toContain("string to sign:\n  | AWS4-X509-ECDSA-SHA256");
    expect(text).toContain("HTTP 201, request id req-ok-1");
    expect(text).not.toContain(SECRET_ACCESS_KEY);
    expect(text).not.toContain(SESSION_TOKEN);
    expect(text).not.toContain("ASIAEXAMPLEEXAMPLE01");
  });

  it("uses AWS_ENDPOINT_URL_ROLESANYWHERE when no endpoint is given", async () => {
    const server = await endpoint(ok);
    await createSession(signer, sessionParams(), { env: { AWS_ENDPOINT_URL_ROLESANYWHERE: server.url } });
    expect(server.requests).toHaveLength(1);
  });
});

describe("retries", () => {
  it("retries a 5xx and succeeds, each attempt signed afresh with the injected clock", async () => {
    const server = await endpoint({ status: 500, body: '{"message":"internal"}' }, ok);
    const { opts, sleeps } = options(server.url, { now: steppingClock() });
    const result = await createSession(signer, sessionParams(), opts);
    expect(result.credentials.accessKeyId).toBe("ASIAEXAMPLEEXAMPLE01");
    expect(server.requests).toHaveLength(2);
    expect(sleeps).toEqual([125]);
    const [first, second] = server.requests.map((r) => verifyReceivedSignature(r, leaf.certPem));
    expect(first!.ok && second!.ok).toBe(true);
    expect(first!.amzDate).toBe("20261123T102030Z");
    expect(second!.amzDate).not.toBe(first!.amzDate);
    expect(server.requests[0]!.headers["authorization"]).not.toBe(server.requests[1]!.headers["authorization"]);
  });

  it("never retries a 4xx", async () => {
    const server = await endpoint({ status: 400, body: '{"message":"durationSeconds is too long"}', headers: { "x-amzn-ErrorType": "ValidationException" } }, ok);
    const { opts, sleeps } = options(server.url);
    const e = await failure(createSession(signer, sessionParams(), opts));
    expect(e).toBeInstanceOf(ServiceError);
    expect(e).toMatchObject({ code: "VALIDATION_FAILED", status: 400, serviceCode: "ValidationException", category: "service" });
    expect(e.message).toBe("CreateSession refused (HTTP 400 ValidationException: durationSeconds is too long)");
    expect(server.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("gives up on a 429 storm after maxAttempts with THROTTLED and a hint about caching", async () => {
    const server = await endpoint({ status: 429, body: '{"message":"Rate exceeded"}', headers: { "x-amzn-ErrorType": "ThrottlingException" } });
    const { opts, sleeps } = options(server.url);
    const e = await failure(createSession(signer, sessionParams(), opts));
    expect(e.code).toBe("THROTTLED");
    expect(e.category).toBe("network");
    expect(e.message).toContain("HTTP 429 ThrottlingException: Rate exceeded");
    expect(e.message).toContain("(after 3 attempts)");
    expect(e.hint).toMatch(/limits CreateSession.*cache credentials/);
    expect(server.requests).toHaveLength(3);
    expect(sleeps).toEqual([125, 250]);
  });

  it("takes a throttling error type as throttling whatever the status (AWS often sends ThrottlingException with HTTP 400)", async () => {
    const throttled400 = (type: string): Reply => ({ status: 400, body: '{"message":"Rate exceeded"}', headers: { "x-amzn-ErrorType": type } });
    const server = await endpoint(throttled400("ThrottlingException"), throttled400("TooManyRequestsException"), ok);
    const retried = options(server.url);
    await createSession(signer, sessionParams(), retried.opts);
    expect(server.requests).toHaveLength(3);
    const storm = await endpoint(throttled400("Throttling"));
    const e = await failure(createSession(signer, sessionParams(), options(storm.url).opts));
    expect(e).toMatchObject({ code: "THROTTLED", category: "network", status: 400 });
    expect(e.message).toContain("HTTP 400 Throttling: Rate exceeded");
  });

  it("waits what Retry-After asks (seconds or an HTTP date) plus the jittered back-off, and gives up at once when that passes the timeout", async () => {
    const throttled = (retryAfter: string): Reply => ({ status: 429, body: "{}", headers: { "x-amzn-ErrorType": "ThrottlingException", "retry-after": retryAfter } });
    const seconds = await endpoint(throttled("2"), throttled("0"), ok);
    const a = options(seconds.url);
    await createSession(signer, sessionParams(), a.opts);
    expect(a.sleeps).toEqual([3000, 250]); // Retry-After, then full jitter over as long again (or the back-off) on top

    const clock = steppingClock();
    const dated = await endpoint(throttled(new Date(Date.parse("2026-11-23T10:20:30Z") + 6_000).toUTCString()), throttled("garbage"), ok);
    const b = options(dated.url, { now: clock });
    await createSession(signer, sessionParams(), b.opts);
    expect(b.sleeps).toEqual([7500, 250]); // the answer came 1 s after the first clock reading

    const tooLong = await endpoint(throttled("3600"), ok);
    const c = options(tooLong.url, { timeoutMs: 5_000 });
    const e = await failure(createSession(signer, sessionParams(), c.opts));
    expect(e.code).toBe("THROTTLED");
    expect(c.sleeps).toEqual([]);
    expect(tooLong.requests).toHaveLength(1);
  });

  it("gives up on 5xx with SERVICE_UNAVAILABLE; AWS_MAX_ATTEMPTS and maxAttempts bound the attempts", async () => {
    const server = await endpoint({ status: 503, body: "<html>busy</html>", headers: { "Content-Type": "text/html" } });
    let e = await failure(createSession(signer, sessionParams(), options(server.url, { env: { AWS_MAX_ATTEMPTS: "5" } }).opts));
    expect(e.code).toBe("SERVICE_UNAVAILABLE");
    expect(e.message).toContain("HTTP 503");
    expect(server.requests).toHaveLength(5);

    e = await failure(createSession(signer, sessionParams(), options(server.url, { maxAttempts: 1, env: { AWS_MAX_ATTEMPTS: "5" } }).opts));
    expect(e.message).not.toContain("attempts");
    expect(server.requests).toHaveLength(6);
  });

  it("reads each option and parameter once: a getter gives the value checked and the value used (before: maxAttempts 3 when checked, 1000 when used)", async () => {
    const server = await endpoint({ status: 503, body: "<html>busy</html>", headers: { "Content-Type": "text/html" } });
    const reads = new Map<string, number>();
    const counted = <T extends object>(from: T, changing: string, later: unknown): T => {
      const out = {} as T;
      for (const [key, value] of Object.entries(from)) {
        Object.defineProperty(out, key, {
          enumerable: true,
          get: () => {
            const n = (reads.get(key) ?? 0) + 1;
            reads.set(key, n);
            return key === changing && n > 1 ? later : value;
          },
        });
      }
      return out;
    };
    const { opts } = options(server.url, { maxAttempts: 3 });
    const e = await failure(createSession(signer, counted(sessionParams(), "roleArn", "not an ARN"), counted(opts, "maxAttempts", 1000)));
    expect(e.code).toBe("SERVICE_UNAVAILABLE");
    expect(server.requests).toHaveLength(3);
    expect([...reads.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  });

  it("refuses a malformed AWS_MAX_ATTEMPTS", async () => {
    const e = await failure(createSession(signer, sessionParams(), options("http://127.0.0.1:9", { env: { AWS_MAX_ATTEMPTS: "three" } }).opts));
    expect(e.code).toBe("USAGE");
    expect(e.message).toContain("AWS_MAX_ATTEMPTS");
  });

  it("retries a refused connection, then reports NETWORK_ERROR", async () => {
    const port = await closedPort();
    const { opts, sleeps } = options(`http://127.0.0.1:${port}`);
    const e = await failure(createSession(signer, sessionParams(), opts));
    expect(e.code).toBe("NETWORK_ERROR");
    expect(e.message).toBe(`cannot connect to endpoint http://127.0.0.1:${port}: connection refused (after 3 attempts)`);
    expect(e.hint).toContain("--endpoint");
    expect(sleeps).toHaveLength(2);
  });

  it("stops retrying when the back-off would not fit in the total timeout", async () => {
    const server = await endpoint({ status: 502, body: "" });
    const { opts, sleeps } = options(server.url, { random: () => 0.999, timeoutMs: 3000, maxAttempts: 10 });
    const e = await failure(createSession(signer, sessionParams(), opts));
    expect(e.code).toBe("SERVICE_UNAVAILABLE");
    // Ceilings 250, 500, 1000, 2000, 4000 ms: the fifth back-off (3996 ms) cannot fit in 3 s.
    expect(sleeps).toEqual([249, 499, 999, 1998]);
    expect(server.requests).toHaveLength(5);
    expect(e.message).toContain("(after 5 attempts)");
  });
});

describe("timeouts and broken connections", () => {
  it("a server that accepts and never answers is a TIMEOUT bounded by timeoutMs", async () => {
    const server = await endpoint(() => {});
    const { opts } = options(server.url, { timeoutMs: 1000 });
    const e = await failure(createSession(signer, sessionParams(), opts));
    expect(e.code).toBe("TIMEOUT");
    expect(e.message).toBe(`CreateSession at ${server.url} did not complete within 1 s (1 attempt)`);
    expect(e.hint).toContain("--timeout");
    expect(server.requests).toHaveLength(1);
  });

  it("a TLS handshake that never completes hits the connect timeout, which is retried", async () => {
    const silent = await startSilentServer();
    open.push(silent);
    const { opts, sleeps } = options(`https://127.0.0.1:${silent.port}`, { connectTimeoutMs: 150, timeoutMs: 10_000, maxAttempts: 2 });
    const e = await failure(createSession(signer, sessionParams(), opts));
    expect(e.code).toBe("TIMEOUT");
    expect(e.message).toBe(`could not connect to endpoint https://127.0.0.1:${silent.port} within 0.15 s (after 2 attempts)`);
    expect(silent.connections()).toBe(2);
    expect(sleeps).toHaveLength(1);
  });

  it("a connection closed mid-response is retried", async () => {
    const cut: Reply = (_req, res) => {
      res.writeHead(201, { "Content-Type": "application/json", "Content-Length": "500" });
      res.write('{"credentialSet":[{"credentials":{"accessKeyId":"ASIA');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const server = await endpoint(cut, ok);
    const { opts, sleeps } = options(server.url);
    const result = await createSession(signer, sessionParams(), opts);
    expect(result.credentials.sessionToken).toBe(SESSION_TOKEN);
    expect(server.requests).toHaveLength(2);
    expect(sleeps).toHaveLength(1);

    const always = await endpoint(cut);
    const e = await failure(createSession(signer, sessionParams(), options(always.url).opts));
    expect(e.code).toBe("NETWORK_ERROR");
    expect(e.message).toBe(`the connection to endpoint ${always.url} was closed before the response was complete (after 3 attempts)`);
    expect(always.requests).toHaveLength(3);
  });

  it("an oversized body is RESPONSE_INVALID, with or without Content-Length, and not retried", async () => {
    const big = "x".repeat(1024 * 1024 + 1);
    const server = await endpoint({ status: 201, body: big });
    let e = await failure(createSession(signer, sessionParams(), options(server.url).opts));
    expect(e.code).toBe("RESPONSE_INVALID");
    expect(e.message).toContain("is larger than 1048576 bytes");

    const chunked = await endpoint((_req, res) => {
      res.writeHead(201, { "Content-Type": "application/json" });
      const chunk = "y".repeat(64 * 1024);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end();
    });
    e = await failure(createSession(signer, sessionParams(), options(chunked.url).opts));
    expect(e.code).toBe("RESPONSE_INVALID");
    expect(server.requests.length + chunked.requests.length).toBe(2);
  });
});

describe("answers that are not credentials", () => {
  const cases: Array<[string, Reply, RegExp]> = [
    ["an HTML page", { status: 200, body: "<html><body>Welcome to the hotel Wi-Fi</body></html>", headers: { "Content-Type": "text/html" } }, /the body is not JSON/],
    ["truncated JSON", { status: 201, body: successBody().slice(0, 80) }, /the body is not JSON/],
    ["an empty body", { status: 201, body: "" }, /the body is empty/],
    ["a JSON array", { status: 201, body: "[]" }, /not a JSON object/],
    ["no credentialSet", { status: 201, body: '{"subjectArn":"x"}' }, /^unable to obtain temporary security credentials from CreateSession/],
    ["an empty credentialSet", { status: 201, body: '{"credentialSet":[]}' }, /^unable to obtain temporary security credentials from CreateSession/],
    ["no credentials object", { status: 201, body: '{"credentialSet":[{"roleArn":"x"}]}' }, /credentialSet\[0\]\.credentials is missing/],
    [
      "no session token",
      { status: 201, body: successBody().replace(`"sessionToken":"${SESSION_TOKEN}"`, '"sessionToken":""') },
      /credentialSet\[0\]\.credentials\.sessionToken is missing or empty/,
    ],
    [
      "no secret key",
      { status: 201, body: successBody().replace(`"secretAccessKey":"${SECRET_ACCESS_KEY}",`, "") },
      /credentialSet\[0\]\.credentials\.secretAccessKey is missing or empty/,
    ],
    ["a bad expiration", { status: 201, body: successBody({ expiration: "tomorrow-ish" }) }, /expiration is not an RFC 3339 time/],
    ["an expiration after 9999 in UTC", { status: 201, body: successBody({ expiration: "9999-12-31T23:59:59-01:00" }) }, /after year 9999/],
    ["an impossible expiration", { status: 201, body: successBody({ expiration: "2030-02-31T99:00:00Z" }) }, /expiration is not an RFC 3339 time/],
  ];

  it.each(cases)("%s is RESPONSE_INVALID, not retried, and the message holds no secret", async (_name, reply, message) => {
    const server = await endpoint(reply);
    const e = await failure(createSession(signer, sessionParams(), options(server.url).opts));
    expect(e.code).toBe("RESPONSE_INVALID");
    expect(e.message).toMatch(message);
    expect(e.hint).toContain("--endpoint");
    expect(e.toOneLine()).not.toContain(SECRET_ACCESS_KEY);
    expect(e.toOneLine()).not.toContain(SESSION_TOKEN);
    expect(server.requests).toHaveLength(1);
  });

  it("an answer that is not HTTP/1.1 says so in words, is RESPONSE_INVALID and is not retried", async () => {
    const raw = (text: string): Reply => (_req, res) => res.socket?.end(text);
    const answers = [
      "SSH-2.0-OpenSSH_9.6\r\n",
      "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      `HTTP/1.1 201 Created\r\nX-Big: ${"b".repeat(100_000)}`,
    ];
    for (const answer of answers) {
      const server = await endpoint(raw(answer));
      const e = await failure(createSession(signer, sessionParams(), options(server.url).opts));
      const message = /^endpoint http:\/\/127\.0\.0\.1:\d+ sent an answer that is not valid HTTP\/1\.1 \(HPE_\w+\)$/;
      expect([e.code, e.message]).toEqual(["RESPONSE_INVALID", expect.stringMatching(message)]);
      expect(e.hint).toContain("--endpoint");
      expect(server.requests).toHaveLength(1);
    }
  });

  it("any 2xx is success", async () => {
    const server = await endpoint({ status: 200, body: successBody() });
    expect((await createSession(signer, sessionParams(), options(server.url).opts)).credentials.accessKeyId).toBe("ASIAEXAMPLEEXAMPLE01");
  });
});

describe("service errors", () => {
  it("untrusted certificate: ACCESS_DENIED with a trust-anchor / --intermediates hint and the request id", async () => {
    const server = await endpoint({
      status: 403,
      body: '{"message":"Untrusted signing certificate."}',
      headers: { "x-amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/com.amazonaws.rolesanywhere/", "x-amzn-RequestId": "req-403" },
    });
    const e = await failure(createSession(signer, sessionParams(), options(server.url).opts));
    expect(e).toMatchObject({ code: "ACCESS_DENIED", serviceCode: "AccessDeniedException", requestId: "req-403", status: 403 });
    expect(e.message).toBe("CreateSession refused (HTTP 403 AccessDeniedException: Untrusted signing certificate.) [request id req-403]");
    expect(e.hint).toContain("--trust-anchor-arn");
    expect(e.hint).toContain("--intermediates");
  });

  it("invalid signature: hint about the key/certificate pair and the clock; code from JSON __type", async () => {
    const server = await endpoint({ status: 403, body: '{"__type":"com.amazonaws.rolesanywhere#AccessDeniedException","Message":"Invalid signature"}' });
    const e = await failure(createSession(signer, sessionParams(), options(server.url).opts));
    expect(e).toMatchObject({ code: "ACCESS_DENIED", serviceCode: "AccessDeniedException" });
    expect(e.hint).toContain("private key belongs to the certificate");
    expect(e.hint).toContain("clock");
  });

  it("tells how far the endpoint's clock (Date) is ahead of ours, for the refresh engine (negative: behind)", async () => {
    const at = (date: string) => ({ status: 201, body: successBody(), headers: { Date: date } });
    const server = await endpoint(at("Mon, 23 Nov 2026 10:24:30 GMT"), at("Mon, 23 Nov 2026 10:19:30 GMT"), at("not a date"));
    const now = () => new Date("2026-11-23T10:20:30Z");
    const skews = [];
    for (let i = 0; i < 3; i++) skews.push((await createSession(signer, sessionParams(), options(server.url, { now }).opts)).clockSkewMs);
    expect(skews).toEqual([4 * 60_000, -60_000, undefined]);
  });

  it("a clock more than five minutes off is named, with the offset", async () => {
    const server = await endpoint({ status: 403, body: '{"message":"Signature expired"}', headers: { "x-amzn-ErrorType": "AccessDeniedException", Date: "Mon, 23 Nov 2026 10:30:30 GMT" } });
    const e = await failure(createSession(signer, sessionParams(), options(server.url, { now: () => new Date("2026-11-23T10:20:30Z") }).opts));
    expect(e.code).toBe("ACCESS_DENIED");
    expect(e.hint).toBe(
      "the system clock is 10 min behind the endpoint's (Date: Mon, 23 Nov 2026 10:30:30 GMT): fix the clock (NTP); signatures are only accepted within 5 minutes",
    );
  });

  it.each([
    [404, '{"code":"ResourceNotFoundException","message":"Profile not found"}', "RESOURCE_NOT_FOUND", "ResourceNotFoundException"],
    [403, "", "ACCESS_DENIED", "UnknownError"],
    [409, '{"message":"conflict"}', "SERVICE_ERROR", "UnknownError"],
    [400, '{"__type":"ValidationException","message":"roleSessionName is invalid"}', "VALIDATION_FAILED", "ValidationException"],
  ])("HTTP %i %s → %s", async (status, body, code, serviceCode) => {
    const server = await endpoint({ status, body });
    const e = await failure(createSession(signer, sessionParams(), options(server.url).opts));
    expect(e).toMatchObject({ code, serviceCode, status });
    expect(server.requests).toHaveLength(1);
  });

  it("a 407 (a proxy in front of a plain-http endpoint) is a NETWORK_ERROR asking for the proxy login (exit 7), not the service's refusal", async () => {
    const server = await endpoint({ status: 407, body: "{}", headers: { "Proxy-Authenticate": "Basic" } });
    const e = await failure(createSession(signer, sessionParams(), options(server.url).opts));
    expect([e.code, e.category, e.message]).toEqual(["NETWORK_ERROR", "network", `a proxy on the way to ${server.url} wants a login (HTTP 407)`]);
    expect(e.hint).toContain("HTTP_PROXY");
    expect(server.requests).toHaveLength(1);
  });

  it("a 4xx whose body is not JSON is RESPONSE_INVALID; a redirect too", async () => {
    const proxyPage = await endpoint({ status: 403, body: "<html>Access blocked by corporate policy</html>", headers: { "Content-Type": "text/html" } });
    let e = await failure(createSession(signer, sessionParams(), options(proxyPage.url).opts));
    expect(e.code).toBe("RESPONSE_INVALID");
    expect(e.message).toContain("HTTP 403 with a body that is not JSON");

    const redirect = await endpoint({ status: 301, headers: { Location: "https://elsewhere.example/" } });
    e = await failure(createSession(signer, sessionParams(), options(redirect.url).opts));
    expect(e.code).toBe("RESPONSE_INVALID");
    expect(e.message).toContain("a redirect to https://elsewhere.example/");
  });
  it("101 Switching Protocols, and statuses outside 200–599 (000, 600, 999), are RESPONSE_INVALID at once, not retried", async () => {
    // Before the fix a 101 left the request pending forever (node:http drops an upgrade nobody listens for): the CLI
    // exited 0 with nothing on stdout or stderr; 600 and 999 were retried as 5xx, 000 was a service refusal.
    const raw = (head: string): Reply => (_req, res) => res.socket?.end(`${head}\r\nContent-Length: 2\r\n\r\n{}`);
    const answers: Array<[string, number]> = [
      ["HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade", 101],
      ["HTTP/1.1 000 Zero", 0],
      ["HTTP/1.1 600 Beyond", 600],
      ["HTTP/1.1 999 Weird", 999],
    ];
    for (const [head, status] of answers) {
      const server = await endpoint(raw(head));
      const e = await failure(createSession(signer, sessionParams(), options(server.url, { timeoutMs: 2_000 }).opts));
      expect([e.code, e.message]).toEqual(["RESPONSE_INVALID", `${server.url} answered HTTP ${status}, which is not an answer to CreateSession`]);
      expect(e.hint).toContain("--endpoint");
      expect(server.requests).toHaveLength(1);
    }
  });
});

describe("checks before the network", () => {
  it("region mismatch, a missing certificate and a bad endpoint fail without a request", async () => {
    const server = await endpoint(ok);
    let e = await failure(
      createSession(signer, sessionParams({ profileArn: "arn:aws:rolesanywhere:eu-west-1:000000000000:profile/p" }), options(server.url).opts),
    );
    expect(e.code).toBe("REGION_MISMATCH");

    e = await failure(createSession(new KeyFileSigner(leaf.keyPath, undefined), sessionParams(), options(server.url).opts));
    expect(e.code).toBe("CERTIFICATE_MISSING");

    e = await failure(createSession(signer, sessionParams(), options("localhost:8080").opts));
    expect(e.code).toBe("ENDPOINT_INVALID");

    e = await failure(createSession(signer, sessionParams(), options(server.url, { timeoutMs: 0 }).opts));
    expect(e.code).toBe("USAGE");
    expect(server.requests).toHaveLength(0);
  });
});
