import { describe, expect, it, vi } from "vitest";
import { AgentError, NetworkError, ServiceError } from "../../src/errors.js";
import { transportError, TransportError } from "../../src/rolesanywhere/network-errors.js";
import { matchesNoProxy, parseProxyUrl, proxyFor } from "../../src/rolesanywhere/proxy.js";
import { errorFromResponse, sanitizeErrorCode } from "../../src/rolesanywhere/response.js";
import {
  afterAttempts, isRetryable, maxAttemptsFrom, RETRY_AFTER_CAP_MS, refusalOf, retryDelayMs,
} from "../../src/rolesanywhere/retry.js";
import { caBundleOf, type HttpResponse } from "../../src/rolesanywhere/http-client.js";
import { formatExpiration, toCredentialProcessOutput } from "../../src/rolesanywhere/credentials.js";
import { roughDuration } from "../../src/x509/validity.js";

describe("NO_PROXY", () => {
  it.each([
    ["rolesanywhere.us-east-1.amazonaws.com", 443, "amazonaws.com", true],
    ["amazonaws.com", 443, "amazonaws.com", true],
    ["amazonaws.com", 443, ".amazonaws.com", false],
    ["x.amazonaws.com", 443, ".amazonaws.com", true],
    ["x.amazonaws.com", 443, "*.amazonaws.com", true],
    ["notamazonaws.com", 443, "amazonaws.com", false],
    ["Gw.Example.", 443, "gw.example.", true],
    ["gw.example", 443, "GW.EXAMPLE", true],
    ["gw.example", 8443, "gw.example:8443", true],
    ["gw.example", 443, "gw.example:8443", false],
    ["10.1.2.3", 443, "10.0.0.0/8", true],
    ["11.1.2.3", 443, "10.0.0.0/8", false],
    ["10.1.2.3", 443, "10.1.2.3", true],
    ["fd00::1", 443, "fd00::/8", true],
    ["fd00::1", 443, "[fd00::1]:443", true],
    ["anything", 443, "*", true],
    ["gw.example", 443, " a.test ,, gw.example ", true],
    ["gw.example", 443, "a.test b.test", false],
    ["gw.example", 443, "", false],
    // Entries that are no CIDR match nothing, and the others still apply.
    ["10.1.2.3", 443, "10.0.0.0/40, 10.1.2.3", true],
    ["10.1.2.3", 443, "10.0.0.0/40", false],
    ["fd00::1", 443, "fd00::/200", false],
    ["10.1.2.3", 443, "10.0.0.0/x", false],
    ["10.1.2.3", 443, "fd00::/8", false],
  ])("%s:%i with NO_PROXY=%j → %s", (host, port, noProxy, expected) => {
    expect(matchesNoProxy(host, port, noProxy)).toBe(expected);
  });

  it("picks HTTPS_PROXY for https and HTTP_PROXY for http, upper case first", () => {
    const env = { HTTPS_PROXY: "http://upper:3128", https_proxy: "http://lower:3128", http_proxy: "http://plain:8080" };
    expect(proxyFor({ protocol: "https:", hostname: "gw.example", port: 443 }, env)?.display).toBe("http://upper:3128");
    expect(proxyFor({ protocol: "http:", hostname: "gw.example", port: 80 }, env)).toMatchObject({ display: "http://plain:8080", source: "http_proxy" });
    expect(proxyFor({ protocol: "https:", hostname: "gw.example", port: 443 }, { https_proxy: "lower:3128" })).toMatchObject({ hostname: "lower", port: 3128 });
    expect(proxyFor({ protocol: "https:", hostname: "gw.example", port: 443 }, { HTTP_PROXY: "http://plain:8080" })).toBeUndefined();
    // ::ffff:7f00:1 is how a URL writes [::ffff:127.0.0.1].
    for (const hostname of ["localhost", "api.localhost", "127.0.0.1", "127.8.9.10", "::1", "::ffff:7f00:1", "::ffff:127.0.0.1"]) {
      expect(proxyFor({ protocol: "https:", hostname, port: 443 }, env)).toBeUndefined();
    }
  });

  it("parses proxy URLs and keeps the password out of what it shows", () => {
    const p = parseProxyUrl("http://us%40er:p%40ss@proxy.corp:3128", "HTTPS_PROXY");
    expect(p).toEqual({
      hostname: "proxy.corp",
      port: 3128,
      authorization: `Basic ${Buffer.from("us@er:p@ss").toString("base64")}`,
      display: "http://proxy.corp:3128",
      source: "HTTPS_PROXY",
    });
    expect(parseProxyUrl("proxy.corp", "x")).toMatchObject({ port: 80, display: "http://proxy.corp" });
    expect(parseProxyUrl("http://[fd00::1]:3128", "x")).toMatchObject({ hostname: "fd00::1", port: 3128 });
    // http: with one slash, none or a backslash is http: still (as for --endpoint), not a proxy host named "http".
    for (const text of ["http:/proxy.corp:3128", "http:proxy.corp:3128", "HTTP:\\proxy.corp:3128"]) {
      expect(parseProxyUrl(text, "x")).toMatchObject({ hostname: "proxy.corp", port: 3128 });
    }
    const e = (() => {
      try {
        parseProxyUrl("socks5://u:secret@proxy:1080", "ALL_PROXY");
      } catch (error) {
        return error as AgentError;
      }
    })()!;
    expect(e.code).toBe("ENDPOINT_INVALID");
    expect(e.message).toBe("invalid proxy in ALL_PROXY: scheme 'socks5' is not supported (only http:// proxies)");
    expect(e.toOneLine()).not.toContain("secret");
  });
});

describe("transport errors", () => {
  const peer = { description: "endpoint https://gw.example", hostname: "gw.example", isProxy: false };
  const err = (code: string, message = code) => Object.assign(new Error(message), { code });

  it.each([
    ["ENOTFOUND", false, "cannot resolve the host name of endpoint https://gw.example"],
    ["EAI_AGAIN", true, "temporary DNS failure resolving the host name of endpoint https://gw.example"],
    ["ECONNREFUSED", true, "cannot connect to endpoint https://gw.example: connection refused"],
    ["ECONNRESET", true, "the connection to endpoint https://gw.example was closed before the response was complete"],
    ["EHOSTUNREACH", true, "cannot talk to endpoint https://gw.example: EHOSTUNREACH"],
    ["EACCES", false, "cannot talk to endpoint https://gw.example: EACCES"],
  ])("%s → transient %s", (code, transient, message) => {
    const e = transportError(err(code), peer);
    expect(e).toBeInstanceOf(NetworkError);
    expect(e).toMatchObject({ code: "NETWORK_ERROR", transient, message });
  });

  it("expired endpoint certificates point at the clock", () => {
    const e = transportError(err("CERT_HAS_EXPIRED", "certificate has expired"), peer);
    expect(e.message).toBe("the TLS certificate of endpoint https://gw.example is not valid now: certificate has expired (CERT_HAS_EXPIRED)");
    expect(e.hint).toContain("clock");
    expect(e.transient).toBe(false);
  });

  it("no code, or TLS without OpenSSL's short reason: the first line of the text, up to 200 characters", () => {
    const tls = transportError(new Error("TLS session ended\nerror queue: 1\nerror queue: 2"), peer);
    const failed = "TLS handshake with endpoint https://gw.example failed: TLS session ended";
    expect([tls.message, tls.transient]).toEqual([failed, false]);
    const odd = transportError(new Error(`${"x".repeat(300)}\nsecond line`), peer);
    expect(odd.message).toBe(`cannot talk to endpoint https://gw.example: ${"x".repeat(200)}`);
    const thrown = transportError("a thrown string\nwith two lines", peer);
    expect(thrown.message).toBe("cannot talk to endpoint https://gw.example: a thrown string");
  });

  it("DNS failures of a proxy point at the proxy variables", () => {
    const e = transportError(err("ENOTFOUND"), { description: "proxy http://p:3128 (HTTPS_PROXY)", hostname: "p", isProxy: true });
    expect(e.hint).toContain("HTTPS_PROXY");
  });
});

describe("retry policy", () => {
  it("full jitter under an exponential ceiling, capped", () => {
    // An error without Retry-After waits the back-off alone (what withRetries does between attempts).
    const backoff = (attempt: number, random: () => number) => retryDelayMs(new NetworkError("NETWORK_ERROR", "x"), attempt, random);
    expect([1, 2, 3, 4].map((a) => backoff(a, () => 0.5))).toEqual([125, 250, 500, 1000]);
    expect(backoff(1, () => 0)).toBe(0);
    expect(backoff(30, () => 0.999999)).toBe(19_999);
    expect(backoff(2, () => Number.NaN)).toBe(0);
    // A faulty draw of 1 or more stays under the ceiling, as the refresh engine's draws do.
    expect(backoff(1, () => 1)).toBe(249);
    expect(backoff(1, () => 7)).toBe(249);
  });

  it("Retry-After is a floor: full jitter over the back-off or as long again comes on top; at most 5 minutes are honoured", () => {
    const throttled = (retryAfterMs?: number) => new ServiceError("THROTTLED", "x", { status: 429, serviceCode: "ThrottlingException", retryAfterMs });
    expect(retryDelayMs(throttled(), 1, () => 0.5)).toBe(125);
    expect(retryDelayMs(throttled(1000), 1, () => 0)).toBe(1000);
    expect(retryDelayMs(throttled(1000), 2, () => 0.5)).toBe(1500);
    expect(retryDelayMs(throttled(100), 2, () => 0.5)).toBe(350); // the back-off's ceiling, longer than asked
    expect(retryDelayMs(throttled(3600_000), 1, () => 0)).toBe(RETRY_AFTER_CAP_MS);
    // Ten clients told the same Retry-After come back at ten different moments, none before it.
    const delays = Array.from({ length: 10 }, (_, i) => retryDelayMs(throttled(1000), 3, () => i / 10));
    expect(new Set(delays).size).toBe(10);
    expect(Math.min(...delays)).toBe(1000);
  });

  it("what is retried", () => {
    const service = (status: number) => new ServiceError("SERVICE_ERROR", "x", { status, serviceCode: "X" });
    expect([429, 500, 502, 503, 504].every((s) => isRetryable(service(s)))).toBe(true);
    expect([400, 401, 403, 404, 409].some((s) => isRetryable(service(s)))).toBe(false);
    expect(isRetryable(new ServiceError("THROTTLED", "x", { status: 400, serviceCode: "ThrottlingException" }))).toBe(true);
    expect(isRetryable(new TransportError("NETWORK_ERROR", "x", true))).toBe(true);
    expect(isRetryable(new TransportError("NETWORK_ERROR", "x", false))).toBe(false);
    expect(isRetryable(new NetworkError("TIMEOUT", "total"))).toBe(false);
    expect(isRetryable(new Error("bug"))).toBe(false);
  });

  it("refusalOf: the service's own 4xx is 'refused'; a proxy's, firewall's or portal's 3xx/4xx is 'blocked'", () => {
    const context = { receivedAt: new Date(), endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com", region: "eu-west-1" };
    const answer = (status: number, body: string, headers: Record<string, string> = {}) =>
      refusalOf(errorFromResponse({ status, headers, body: Buffer.from(body) }, context));
    const aws = { "x-amzn-requestid": "5e1c…", "content-type": "application/json" };
    // What Roles Anywhere answers: its request id, its error type in the header or the body.
    expect(answer(403, '{"message":"Untrusted certificate. Insufficient certificate"}', { ...aws, "x-amzn-errortype": "AccessDeniedException" })).toBe("refused");
    expect(answer(400, '{"__type":"ValidationException","message":"x"}')).toBe("refused");
    expect(answer(404, "", aws)).toBe("refused");
    // Something in front of it: no request id, no error type (before: all 'refused', an hour's ceiling).
    expect(answer(403, "<html>Please log in to the hotel Wi-Fi</html>", { "content-type": "text/html" })).toBe("blocked");
    expect(answer(403, "")).toBe("blocked");
    expect(answer(401, '{"error":"login required"}')).toBe("blocked");
    expect(answer(407, "", { "proxy-authenticate": "Basic" })).toBe("blocked");
    expect(answer(302, "", { location: "http://portal.example/login" })).toBe("blocked");
    expect(refusalOf(new TransportError("NETWORK_ERROR", "tunnel refused: 407", false, { status: 407 }))).toBe("blocked");
    // Neither: retried at the network's pace.
    expect(answer(429, "{}", { "x-amzn-errortype": "ThrottlingException" })).toBeUndefined();
    expect(answer(400, "{}", { ...aws, "x-amzn-errortype": "ThrottlingException" })).toBeUndefined();
    expect(answer(503, "<html>down</html>")).toBeUndefined();
    expect(refusalOf(new TransportError("NETWORK_ERROR", "ECONNREFUSED", true))).toBeUndefined();
    expect(refusalOf(new TransportError("NETWORK_ERROR", "proxy 502", true, { status: 502 }))).toBeUndefined();
  });

  it("maxAttempts: option, then AWS_MAX_ATTEMPTS, then 3", () => {
    expect(maxAttemptsFrom(undefined, {})).toBe(3);
    expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "7" })).toBe(7);
    expect(maxAttemptsFrom(2, { AWS_MAX_ATTEMPTS: "7" })).toBe(2);
    expect(() => maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "0" })).toThrow(/AWS_MAX_ATTEMPTS/);
    expect(maxAttemptsFrom(2, { AWS_MAX_ATTEMPTS: "0" })).toBe(2); // an option beats the variable, which is then not read
  });

  it("AWS_MAX_ATTEMPTS takes a leading + as botocore's int() and the JS SDK do; hex, exponents and signs alone do not", () => {
    expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: "+3" })).toBe(3);
    expect(maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: " +4 " })).toBe(4);
    for (const bad of ["0x10", "1e9", "+", "++3", "-3", "+0", "3.0"]) {
      expect(() => maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: bad }), bad).toThrow(/AWS_MAX_ATTEMPTS/);
    }
  });

  it("afterAttempts keeps class, code, status and hint", () => {
    const e = afterAttempts(new ServiceError("THROTTLED", "slow down", { status: 429, serviceCode: "T", requestId: "r" }, { hint: "h" }), 3);
    expect(e).toBeInstanceOf(ServiceError);
    expect(e).toMatchObject({ code: "THROTTLED", message: "slow down (after 3 attempts)", hint: "h", status: 429, requestId: "r" });
  });
});

describe("error answers", () => {
  const response = (status: number, body: string, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body: Buffer.from(body) });
  const context = { receivedAt: new Date("2026-11-23T10:20:30Z"), endpoint: "https://gw.example", region: "us-east-1" };

  it("a hostile Retry-After never schedules beyond the 5-minute ceiling, nor sooner than it when it asks for more", () => {
    const asked = (value: string) => (errorFromResponse(response(429, "{}", { "retry-after": value }), context) as ServiceError).retryAfterMs;
    const waits = (value: string) => retryDelayMs(errorFromResponse(response(503, "{}", { "retry-after": value }), context), 1, () => 0);
    expect(asked("7")).toBe(7_000);
    expect(asked("0000000007")).toBe(7_000); // leading zeros are still delta-seconds
    // 10 digits and more (10^12 s): far more than the ceiling asked, so the ceiling is waited, not nothing.
    for (const value of ["1234567890", "1000000000000", "9".repeat(400)]) expect(waits(value)).toBe(RETRY_AFTER_CAP_MS);
    expect(waits("Fri, 01 Jan 3000 00:00:00 GMT")).toBe(RETRY_AFTER_CAP_MS);
    // Negative, fractional or garbage values ask for nothing: only the back-off applies.
    for (const value of ["-5", "-1000000000000", "5.5", "1e12", "garbage", "Infinity", ""]) expect(waits(value)).toBe(0);
  });

  it("sanitises error codes like the SDK", () => {
    expect(sanitizeErrorCode("AccessDeniedException:http://internal.amazon.com/coral/com.amazonaws.rolesanywhere/")).toBe("AccessDeniedException");
    expect(sanitizeErrorCode("com.amazonaws.rolesanywhere#ValidationException")).toBe("ValidationException");
    expect(sanitizeErrorCode("Bad Code<script>")).toBe("BadCodescript");
  });

  it("a clock ahead of the endpoint is named too", () => {
    const e = errorFromResponse(response(403, '{"message":"Signature expired"}', { date: "Mon, 23 Nov 2026 09:10:00 GMT" }), context);
    expect(e.hint).toMatch(/^the system clock is 1 h 10 min ahead of the endpoint's/);
    expect(errorFromResponse(response(403, "{}", { date: "Mon, 23 Nov 2026 10:24:00 GMT" }), context).hint).not.toContain("system clock is");
    // Date.parse skips a parenthesised comment: the quoted header must still be printable and short.
    const date = `Mon, 23 Nov 2026 09:10:00 GMT (\u009b2J${"y".repeat(3000)})`;
    const quoted = errorFromResponse(response(403, "{}", { date }), context).hint;
    expect(quoted).toMatch(/^the system clock is 1 h 10 min ahead of the endpoint's \(Date: Mon, 23 Nov 2026 09:10:00 GMT \( 2Jy+…\): fix/);
    expect(quoted?.length).toBeLessThan(200);
  });

  it("an HTTP-date in asctime form (no zone: GMT) is read as GMT whatever TZ says", () => {
    // Before: with TZ=Asia/Kolkata, "Mon Nov 23 09:10:00 2026" was read as local time: "6 h 40 min ahead".
    vi.stubEnv("TZ", "Asia/Kolkata");
    try {
      const skewed = errorFromResponse(response(403, "{}", { date: "Mon Nov 23 09:10:00 2026" }), context);
      expect(skewed.hint).toMatch(/^the system clock is 1 h 10 min ahead of the endpoint's/);
      const later = errorFromResponse(response(503, "{}", { "retry-after": "Mon Nov 23 10:21:30 2026" }), context);
      expect((later as ServiceError).retryAfterMs).toBe(60_000);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("a signature refused for its date blames the clock, not the key, without a Date header too", () => {
    // Before: "check that the private key belongs to the certificate, and that the system clock is right".
    const expired = "Signature expired: 20261123T100000Z is now earlier than 20261123T101530Z (… - 5 min.)";
    const early = "Signature not yet current: 20261123T103000Z is still later than 20261123T102530Z (… + 5 min.)";
    for (const message of [expired, early]) {
      const body = JSON.stringify({ message });
      const headers = { "x-amzn-errortype": "InvalidSignatureException" };
      const e = errorFromResponse(response(403, body, headers), context);
      expect(e.hint).toBe(
        "the system clock is more than 5 minutes off (date -u): fix it (NTP); the key is not the problem",
      );
    }
    const wrongKey = errorFromResponse(response(403, '{"message":"Invalid signature"}'), context);
    expect(wrongKey.hint).toMatch(/private key belongs to the certificate/);
  });

  it("control characters and long messages are cut", () => {
    const e = errorFromResponse(response(400, JSON.stringify({ message: `line1\nline2\u001b[31m${"x".repeat(500)}` })), context);
    expect(e.message).not.toMatch(/[\n\u001b]/);
    expect(e.message.length).toBeLessThan(400);
    // C1 controls (NEL, CSI), line/paragraph separators and bidi overrides break or spoof the one line as well.
    const c1 = errorFromResponse(response(500, JSON.stringify({ message: "a\u0085b\u009b2Jc\u2028d\u2029e\u202ef\u2066g\ufeff" })), context);
    expect(c1.message).toBe("https://gw.example failed to answer CreateSession (HTTP 500 UnknownError: a b 2Jc d e f g)");
  });

  it("hints per code", () => {
    expect(errorFromResponse(response(404, '{"message":"nope"}'), context).hint).toContain("exist in us-east-1");
    expect(errorFromResponse(response(403, '{"message":"nope"}'), context).hint).toContain("trust policy");
    expect(errorFromResponse(response(400, '{"message":"nope"}'), context).hint).toContain("--session-duration");
    expect(errorFromResponse(response(403, '{"message":"Certificate has expired"}'), context).hint).toContain("validity dates");
    expect(errorFromResponse(response(403, '{"message":"Credential should be scoped to a valid region"}'), context).hint).toContain("--region (us-east-1 was used)");
  });

  it("describes durations", () => {
    expect(roughDuration(0)).toBe("0 s");
    expect(roughDuration(-90_000)).toBe("1 min 30 s");
    expect(roughDuration(3_600_000)).toBe("1 h");
  });
});

describe("toCredentialProcessOutput from plain JavaScript", () => {
  it("is a USAGE error naming the field, never quoting a secret", () => {
    const c = { accessKeyId: "AKIA", secretAccessKey: "s3cr3t-key", sessionToken: "t0ken", expiration: new Date(0) };
    expect(toCredentialProcessOutput(c).Expiration).toBe("1970-01-01T00:00:00Z");
    const cases: [unknown, string][] = [
      [null, "the credentials must be an object"],
      [{ ...c, expiration: "2030-01-01T00:00:00Z" }, "expiration must be a valid Date"],
      [{ ...c, secretAccessKey: undefined }, "secretAccessKey must be a string"],
      [{ ...c, sessionToken: 42 }, "sessionToken must be a string"],
    ];
    for (const [credentials, message] of cases) {
      const error = (() => {
        try {
          toCredentialProcessOutput(credentials as never);
        } catch (e) {
          return e as AgentError;
        }
        throw new Error("expected a throw");
      })();
      expect(error).toMatchObject({ code: "USAGE", message });
      expect(error.message).not.toMatch(/s3cr3t|t0ken/);
    }
  });
});

describe("formatExpiration from plain JavaScript", () => {
  it("is a USAGE error for what is not a valid Date (before: a raw TypeError or RangeError)", () => {
    expect(formatExpiration(new Date(0))).toBe("1970-01-01T00:00:00Z");
    for (const date of [null, undefined, "2030-01-01T00:00:00Z", 0, {}, new Date(Number.NaN)]) {
      expect(() => formatExpiration(date as never)).toThrow(
        expect.objectContaining({ code: "USAGE", message: "the expiration must be a valid Date" }),
      );
    }
  });
});

describe("caBundleOf: the CA bundle https trusts (what a reload digests)", () => {
  it("--ca-bundle trimmed wins; blank, AWS_CA_BUNDLE trimmed; the process's environment when none is given", () => {
    const env = { AWS_CA_BUNDLE: " /etc/env-ca.pem\n" };
    expect(caBundleOf({ caBundle: " /etc/given-ca.pem\n", env })).toEqual({ value: "/etc/given-ca.pem", name: "--ca-bundle" });
    expect(caBundleOf({ caBundle: " \n", env })).toEqual({ value: "/etc/env-ca.pem", name: "AWS_CA_BUNDLE" });
    expect(caBundleOf({ env: { AWS_CA_BUNDLE: " " } })).toBeUndefined();
    vi.stubEnv("AWS_CA_BUNDLE", "/etc/process-ca.pem");
    try {
      expect(caBundleOf({})).toEqual({ value: "/etc/process-ca.pem", name: "AWS_CA_BUNDLE" });
      expect(caBundleOf({ env: {} })).toBeUndefined();
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
