import { NetworkError, type AgentErrorOptions, type ErrorCode } from "../errors.js";

type TransportErrorOptions = AgentErrorOptions & { readonly status?: number };

/** A failure to talk to the endpoint (or proxy); `transient` ones are worth another attempt. */
export class TransportError extends NetworkError {
  readonly transient: boolean;
  /** The HTTP status a proxy answered CONNECT with, when it did. */
  readonly status: number | undefined;

  constructor(code: ErrorCode, message: string, transient: boolean, options: TransportErrorOptions = {}) {
    super(code, message, options);
    this.transient = transient;
    this.status = options.status;
  }
}

/** What was being talked to, for messages: `endpoint https://host:443` or `proxy http://proxy:3128`. */
export interface Peer {
  readonly description: string;
  readonly hostname: string;
  readonly isProxy: boolean;
}

const UNTRUSTED_CERTIFICATE = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA",
]);

const CLOCK_DEPENDENT = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CRL_HAS_EXPIRED", "CRL_NOT_YET_VALID"]);

const TRANSIENT = new Set(["ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN", "EHOSTDOWN", "EAI_AGAIN", "ERR_STREAM_PREMATURE_CLOSE"]);

const CHECK_PROXY = "check HTTPS_PROXY / HTTP_PROXY and NO_PROXY";
const CUT_CONNECTION = "retry later; a firewall or proxy may be cutting the connection";

/** Turns a socket, DNS or TLS error into a one-line {@link TransportError} with a hint. */
export function transportError(cause: unknown, peer: Peer): TransportError {
  if (cause instanceof TransportError) return cause;
  const error = cause as NodeJS.ErrnoException;
  const code = error?.code ?? "";
  const reason = error instanceof Error ? error.message : String(cause);
  const what = peer.description;
  const where = peer.isProxy ? CHECK_PROXY : "check --endpoint (or AWS_ENDPOINT_URL_ROLESANYWHERE) and the network";
  const fail = (message: string, transient: boolean, hint: string) =>
    new TransportError("NETWORK_ERROR", message, transient, { hint, cause });

  if (UNTRUSTED_CERTIFICATE.has(code)) {
    const hint = "if the endpoint or a TLS-inspecting proxy uses a private CA, pass that CA's PEM with --ca-bundle (or AWS_CA_BUNDLE); --no-verify-ssl is for testing only";
    return fail(`the TLS certificate of ${what} is not trusted: ${reason} (${code})`, false, hint);
  }
  if (CLOCK_DEPENDENT.has(code)) {
    const hint = "check the system clock (date -u); a device without a real-time clock needs NTP before it can use TLS";
    return fail(`the TLS certificate of ${what} is not valid now: ${reason} (${code})`, false, hint);
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    const hint = "check the host name in --endpoint; a VPC endpoint needs its own DNS name, not the regional one";
    return fail(`the TLS certificate of ${what} does not name ${peer.hostname}`, false, hint);
  }
  if (code === "ENOTFOUND") {
    const hint = peer.isProxy ? CHECK_PROXY : "check the host name (--endpoint, --region) and DNS; behind a proxy set HTTPS_PROXY";
    return fail(`cannot resolve the host name of ${what}`, false, hint);
  }
  if (code === "EAI_AGAIN") return fail(`temporary DNS failure resolving the host name of ${what}`, true, "check DNS and the network");
  if (code === "ECONNREFUSED") return fail(`cannot connect to ${what}: connection refused`, true, where);
  if (code === "ECONNRESET" || code === "EPIPE" || code === "ECONNABORTED" || /socket hang up/i.test(reason)) {
    return closedEarly(what, peer.isProxy ? CHECK_PROXY : undefined, cause);
  }
  if (code.startsWith("HPE_")) {
    const hint = peer.isProxy ? CHECK_PROXY : "is --endpoint a Roles Anywhere endpoint (http:// or https://, port)?";
    const message = `${what} sent an answer that is not valid HTTP/1.1 (${code})`;
    return new TransportError("RESPONSE_INVALID", message, false, { hint, cause });
  }
  if (code.startsWith("ERR_SSL") || code === "EPROTO" || /SSL|TLS/.test(reason)) {
    // OpenSSL errors carry a short `reason` ("wrong version number") besides the long error-queue text.
    const opensslReason = (cause as { reason?: unknown } | null)?.reason;
    const short = typeof opensslReason === "string" ? opensslReason : firstLine(reason);
    const hint = "check that the endpoint speaks https on that port (http://127.0.0.1:… endpoints need http://)";
    return fail(`TLS handshake with ${what} failed: ${short}`, false, hint);
  }
  return fail(`cannot talk to ${what}: ${code || firstLine(reason)}`, TRANSIENT.has(code), where);
}

/** The connection to `what` ended before the whole response came: worth another attempt. */
export function closedEarly(what: string, hint = CUT_CONNECTION, cause?: unknown): TransportError {
  const message = `the connection to ${what} was closed before the response was complete`;
  return new TransportError("NETWORK_ERROR", message, true, { hint, cause });
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.slice(0, 200);
}
