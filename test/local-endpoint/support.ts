/**
 * Test support for the local endpoint: a small node:crypto signer that signs CreateSession requests with
 * our SigV4-X509 core, and a raw HTTP(S) client that sends them exactly as built (no header rewriting).
 */
import { createPrivateKey, sign as nodeSign, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { authorizationHeader } from "../../src/sigv4x509/authorization.js";
import { canonicalRequest, canonicalHeaders, signedHeadersList } from "../../src/sigv4x509/canonical-request.js";
import { amzDate } from "../../src/sigv4x509/scope.js";
import { signX509Request } from "../../src/sigv4x509/sign-request.js";
import { stringToSign } from "../../src/sigv4x509/string-to-sign.js";
import type { SigningAlgorithm } from "../../src/sigv4x509/types.js";
import type { IssuedCertificate } from "../helpers/pki.js";

export const ARNS = {
  profileArn: "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p-test",
  roleArn: "arn:aws:iam::111122223333:role/ci/TestRole",
  trustAnchorArn: "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta-test",
} as const;

/** A leaf certificate with its key, ready to sign. */
export interface Identity {
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly serialDecimal: string;
  readonly algorithm: SigningAlgorithm;
  /** Intermediate certificates to send as X-Amz-X509-Chain. */
  readonly chain: readonly X509Certificate[];
}

export function identity(leaf: IssuedCertificate, chainPems: readonly string[] = []): Identity {
  const key = createPrivateKey(readFileSync(leaf.keyPath));
  return {
    cert: new X509Certificate(leaf.certPem),
    key,
    serialDecimal: leaf.serialDecimal,
    algorithm: key.asymmetricKeyType === "rsa" ? "AWS4-X509-RSA-SHA256" : "AWS4-X509-ECDSA-SHA256",
    chain: chainPems.map((p) => new X509Certificate(p)),
  };
}

export interface OutgoingRequest {
  method: string;
  /** Path and query as sent. */
  target: string;
  headers: Record<string, string>;
  body: string;
}

export interface SignOptions {
  region?: string;
  date?: Date;
  /** ARN parameters; sent in the query unless `arnsInBody`. */
  arns?: Partial<Record<keyof typeof ARNS, string>>;
  arnsInBody?: boolean;
  body?: Record<string, unknown>;
  /** Headers present on the wire but left out of SignedHeaders (signed by hand instead of by signX509Request). */
  unsigned?: readonly string[];
  /** More headers to send (and sign). */
  headers?: Record<string, string>;
}

/** A CreateSession request for `endpointUrl`, signed the way aws_signing_helper signs it (ARNs in the query). */
export async function signedCreateSession(endpointUrl: string, id: Identity, options: SignOptions = {}): Promise<OutgoingRequest> {
  const url = new URL(endpointUrl);
  const arns = { ...ARNS, ...options.arns };
  const query: [string, string][] = options.arnsInBody ? [] : Object.entries(arns).sort(([a], [b]) => a.localeCompare(b));
  const bodyObject = { durationSeconds: 3600, ...(options.arnsInBody ? arns : {}), ...options.body };
  const body = JSON.stringify(bodyObject);
  const region = options.region ?? "us-east-1";
  const date = options.date ?? new Date();
  const base = {
    method: "POST",
    path: "/sessions",
    query,
    headers: { Host: url.host, "Content-Type": "application/json", ...options.headers },
    body,
  };
  const sign = async (data: Uint8Array) => nodeSign("sha256", data, id.key);
  const target = `/sessions${query.length ? `?${query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&")}` : ""}`;
  if (!options.unsigned?.length) {
    const signed = await signX509Request(base, {
      algorithm: id.algorithm,
      leaf: { der: id.cert.raw, serialDecimal: id.serialDecimal },
      chain: id.chain.map((c) => c.raw),
      region,
      date,
      sign,
    });
    return { method: "POST", target, headers: signed.headers, body };
  }
  const headers: Record<string, string> = {
    ...base.headers,
    "X-Amz-Date": amzDate(date),
    "X-Amz-X509": id.cert.raw.toString("base64"),
    ...(id.chain.length ? { "X-Amz-X509-Chain": id.chain.map((c) => c.raw.toString("base64")).join(",") } : {}),
  };
  const signedSet = new Set(Object.keys(headers).map((h) => h.toLowerCase()).filter((h) => !options.unsigned!.includes(h)));
  const canonical = canonicalRequest({ ...base, headers }, signedSet);
  const signature = (await sign(Buffer.from(stringToSign(id.algorithm, date, region, canonical)))).toString("hex");
  const list = signedHeadersList(canonicalHeaders(headers, signedSet));
  headers["Authorization"] = authorizationHeader(id.algorithm, id.serialDecimal, date, region, list, signature);
  return { method: "POST", target, headers, body };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

/** Sends a request byte for byte as given (Node adds only Content-Length and Connection). */
export function send(endpointUrl: string, req: OutgoingRequest, ca?: string): Promise<Answer> {
  const url = new URL(endpointUrl);
  const requester = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = requester(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.target,
        headers: { ...req.headers, "Content-Length": String(Buffer.byteLength(req.body)) },
        ...(ca ? { ca } : {}),
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) }));
      },
    );
    r.on("error", reject);
    r.end(req.body);
  });
}
