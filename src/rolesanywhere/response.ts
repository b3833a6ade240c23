import { usableCredentials } from "./credentials.js";
import { boundedLine, NetworkError, ServiceError, type AgentError, type ErrorCode } from "../errors.js";
import type { HttpResponse } from "./http-client.js";
import type { CreateSessionResult } from "./types.js";
import { isPlainObject, ownValue } from "../own-value.js";
import { parseJson } from "../io/json.js";
import { roughDuration } from "../x509/validity.js";

/** What the interpretation of an answer needs to know besides the answer. */
interface ResponseContext {
  /** When the answer arrived, by the (injectable) clock that dates the signatures. */
  readonly receivedAt: Date;
  /** Base URL, for messages. */
  readonly endpoint: string;
  readonly region: string;
}

/** Beyond this, the service rejects signatures: worth telling the user. */
export const CLOCK_SKEW_LIMIT_MS = 5 * 60_000;

const NOT_ROLES_ANYWHERE = "is --endpoint a Roles Anywhere endpoint? a proxy or captive portal may be answering";

/** The first value of a header. */
function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function requestIdOf(response: HttpResponse): string | undefined {
  const id = header(response, "x-amzn-requestid") ?? header(response, "x-amz-request-id");
  return id ? boundedLine(id, 100) : undefined;
}

/** An HTTP-date (RFC 9110 §5.6.7) in epoch ms: GMT whatever TZ says, the zoneless asctime form too; NaN if none. */
function httpDate(text: string): number {
  if (text.endsWith(" GMT")) return Date.parse(text); // IMF-fixdate, as AWS sends it: no pattern to compile
  return Date.parse(/\b(GMT|UTC?|Z)\b|[+-]\d{4}\b/i.test(text) ? text : `${text} GMT`);
}

/** Milliseconds the endpoint's clock (`Date` header) is ahead of ours; undefined without a usable header. */
export function clockSkewMs(response: HttpResponse, receivedAt: Date): number | undefined {
  const serverTime = httpDate(response.headers["date"] ?? "");
  return Number.isNaN(serverTime) ? undefined : serverTime - receivedAt.getTime();
}

/**
 * `Retry-After` as milliseconds from `receivedAt`: delta-seconds or an HTTP date (RFC 9110 §10.2.3);
 * undefined when absent or unreadable. A date in the past means 0.
 */
function retryAfterMs(response: HttpResponse, receivedAt: Date): number | undefined {
  const text = header(response, "retry-after")?.trim();
  if (!text) return undefined;
  // Any number of digits: 10^12 s asks for more than the ceiling (retry.ts), so the ceiling is waited, not nothing.
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, Number.MAX_SAFE_INTEGER);
  const at = httpDate(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - receivedAt.getTime());
}

/** Our clock against the endpoint's for a {@link clockSkewMs}: `10 min behind the endpoint's` when it is ahead. */
export function clockSkewText(skewMs: number): string {
  return `${roughDuration(skewMs)} ${skewMs > 0 ? "behind" : "ahead of"} the endpoint's`;
}

function clockSkewHint(response: HttpResponse, receivedAt: Date): string | undefined {
  const skew = clockSkewMs(response, receivedAt);
  if (skew === undefined || Math.abs(skew) <= CLOCK_SKEW_LIMIT_MS) return undefined;
  const date = boundedLine(response.headers["date"] ?? "", 40); // Date.parse skips (comments): printable, short
  const fix = "fix the clock (NTP); signatures are only accepted within 5 minutes";
  return `the system clock is ${clockSkewText(skew)} (Date: ${date}): ${fix}`;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses a 2xx CreateSession body; any missing piece is a RESPONSE_INVALID error naming the field, never a crash. */
export function parseCreateSessionResponse(response: HttpResponse, context: ResponseContext): CreateSessionResult {
  const requestId = requestIdOf(response);
  const where = requestId ? ` [request id ${requestId}]` : "";
  const invalid = (what: string) =>
    new NetworkError("RESPONSE_INVALID", `CreateSession answered HTTP ${response.status} from ${context.endpoint} but ${what}${where}`, {
      hint: NOT_ROLES_ANYWHERE,
    });
  const parsed = parseJson(response.body);
  if (parsed === undefined) throw invalid(response.body.length === 0 ? "the body is empty" : "the body is not JSON");
  if (!isPlainObject(parsed)) throw invalid("the body is not a JSON object");
  const set = parsed["credentialSet"];
  if (!Array.isArray(set) || set.length === 0) {
    throw new NetworkError("RESPONSE_INVALID", "unable to obtain temporary security credentials from CreateSession: the answer has no credentialSet", {
      hint: NOT_ROLES_ANYWHERE,
    });
  }
  const first: unknown = set[0];
  if (!isPlainObject(first) || !isPlainObject(first["credentials"])) throw invalid("credentialSet[0].credentials is missing");
  const c = first["credentials"];
  const field = (name: string): string => {
    const value = nonEmptyString(c[name]);
    if (value === undefined) throw invalid(`credentialSet[0].credentials.${name} is missing or empty`);
    return value;
  };
  const names = ["accessKeyId", "secretAccessKey", "sessionToken", "expiration"];
  const [accessKeyId, secretAccessKey, sessionToken, expirationText] = names.map(field) as [string, string, string, string];
  const expiration = new Date(expirationText);
  if (!RFC3339.test(expirationText) || Number.isNaN(expiration.getTime())) {
    throw invalid(`credentialSet[0].credentials.expiration is not an RFC 3339 time ('${boundedLine(expirationText, 40)}')`);
  }
  // 9999-12-31T23:59:59-01:00 would be printed as +010000-…, which no SDK reads.
  if (expiration.getUTCFullYear() > 9999) throw invalid("credentialSet[0].credentials.expiration is after year 9999");
  // Refused here so that credential-process, which has no cache, applies the refresh engine's rule too; with no
  // margin, as the AWS SDKs' process provider: the long-running consumers add their own (RefreshPolicy).
  const from = `CreateSession at ${context.endpoint}${where}`;
  const credentials = usableCredentials({ accessKeyId, secretAccessKey, sessionToken, expiration }, context.receivedAt.getTime(), from, 0);
  const user = isPlainObject(first["assumedRoleUser"]) ? first["assumedRoleUser"] : {};
  const optional = {
    subjectArn: nonEmptyString(parsed["subjectArn"]),
    assumedRoleArn: nonEmptyString(user["arn"]),
    assumedRoleId: nonEmptyString(user["assumedRoleId"]),
    roleArn: nonEmptyString(first["roleArn"]),
    sourceIdentity: nonEmptyString(first["sourceIdentity"]),
    requestId,
    clockSkewMs: clockSkewMs(response, context.receivedAt),
  };
  return {
    credentials,
    ...(Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) as Partial<CreateSessionResult>),
  };
}

/** `AccessDeniedException:http://…` → `AccessDeniedException`; `com.amazon…#ValidationException` → `ValidationException`. */
export function sanitizeErrorCode(raw: string): string {
  const code = raw.split(":")[0]!;
  return code.slice(code.lastIndexOf("#") + 1).replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 100);
}

/** The service's error types for a refused request: the error code and HTTP status of each. */
const REFUSALS: Readonly<Record<string, readonly [ErrorCode, number]>> = {
  AccessDeniedException: ["ACCESS_DENIED", 403],
  ValidationException: ["VALIDATION_FAILED", 400],
  ResourceNotFoundException: ["RESOURCE_NOT_FOUND", 404],
};

/** botocore's throttling error types: the request was throttled whatever the status (AWS often sends HTTP 400). */
const THROTTLING_TYPES: ReadonlySet<string> = new Set(["Throttling", "ThrottlingException", "ThrottledException",
  "RequestThrottledException", "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
  "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "EC2ThrottledException"]);

/** By the error type (own properties only: "toString" or "constructor" must not reach Object.prototype), else by the status. */
export function refusalCode(serviceCode: string, status: number): ErrorCode {
  return (ownValue(REFUSALS, serviceCode) ?? Object.values(REFUSALS).find(([, s]) => s === status))?.[0] ?? "SERVICE_ERROR";
}

/**
 * The error for a non-2xx answer: the service code from `X-Amzn-ErrorType` or the JSON `__type`/`code`,
 * the message from `message`/`Message`, and a hint for the common causes.
 */
export function errorFromResponse(response: HttpResponse, context: ResponseContext): AgentError {
  const { status } = response;
  const requestId = requestIdOf(response);
  const where = requestId ? ` [request id ${requestId}]` : "";
  const headerCode = sanitizeErrorCode(header(response, "x-amzn-errortype") ?? "");

  if (status < 200 || status > 599) {
    const what = `${context.endpoint} answered HTTP ${status}, which is not an answer to CreateSession${where}`;
    return new NetworkError("RESPONSE_INVALID", what, { hint: NOT_ROLES_ANYWHERE });
  }
  if (status === 407) {
    const hint = "put http://user:password@host:port in HTTP_PROXY, or name the host in NO_PROXY";
    const what = `a proxy on the way to ${context.endpoint} wants a login (HTTP 407)${where}`;
    return new ServiceError("NETWORK_ERROR", what, { status, serviceCode: "", requestId }, { hint }); // refusalOf
  }
  if (status >= 300 && status < 400) {
    const location = response.headers["location"];
    const to = location ? ` to ${boundedLine(location, 200)}` : "";
    const what = `${context.endpoint} answered HTTP ${status} (a redirect${to})${where}`;
    const hint = "CreateSession is never redirected: check --endpoint (https:// vs http://, the path prefix)";
    return new ServiceError("RESPONSE_INVALID", what, { status, serviceCode: "", requestId }, { hint }); // refusalOf
  }

  const parsed = response.body.length === 0 ? {} : parseJson(response.body);
  const retryable = status === 429 || status >= 500;
  if (parsed === undefined && !headerCode && !retryable) {
    // A proxy's or captive portal's page: a network error (exit 7), with its status for refusalOf.
    const what = `${context.endpoint} answered HTTP ${status} with a body that is not JSON${where}`;
    const details = { status, serviceCode: "", requestId };
    return new ServiceError("RESPONSE_INVALID", what, details, { hint: NOT_ROLES_ANYWHERE });
  }
  const json = isPlainObject(parsed) ? parsed : {};
  // Strings only: String() of an object whose toString is not a function throws (found by the fuzzer).
  const bodyCode = sanitizeErrorCode([json["__type"], json["code"], json["Code"]].find((v): v is string => typeof v === "string") ?? "");
  const serviceCode = headerCode || bodyCode || "UnknownError";
  const rawMessage = json["message"] ?? json["Message"];
  const message = typeof rawMessage === "string" ? boundedLine(rawMessage, 300) : "";
  const what = `${serviceCode}${message ? `: ${message}` : ""}`;
  const throttled = status === 429 || THROTTLING_TYPES.has(serviceCode);
  const details = { status, serviceCode, requestId, ...(retryable || throttled ? { retryAfterMs: retryAfterMs(response, context.receivedAt) } : {}) };

  if (throttled) {
    return new ServiceError("THROTTLED", `CreateSession was throttled by ${context.endpoint} (HTTP ${status} ${what})${where}`, details, {
      hint: "Roles Anywhere limits CreateSession calls per account and region: let the agent (roles-anywhere-agent agent), serve or update cache credentials instead of calling CreateSession for every command",
    });
  }
  if (status >= 500) {
    return new ServiceError("SERVICE_UNAVAILABLE", `${context.endpoint} failed to answer CreateSession (HTTP ${status} ${what})${where}`, details, {
      hint: "a problem on the service side: try again later",
    });
  }
  const code = refusalCode(serviceCode, status);
  const hint = clockSkewHint(response, context.receivedAt) ?? hintFor(code, message, context);
  return new ServiceError(code, `CreateSession refused (HTTP ${status} ${what})${where}`, details, hint ? { hint } : {});
}

/** SigV4's words for a request dated more than 5 minutes off (also without a Date a proxy dropped or rewrote). */
export const CLOCK_REFUSAL = /signature (expired|not yet current)|is (now earlier|still later) than/i;

function hintFor(code: ErrorCode, message: string, context: ResponseContext): string | undefined {
  if (/untrusted|not trusted|trust anchor|chain|issuer/i.test(message)) {
    return "check that --trust-anchor-arn names the trust anchor whose CA issued the certificate, and that intermediate CAs are sent (--intermediates, or a certificate file holding the full chain)";
  }
  if (CLOCK_REFUSAL.test(message)) {
    return "the system clock is more than 5 minutes off (date -u): fix it (NTP); the key is not the problem";
  }
  if (/signature/i.test(message)) {
    return "check that the private key belongs to the certificate, and that the system clock is right";
  }
  if (/region/i.test(message)) {
    return `check --region (${context.region} was used): requests must be signed for the region of the trust anchor and profile`;
  }
  if (/expired|not yet valid|validity/i.test(message)) {
    return "check the certificate's validity dates (openssl x509 -noout -dates -in CERT) and the system clock";
  }
  const byCode: Partial<Record<ErrorCode, string>> = {
    ACCESS_DENIED:
      "check that the trust anchor and profile are enabled, the role is listed in the profile, and the role's trust policy allows rolesanywhere.amazonaws.com",
    RESOURCE_NOT_FOUND: `check the profile and trust anchor ARNs and that they exist in ${context.region}`,
    VALIDATION_FAILED: "check --session-duration (900–43200 s, and within the profile's limit) and --role-session-name",
  };
  return byCode[code];
}
