import { UsageError } from "../errors.js";
import { ownValue, VALID_DATE, wrongOption, type Kind, type Kinds } from "../own-value.js";
import { ML_DSA_PARAMETER_SETS } from "../x509/certificate.js";
import * as authorization from "./authorization.js";
import * as canonical from "./canonical-request.js";
import * as scope from "./scope.js";
import * as sts from "./string-to-sign.js";
import * as types from "./types.js";
import * as uri from "./uri-encoding.js";

export type { HttpRequestToSign, SignFunction, SigningAlgorithm } from "./types.js";
export type { CanonicalHeaders } from "./canonical-request.js";
export type { AuthorizationFields } from "./authorization.js";
export { canonicalRequest } from "./canonical-request.js";
export { SERVICE_NAME } from "./scope.js";
export { signX509Request, type SignedRequest, type X509SigningInput } from "./sign-request.js";

/**
 * `f` as the library exports it: its arguments (plain JavaScript passes anything) checked once, here, and refused as
 * `UsageError("USAGE", "<f>: <parameter> must be …")`; the package's own callers import `f` itself, unchecked.
 * `kinds`: the parameters in order (an object's fields all required), the last `optional` of them optional.
 */
function checked<F extends (...args: never[]) => unknown>(f: F, kinds: Kinds, optional = 0): F {
  const parameters = Object.keys(kinds);
  const required = parameters.slice(0, parameters.length - optional).flatMap((p) => {
    const kind = kinds[p];
    return typeof kind === "object" && !Array.isArray(kind) ? [p, ...Object.keys(kind).map((k) => `${p}.${k}`)] : [p];
  });
  return ((...args: never[]) => {
    const wrong = wrongOption(Object.fromEntries(parameters.map((p, i) => [p, args[i]])), kinds, { required });
    if (wrong) throw new UsageError("USAGE", `${f.name}: ${wrong}`);
    return f(...args);
  }) as F;
}

const TEXT: Kind = "string";
const HEADER_MAP: Kind = [(m) => m instanceof Map, "a Map (from canonicalHeaders)"];
const KEY_TYPE: Kind = [
  (k) => k === "RSA" || k === "EC" || (typeof k === "string" && ownValue(ML_DSA_PARAMETER_SETS, k) !== undefined),
  `"RSA", "EC" or an ML-DSA key type`,
];
const { REQUEST_KINDS: REQUEST } = canonical;

export const signingAlgorithmFor = checked(types.signingAlgorithmFor, { keyType: KEY_TYPE });
export const uriEncode = checked(uri.uriEncode, { text: TEXT });
export const canonicalUri = checked(uri.canonicalUri, { path: TEXT });
export const canonicalQuery = checked(uri.canonicalQuery, { query: REQUEST["query"]! });
export const canonicalHeaders = checked(canonical.canonicalHeaders, {
  headers: REQUEST["headers"]!, signed: [(s) => s instanceof Set, "a Set of header names"],
});
export const signedHeadersList = checked(canonical.signedHeadersList, { canonical: HEADER_MAP });
export const payloadHash = checked(canonical.payloadHash, { body: REQUEST["body"]! });
export const canonicalRequestWith = checked(canonical.canonicalRequestWith, { request: REQUEST, headers: HEADER_MAP });
export const amzDate = checked(scope.amzDate, { date: VALID_DATE });
export const shortDate = checked(scope.shortDate, { date: VALID_DATE });
export const credentialScope = checked(scope.credentialScope, { date: VALID_DATE, region: TEXT, service: TEXT }, 1);
export const parseAmzDate = checked(scope.parseAmzDate, { text: TEXT });
export const stringToSign = checked(sts.stringToSign, {
  algorithm: TEXT, date: VALID_DATE, region: TEXT, canonicalRequest: TEXT, service: TEXT,
}, 1);
export const authorizationHeader = checked(authorization.authorizationHeader, {
  algorithm: TEXT, serial: TEXT, date: VALID_DATE, region: TEXT, signedHeaders: TEXT, signatureHex: TEXT,
});
export const parseAuthorizationHeader = checked(authorization.parseAuthorizationHeader, { value: TEXT });
