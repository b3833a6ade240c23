import { createHmac, timingSafeEqual } from "node:crypto";
import type { ServiceError } from "../errors.js";
import { CLOCK_SKEW_LIMIT_MS } from "../rolesanywhere/response.js";
import type { AuthorizationFields } from "../sigv4x509/authorization.js";
import { canonicalRequest } from "../sigv4x509/canonical-request.js";
import { amzDate, parseAmzDate, shortDate } from "../sigv4x509/scope.js";
import { stringToSign } from "../sigv4x509/string-to-sign.js";
import type { IssuedCredentialStore, IssuedSession } from "./issued-credentials.js";
import { rejection } from "./rejections.js";
import { headerValue, queryPairs, toRequestToSign, type WireRequest } from "./wire-request.js";

const ALGORITHM = "AWS4-HMAC-SHA256";
const STS_SERVICE = "sts";

/** A verified STS call: who made it and what it asks for. */
interface VerifiedStsCall {
  readonly session: IssuedSession;
  readonly action: string;
  readonly version: string | undefined;
}

type HmacAuthorization = Omit<AuthorizationFields, "algorithm" | "serialNumber"> & { accessKeyId: string };

/**
 * Verifies an STS Query-protocol request (POST form body, or GET query) signed with SigV4 HMAC by
 * credentials this endpoint issued: the access key and session token must belong to one issued session that
 * has not expired, and the signature must match the one recomputed from the request as received.
 */
export function verifyStsRequest(request: WireRequest, store: IssuedCredentialStore, now: Date): VerifiedStsCall {
  const header = headerValue(request, "authorization");
  if (header === undefined) throw rejection(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
  const auth = parseHmacAuthorization(header);
  if (!auth) {
    throw rejection(400, "IncompleteSignature", `Authorization header requires '${ALGORITHM} Credential=…, SignedHeaders=…, Signature=…'`);
  }
  if (auth.service !== STS_SERVICE) throw signatureMismatch(`Credential should be scoped to correct service: '${STS_SERVICE}'.`);
  const signed = new Set(auth.signedHeaders);
  const unsigned = ["host", "x-amz-date"].find((name) => !signed.has(name));
  if (unsigned !== undefined) throw signatureMismatch(`'${unsigned}' must be a signed header.`);
  const absent = [...signed].find((name) => !request.headers.has(name));
  if (absent !== undefined) throw signatureMismatch(`Signed header '${absent}' is missing from the request.`);
  const dateText = headerValue(request, "x-amz-date")!;
  const date = parseAmzDate(dateText);
  if (!date) throw signatureMismatch(`X-Amz-Date '${dateText}' is not in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z').`);
  if (shortDate(date) !== auth.date) {
    throw signatureMismatch(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${shortDate(date)}', from '${dateText}'.`);
  }
  if (Math.abs(now.getTime() - date.getTime()) > CLOCK_SKEW_LIMIT_MS) {
    throw signatureMismatch(`Signature expired: ${dateText} is more than 5 minutes from the server time ${amzDate(now)}.`);
  }

  const session = store.find(auth.accessKeyId);
  const query = new Map(queryPairs(request.rawQuery));
  const token = headerValue(request, "x-amz-security-token") ?? query.get("X-Amz-Security-Token");
  if (!session || token === undefined || !equalSecrets(token, session.credentials.sessionToken)) {
    throw rejection(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
  }
  if (now.getTime() >= session.credentials.expiration.getTime()) {
    throw rejection(403, "ExpiredToken", "The security token included in the request is expired");
  }

  const toSign = stringToSign(ALGORITHM, date, auth.region, canonicalRequest(toRequestToSign(request), signed), auth.service);
  const key = signingKey(session.credentials.secretAccessKey, auth.date, auth.region, auth.service);
  const expected = createHmac("sha256", key).update(toSign).digest("hex");
  if (!equalSecrets(expected, auth.signature)) {
    throw signatureMismatch(
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
  }

  const params = new Map([...query, ...formParams(request)]);
  const action = params.get("Action");
  if (!action) throw rejection(400, "MissingAction", "Missing Action");
  return { session, action, version: params.get("Version") };
}

function parseHmacAuthorization(value: string): HmacAuthorization | undefined {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/\s,]+)\/(\d{8})\/([^/\s,]+)\/([^/\s,]+)\/aws4_request, ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-f]{64})$/.exec(
    value.trim(),
  );
  if (!m) return undefined;
  const [accessKeyId, date, region, service, signedHeaders, signature] = m.slice(1) as [string, string, string, string, string, string];
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(";"), signature };
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  let key: Buffer = Buffer.from(`AWS4${secret}`, "utf8");
  for (const part of [date, region, service, "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  return key;
}

function formParams(request: WireRequest): [string, string][] {
  const type = headerValue(request, "content-type") ?? "";
  if (request.method !== "POST" || !type.toLowerCase().startsWith("application/x-www-form-urlencoded")) return [];
  return queryPairs(request.body.toString("utf8"));
}

function equalSecrets(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function signatureMismatch(message: string): ServiceError {
  return rejection(403, "SignatureDoesNotMatch", message);
}
