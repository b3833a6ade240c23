import { parseRoleArn } from "../arn.js";
import { InputError } from "../errors.js";
import type { Signer } from "../signers/signer.js";
import { signingAlgorithmFor } from "../sigv4x509/types.js";
import { signX509Request, type X509SigningInput } from "../sigv4x509/sign-request.js";
import { resolveEndpoint, type Endpoint, type EndpointSettings } from "./endpoint.js";
import { resolveSessionRegion } from "./region.js";
import { buildCreateSessionRequest, type CreateSessionHttpRequest } from "./request.js";
import type { CreateSessionParams } from "./types.js";

/** Where and what to send: everything about the call that does not depend on the key or the time. */
export interface CreateSessionTarget {
  readonly endpoint: Endpoint;
  /** The signing region. */
  readonly region: string;
  readonly request: CreateSessionHttpRequest;
}

/** The certificate facts and signing function of one signer, fetched once per CreateSession call. */
export type SigningMaterial = Omit<X509SigningInput, "date" | "region">;

/** A request ready to send with any HTTP client. */
export interface SignedCreateSessionRequest {
  readonly url: string;
  readonly method: "POST";
  /** Every header to send (add `Content-Length` and, if you like, `User-Agent`). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** For --debug: the SigV4 intermediate values. */
  readonly canonicalRequest: string;
  readonly stringToSign: string;
}

/** Validates the ARNs and region, resolves the endpoint and builds the unsigned request. No I/O. */
export function prepareCreateSession(params: CreateSessionParams, settings: EndpointSettings = {}): CreateSessionTarget {
  const where = resolveSessionRegion(params);
  parseRoleArn(params.roleArn);
  const endpoint = resolveEndpoint(where, settings);
  return { endpoint, region: where.region, request: buildCreateSessionRequest(endpoint, params) };
}

export async function signingMaterialFor(signer: Signer): Promise<SigningMaterial> {
  const certificate = await signer.certificate();
  if (!certificate) {
    throw new InputError("CERTIFICATE_MISSING", "unable to find certificate", {
      hint: "CreateSession needs the X.509 certificate of the key: give --certificate (a PEM/DER file or a pkcs11: URI)",
    });
  }
  const chain = await signer.certificateChain();
  return {
    algorithm: signingAlgorithmFor(signer.keyType),
    leaf: { der: certificate.der, serialDecimal: certificate.serialDecimal },
    chain: chain.map((c) => c.der),
    sign: (stringToSign) => signer.sign(stringToSign, "SHA256"),
  };
}

export async function signCreateSessionRequest(
  target: CreateSessionTarget,
  material: SigningMaterial,
  date: Date,
): Promise<SignedCreateSessionRequest> {
  const { request } = target;
  const signed = await signX509Request(
    { method: request.method, path: request.path, query: request.query, headers: request.headers, body: request.body },
    { ...material, region: target.region, date },
  );
  return {
    url: request.url,
    method: request.method,
    headers: signed.headers,
    body: request.body,
    canonicalRequest: signed.canonicalRequest,
    stringToSign: signed.stringToSign,
  };
}

/**
 * A signed CreateSession request for callers with their own HTTP stack. Send it within five minutes of
 * `date`; a retry must be signed again with a fresh date.
 */
export async function createSignedCreateSessionRequest(
  signer: Signer,
  params: CreateSessionParams,
  options: EndpointSettings & { date?: Date } = {},
): Promise<SignedCreateSessionRequest> {
  const target = prepareCreateSession(params, options);
  return signCreateSessionRequest(target, await signingMaterialFor(signer), options.date ?? new Date());
}
