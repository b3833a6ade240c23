import { parseRoleArn } from "../arn.js";
import { InputError, UsageError } from "../errors.js";
import { readOnce, VALID_DATE, wrongOption, type Kinds } from "../own-value.js";
import type { Signer } from "../signers/signer.js";
import { signingAlgorithmFor } from "../sigv4x509/types.js";
import { checkCertificateValidity } from "../x509/validity.js";
import { assertChainLength } from "../x509/read-certificates.js";
import { signX509Request, type X509SigningInput } from "../sigv4x509/sign-request.js";
import { ENDPOINT_SETTINGS_KINDS, resolveEndpoint, type Endpoint, type EndpointSettings } from "./endpoint.js";
import { checkKnownRegion, resolveSessionRegion } from "./region.js";
import {
  buildCreateSessionRequest,
  numberProblem,
  SESSION_ARNS,
  SESSION_PARAMS_KINDS,
  type CreateSessionHttpRequest,
} from "./request.js";
import type { CreateSessionParams } from "./types.js";

/** Where and what to send: everything about the call that does not depend on the key or the time. */
interface CreateSessionTarget {
  readonly endpoint: Endpoint;
  /** The signing region. */
  readonly region: string;
  readonly request: CreateSessionHttpRequest;
}

/** The certificate facts and signing function of one signer, fetched once per CreateSession call. */
type SigningMaterial = Omit<X509SigningInput, "date" | "region">;

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
  refuseMisplacedOptions(params);
  const where = resolveSessionRegion(params);
  parseRoleArn(params.roleArn);
  const endpoint = resolveEndpoint(where, settings);
  if (endpoint.source === "partition") checkKnownRegion(where.region, params.region?.trim() || where.region);
  return { endpoint, region: where.region, request: buildCreateSessionRequest(endpoint, params) };
}

/** The signer's certificate and chain, refused locally when the certificate is not valid at `now`. */
export async function signingMaterialFor(signer: Signer, now: Date): Promise<SigningMaterial> {
  const certificate = await signer.certificate();
  if (!certificate) {
    throw new InputError("CERTIFICATE_MISSING", "unable to find certificate", {
      hint: "CreateSession needs the X.509 certificate of the key: give --certificate (a PEM/DER file or a pkcs11: URI)",
    });
  }
  checkCertificateValidity(certificate, now);
  const chain = await signer.certificateChain();
  assertChainLength(chain.length, (i) => chain[i]!.what);
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
  const { url, method, body } = target.request;
  const { headers, canonicalRequest, stringToSign } = await signX509Request(target.request, { ...material, region: target.region, date });
  return { url, method, headers, body, canonicalRequest, stringToSign };
}

/**
 * A signed CreateSession request for callers with their own HTTP stack. Send it within five minutes of
 * `date`; a retry must be signed again with a fresh date.
 */
export async function createSignedCreateSessionRequest(
  signer: Signer,
  givenParams: CreateSessionParams,
  givenOptions: EndpointSettings & { date?: Date } = {},
): Promise<SignedCreateSessionRequest> {
  const params = readOnce(givenParams);
  const options = readOnce(givenOptions);
  checkCreateSessionArguments(signer, params, options);
  const target = prepareCreateSession(params, options);
  const date = options.date ?? new Date();
  return signCreateSessionRequest(target, await signingMaterialFor(signer, date), date);
}

const SIGNER_KINDS: Kinds = {
  certificate: "function", certificateChain: "function", sign: "function", keyType: "string",
};
const SIGNER_FIELDS = Object.keys(SIGNER_KINDS);
const OPTIONS_KINDS: Kinds = {
  ...ENDPOINT_SETTINGS_KINDS, caBundle: "string", verifyTls: "boolean", date: VALID_DATE,
  connectTimeoutMs: "number", timeoutMs: "number", maxAttempts: "number",
  retryThrottled: "boolean", now: "function", sleep: "function", random: "function", debug: "function",
};

/** The arguments of createSession and createSignedCreateSessionRequest from JavaScript: USAGE, not a TypeError. */
export function checkCreateSessionArguments(signer: unknown, params: unknown, options: unknown): void {
  const wrong =
    wrongOption(signer, SIGNER_KINDS, { what: "the signer", name: (f) => `signer.${f}`, required: SIGNER_FIELDS }) ??
    wrongOption(params, SESSION_PARAMS_KINDS, { what: "the session parameters", required: SESSION_ARNS }) ??
    wrongOption(options, OPTIONS_KINDS) ??
    numberProblem(options as object, ["connectTimeoutMs", "timeoutMs", "maxAttempts"]);
  const hint = "see docs/integrations.md (a signer from createSigner, the ARNs, options)";
  if (wrong) throw new UsageError("USAGE", wrong, { hint });
}

/** Options that belong in the last argument; in the parameters they would be ignored and the request sent to AWS. */
const ENDPOINT_OPTIONS = ["endpoint", "useFipsEndpoint", "useDualStackEndpoint", "caBundle", "verifyTls", "date", "env"] as const;

function refuseMisplacedOptions(params: CreateSessionParams): void {
  const misplaced = ENDPOINT_OPTIONS.filter((k) => Object.hasOwn(params, k));
  if (misplaced.length === 0) return;
  throw new UsageError("USAGE", `${misplaced.join(", ")} was given with the session parameters (ARNs, duration), where it would be ignored`, {
    hint: `pass it in the options, the last argument: createSignedCreateSessionRequest(signer, { trustAnchorArn, profileArn, roleArn }, { ${misplaced[0]}: … })`,
  });
}
