/**
 * CreateSession's answers read exactly: the time formats, the bounds (5 minutes of skew, year 9999, statuses 300,
 * 500 and 599), which answers are throttling, and what each error carries (request id, service code, hint,
 * Retry-After). Each test was written because a mutation of the line it checks went unnoticed by the other tests.
 */
import { describe, expect, it } from "vitest";
import type { ServiceError } from "../../src/errors.js";
import type { HttpResponse } from "../../src/rolesanywhere/http-client.js";
import { isKnownRegion, knownRegionNames } from "../../src/rolesanywhere/partitions.js";
import { errorFromResponse, parseCreateSessionResponse, sanitizeErrorCode } from "../../src/rolesanywhere/response.js";

const response = (status: number, body: string, headers: Record<string, string> = {}): HttpResponse =>
  ({ status, headers, body: Buffer.from(body) });
const context = { receivedAt: new Date("2026-11-23T10:20:30Z"), endpoint: "https://gw.example", region: "us-east-1" };
const error = (status: number, body: string, headers: Record<string, string> = {}) =>
  errorFromResponse(response(status, body, headers), context) as ServiceError;

const session = (expiration: string) =>
  JSON.stringify({
    credentialSet: [{ credentials: { accessKeyId: "AKIA", secretAccessKey: "s", sessionToken: "t", expiration } }],
  });
const parse = (body: string, headers: Record<string, string> = {}) =>
  parseCreateSessionResponse(response(201, body, headers), context);

describe("a CreateSession answer", () => {
  it("takes an RFC 3339 expiration with a fraction or an offset, up to the last second of year 9999", () => {
    const expiration = (text: string) => parse(session(text)).credentials.expiration.toISOString();
    expect(expiration("2026-11-23T11:20:30.123Z")).toBe("2026-11-23T11:20:30.123Z");
    expect(expiration("2026-11-23T12:20:30+01:00")).toBe("2026-11-23T11:20:30.000Z");
    expect(parse(session("9999-12-31T23:59:59Z")).credentials.expiration.getUTCFullYear()).toBe(9999);
  });

  it("names the request id in what it refuses, and the endpoint in expired credentials", () => {
    const id = { "x-amz-request-id": "req-1" };
    expect(() => parse("{}", id)).toThrow(/the answer has no credentialSet/);
    expect(() => parse("[1]", id)).toThrow(
      "CreateSession answered HTTP 201 from https://gw.example but the body is not a JSON object [request id req-1]",
    );
    const expired = session("2026-11-23T10:00:00Z");
    expect(() => parse(expired, id)).toThrow(/CreateSession at https:\/\/gw\.example \[request id req-1\]/);
    expect(parse(session("2026-11-23T11:20:30Z"), id).requestId).toBe("req-1");
  });

  it("refuses an accessKeyId that is empty or not a string; without a request id, says nothing of one", () => {
    for (const accessKeyId of ["", 123]) {
      type Body = { credentialSet: [{ credentials: Record<string, unknown> }] };
      const body = JSON.parse(session("2026-11-23T11:20:30Z")) as Body;
      body.credentialSet[0].credentials["accessKeyId"] = accessKeyId;
      expect(() => parse(JSON.stringify(body))).toThrow(expect.objectContaining({
        message: "CreateSession answered HTTP 201 from https://gw.example but " +
          "credentialSet[0].credentials.accessKeyId is missing or empty",
      }));
    }
  });
});

describe("an error answer", () => {
  it("hints at the clock only beyond 5 minutes of skew", () => {
    const skewed = (date: string) => error(403, '{"message":"denied"}', { date }).hint ?? "";
    expect(skewed("Mon, 23 Nov 2026 10:25:30 GMT")).not.toMatch(/system clock/); // exactly 5 minutes
    expect(skewed("Mon, 23 Nov 2026 10:25:31 GMT")).toMatch(/^the system clock is .* behind the endpoint's/);
    expect(skewed("Mon, 23 Nov 2026 11:25:31 +0100")).toMatch(/behind the endpoint's/); // an offset, not GMT
  });

  it("reads the statuses at the edges: 300 is a redirect, 500 and 599 the service's failure, 429 throttling", () => {
    expect(error(300, "")).toMatchObject({
      code: "RESPONSE_INVALID", serviceCode: "",
      hint: "CreateSession is never redirected: check --endpoint (https:// vs http://, the path prefix)",
    });
    for (const status of [500, 599]) {
      expect(error(status, "<html>down</html>")).toMatchObject({
        code: "SERVICE_UNAVAILABLE", hint: "a problem on the service side: try again later",
      });
    }
    expect(error(429, "<html>slow down</html>")).toMatchObject({ code: "THROTTLED" });
    expect(error(300, "").message).toBe("https://gw.example answered HTTP 300 (a redirect)");
    expect(error(407, "")).toMatchObject({ code: "NETWORK_ERROR", serviceCode: "" });
  });

  it.each(["Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "EC2ThrottledException"])("%s at HTTP 400 is throttling (botocore's list)", (type) => {
    expect(error(400, JSON.stringify({ __type: type }))).toMatchObject({ code: "THROTTLED", serviceCode: type });
  });

  it("a page that is not JSON is a proxy's or portal's: no service code, the hint asks about --endpoint", () => {
    expect(error(403, "<html>login</html>")).toMatchObject({
      code: "RESPONSE_INVALID", serviceCode: "",
      hint: "is --endpoint a Roles Anywhere endpoint? a proxy or captive portal may be answering",
    });
  });

  it("a throttling error type is throttling whatever the status; Retry-After only counts when retrying", () => {
    expect(error(400, '{"__type":"ThrottlingException"}', { "retry-after": " 5 " })).toMatchObject({
      code: "THROTTLED", retryAfterMs: 5000,
    });
    expect(error(403, '{"__type":"AccessDeniedException"}', { "retry-after": "5" }).retryAfterMs).toBeUndefined();
  });

  it("without a message, says only the error type; the request id comes from either header", () => {
    const e = error(403, '{"__type":"AccessDeniedException"}', { "x-amz-request-id": "r-2" });
    expect(e.message).toBe("CreateSession refused (HTTP 403 AccessDeniedException) [request id r-2]");
    expect(e.requestId).toBe("r-2");
  });

  it("cuts an error code to 100 characters", () => {
    expect(sanitizeErrorCode("E".repeat(150))).toBe("E".repeat(100));
  });
});

describe("regions", () => {
  it("a region is known from a partition's list or pattern, and only then", () => {
    expect(isKnownRegion("us-east-1")).toBe(true);
    expect(isKnownRegion("eu-west-9")).toBe(true); // the pattern: a region opened after this release
    expect(isKnownRegion("aws-global")).toBe(true); // the list only
    expect(isKnownRegion("us-east1")).toBe(false);
  });

  it("suggestions are real regions, the global pseudo-regions left out", () => {
    const names = knownRegionNames();
    expect(names).toContain("us-east-1");
    expect(names).toContain("cn-north-1");
    expect(names.filter((n) => n.endsWith("-global"))).toEqual([]);
  });
});
