import { UsageError } from "../errors.js";
import { isPlainObject, VALID_DATE, wrongOption, type Kinds } from "../own-value.js";
import { authorizationHeader } from "./authorization.js";
import { canonicalRequestWith, canonicalHeaders, signedHeadersList, wrongRequest } from "./canonical-request.js";
import { amzDate } from "./scope.js";
import { stringToSign } from "./string-to-sign.js";
import type { HttpRequestToSign, SignFunction, SigningAlgorithm } from "./types.js";

/** Headers that are never signed (they change in transit or are added after signing). */
const UNSIGNED_HEADERS: ReadonlySet<string> = new Set([
  "authorization",
  "user-agent",
  "x-amzn-trace-id",
  "content-length",
  "connection",
  "expect",
  "transfer-encoding",
  "accept-encoding",
]);

export interface X509SigningInput {
  algorithm: SigningAlgorithm;
  /** DER of the leaf certificate and its serial number in decimal. */
  leaf: { der: Uint8Array; serialDecimal: string };
  /** DER of each intermediate certificate, in the order to send them. */
  chain: readonly Uint8Array[];
  region: string;
  /** The signing time: injected, never read from a clock here. */
  date: Date;
  sign: SignFunction;
}

const isBytes = (v: unknown) => v instanceof Uint8Array;
const INPUT_KINDS: Kinds = {
  algorithm: "string", region: "string", date: VALID_DATE, sign: "function",
  leaf: [(leaf) => isPlainObject(leaf) && isBytes(leaf["der"]) && typeof leaf["serialDecimal"] === "string",
    "{ der, serialDecimal }"],
  chain: [(c) => Array.isArray(c) && c.every(isBytes), "an array of DER certificates (Uint8Array)"],
};
const INPUT_KEYS = Object.keys(INPUT_KINDS);

export interface SignedRequest {
  /** All headers to send, including `X-Amz-Date`, `X-Amz-X509[-Chain]` and `Authorization`. */
  headers: Record<string, string>;
  canonicalRequest: string;
  stringToSign: string;
  signedHeaders: string;
}

/**
 * Signs a request with SigV4-X509: adds the date and certificate headers, signs every header except
 * the transport ones, and returns the headers to send with the intermediate values (for --debug).
 */
export async function signX509Request(request: HttpRequestToSign, input: X509SigningInput): Promise<SignedRequest> {
  const named = { what: "the input", name: (f: string) => `input.${f}`, required: INPUT_KEYS };
  const wrong = wrongRequest(request) ?? wrongOption(input, INPUT_KINDS, named);
  if (wrong) throw new UsageError("USAGE", `signX509Request: ${wrong}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = typeof value === "string" ? value : value.join(",");
  }
  headers["X-Amz-Date"] = amzDate(input.date);
  headers["X-Amz-X509"] = Buffer.from(input.leaf.der).toString("base64");
  if (input.chain.length > 0) {
    headers["X-Amz-X509-Chain"] = input.chain.map((der) => Buffer.from(der).toString("base64")).join(",");
  }
  const signed = new Set(Object.keys(headers).map((h) => h.toLowerCase()).filter((h) => !UNSIGNED_HEADERS.has(h)));
  if (!signed.has("host")) throw new UsageError("USAGE", "signX509Request: the request must carry a Host header");

  const canonicalHeaderValues = canonicalHeaders(headers, signed);
  const canonical = canonicalRequestWith({ ...request, headers }, canonicalHeaderValues);
  const sts = stringToSign(input.algorithm, input.date, input.region, canonical);
  const signature = Buffer.from(await input.sign(Buffer.from(sts, "utf8"))).toString("hex");
  const signedHeaders = signedHeadersList(canonicalHeaderValues);
  const { algorithm, leaf, date, region } = input;
  headers["Authorization"] = authorizationHeader(algorithm, leaf.serialDecimal, date, region, signedHeaders, signature);
  return { headers, canonicalRequest: canonical, stringToSign: sts, signedHeaders };
}
