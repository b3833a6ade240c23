import { CLOCK_SKEW_LIMIT_MS } from "../rolesanywhere/response.js";
import { signingAlgorithmFor } from "../sigv4x509/types.js";
import { parseAuthorizationHeader, type AuthorizationFields } from "../sigv4x509/authorization.js";
import { canonicalRequest } from "../sigv4x509/canonical-request.js";
import { amzDate, parseAmzDate, SERVICE_NAME, shortDate } from "../sigv4x509/scope.js";
import { stringToSign } from "../sigv4x509/string-to-sign.js";
import { Certificate, type KeyType } from "../x509/certificate.js";
import type { LocalEndpointConfig } from "./config.js";
import { readCreateSessionParams, type CreateSessionParams } from "./create-session-params.js";
import { accessDenied } from "./rejections.js";
import { verifyCertificatePath } from "./verify-chain.js";
import { DEFAULT_SIGNATURE_VERIFIERS, type SignatureVerifiers } from "./verify-signature.js";
import { headerValue, toRequestToSign, type WireRequest } from "./wire-request.js";

/** Headers a SigV4-X509 request must sign (plus X-Amz-X509-Chain when it is sent). */
const REQUIRED_SIGNED_HEADERS = ["host", "x-amz-date", "x-amz-x509"] as const;

export interface CreateSessionPolicy {
  /** The endpoint's region: the credential scope and the ARNs must name it. */
  readonly region: string;
  readonly trustAnchors: readonly Certificate[];
  readonly config: LocalEndpointConfig | undefined;
  readonly verifiers?: SignatureVerifiers;
}

/** A CreateSession request that passed every check. */
export interface VerifiedCreateSession extends CreateSessionParams {
  readonly leaf: Certificate;
  readonly keyType: KeyType;
  /** Leaf first, trust anchor last. */
  readonly path: readonly Certificate[];
}

/**
 * Verifies a CreateSession request as IAM Roles Anywhere does, from the request as received: the SigV4-X509
 * Authorization header (scope, serial, algorithm, signed headers, date within 5 minutes of `now`), the signature
 * over the canonical request rebuilt from the wire, the certificate path to a trust anchor, then the parameters.
 */
export async function verifyCreateSessionRequest(
  request: WireRequest,
  policy: CreateSessionPolicy,
  now: Date,
): Promise<VerifiedCreateSession> {
  const auth = readAuthorization(request);
  const date = checkScopeAndDate(request, auth, policy.region, now);
  const leaf = decodeCertificate(headerValue(request, "x-amz-x509")!, "X-Amz-X509");
  if (auth.serialNumber !== leaf.serialDecimal) {
    throw accessDenied(`Credential serial number ${auth.serialNumber} does not match the signing certificate's serial number ${leaf.serialDecimal}`);
  }
  // A key OpenSSL cannot read, in an SPKI our DER reader cannot walk either, is not a key type we support.
  const keyType = await leaf.keyType().catch(() => undefined);
  if (!keyType) throw accessDenied("Signing certificate key type is not supported: use an RSA, EC or ML-DSA key");
  const expected = signingAlgorithmFor(keyType);
  if (auth.algorithm !== expected) {
    throw accessDenied(`Algorithm ${auth.algorithm} does not match the signing certificate's ${keyType} key (expected ${expected})`);
  }
  const canonical = canonicalRequest(toRequestToSign(request), new Set(auth.signedHeaders));
  const toSign = Buffer.from(stringToSign(auth.algorithm, date, auth.region, canonical), "utf8");
  const verifier = (policy.verifiers ?? DEFAULT_SIGNATURE_VERIFIERS)[keyType];
  if (!verifier) throw accessDenied(`This endpoint cannot verify ${keyType} signatures yet`);
  if (!(await verifier(leaf, toSign, Buffer.from(auth.signature, "hex")))) throw accessDenied("Signature validation failed");

  const chainHeader = headerValue(request, "x-amz-x509-chain");
  const intermediates = (chainHeader?.split(",") ?? []).map((part, i) => decodeCertificate(part, `X-Amz-X509-Chain certificate #${i + 1}`));
  const path = await verifyCertificatePath({ leaf, intermediates, anchors: policy.trustAnchors, now });
  const params = readCreateSessionParams(request, policy.region, policy.config);
  return { ...params, leaf, keyType, path };
}

function readAuthorization(request: WireRequest): AuthorizationFields {
  const header = headerValue(request, "authorization");
  if (header === undefined) throw accessDenied("Missing Authorization header: CreateSession requests must be signed with SigV4-X509");
  const auth = parseAuthorizationHeader(header);
  if (!auth) {
    const algorithm = header.trim().split(/\s/, 1)[0];
    throw accessDenied(
      algorithm?.startsWith("AWS4-X509-")
        ? "Malformed Authorization header: expected '<algorithm> Credential=<serial>/<date>/<region>/rolesanywhere/aws4_request, SignedHeaders=<list>, Signature=<hex>'"
        : `Unsupported Authorization algorithm '${algorithm}': use AWS4-X509-RSA-SHA256, AWS4-X509-ECDSA-SHA256 or AWS4-X509-MLDSA`,
    );
  }
  const signed = new Set(auth.signedHeaders);
  const required = [...REQUIRED_SIGNED_HEADERS, ...(request.headers.has("x-amz-x509-chain") ? ["x-amz-x509-chain"] : [])];
  const unsigned = required.find((name) => !signed.has(name));
  if (unsigned !== undefined) throw accessDenied(`SignedHeaders must include ${unsigned}`);
  const absent = [...signed].find((name) => !request.headers.has(name));
  if (absent !== undefined) throw accessDenied(`Signed header ${absent} is missing from the request`);
  return auth;
}

function checkScopeAndDate(request: WireRequest, auth: AuthorizationFields, region: string, now: Date): Date {
  const text = headerValue(request, "x-amz-date")!;
  const date = parseAmzDate(text);
  if (!date) throw accessDenied(`X-Amz-Date '${text}' is malformed: expected YYYYMMDD'T'HHMMSS'Z'`);
  if (auth.date !== shortDate(date)) throw accessDenied(`Credential scope date ${auth.date} does not match X-Amz-Date ${text}`);
  if (auth.region !== region) {
    throw accessDenied(`Credential should be scoped to a valid region: '${auth.region}' is not this endpoint's region '${region}'`);
  }
  if (auth.service !== SERVICE_NAME) throw accessDenied(`Credential should be scoped to the '${SERVICE_NAME}' service, not '${auth.service}'`);
  if (Math.abs(now.getTime() - date.getTime()) > CLOCK_SKEW_LIMIT_MS) {
    throw accessDenied(`Signature expired: X-Amz-Date ${text} is more than 5 minutes from the server time ${amzDate(now)}`);
  }
  return date;
}

function decodeCertificate(base64: string, header: string): Certificate {
  const text = base64.trim();
  if (text === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw accessDenied(`${header} must be a base64 DER X.509 certificate`);
  }
  try {
    return new Certificate(Buffer.from(text, "base64"));
  } catch {
    throw accessDenied(`${header} is not a valid X.509 certificate`);
  }
}
