import { goJsonStringify } from "./credentials.js";
import { UsageError } from "../errors.js";
import { wholeNumberProblem, wrongOption, type Kinds } from "../own-value.js";
import { uriEncode } from "../sigv4x509/uri-encoding.js";
import type { Endpoint } from "./endpoint.js";

/** What CreateSession is asked for (the ARNs are validated by the caller: prepareCreateSession in signed-request.ts). */
export interface CreateSessionRequestParams {
  readonly trustAnchorArn: string;
  readonly profileArn: string;
  readonly roleArn: string;
  readonly durationSeconds: number;
  readonly roleSessionName?: string | undefined;
}

/** An unsigned CreateSession request, byte for byte what goes on the wire apart from the signing headers. */
export interface CreateSessionHttpRequest {
  readonly method: "POST";
  /** The path as sent: the endpoint's prefix followed by `/sessions`. */
  readonly path: string;
  /** Decoded query parameters, sorted by name. */
  readonly query: ReadonlyArray<readonly [string, string]>;
  /** The encoded query string (Go `url.Values.Encode`, but spaces as `%20`). */
  readonly queryString: string;
  /** `Content-Type` and `Host`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Compact JSON: `{"durationSeconds":N}` or `{"durationSeconds":N,"roleSessionName":"…"}`. */
  readonly body: string;
  /** The full URL (base URL, path and query). */
  readonly url: string;
}

export const MIN_DURATION_SECONDS = 900;
export const MAX_DURATION_SECONDS = 43_200;
export const DEFAULT_DURATION_SECONDS = 3600;

/** The number options' bounds, in the unit of their names here: createSession's and the settings' (a flag's timeout is seconds). */
export const NUMBER_RULES = { durationSeconds: [MIN_DURATION_SECONDS, MAX_DURATION_SECONDS], maxAttempts: [1, 10], connectTimeoutMs: [1, 3_600_000], timeoutMs: [1, 3_600_000] } as const;
/** `<name> must be …` of the first of `names` in `o` outside its bounds (own-value.ts' one rule), else undefined. */
export function numberProblem(o: object, names: readonly (keyof typeof NUMBER_RULES)[]): string | undefined {
  for (const name of names) {
    const value: unknown = (o as Record<string, unknown>)[name];
    const [min, max] = NUMBER_RULES[name];
    const problem = value === undefined ? undefined : wholeNumberProblem(value, min, max);
    if (problem) return `${name} ${problem}`;
  }
  return undefined;
}
/** What is wrong with a session duration, if anything: the one rule for every source of settings. */
export const durationProblem = (seconds: unknown) => wholeNumberProblem(seconds, ...NUMBER_RULES.durationSeconds);

/** What is wrong with a role session name, if anything: CreateSession's rule, 2 to 64 of [\w+=,.@-]. */
export function roleSessionNameProblem(name: string): string | undefined {
  return /^[\w+=,.@-]{2,64}$/.test(name) ? undefined : "must be 2 to 64 characters from letters, digits and _+=,.@-";
}

/** {@link CreateSessionRequestParams}' types, for callers in plain JavaScript; the ARNs are required. */
export const SESSION_PARAMS_KINDS: Kinds = {
  trustAnchorArn: "string", profileArn: "string", roleArn: "string",
  durationSeconds: "number", roleSessionName: "string", region: "string",
};
export const SESSION_ARNS = ["trustAnchorArn", "profileArn", "roleArn"];

export function buildCreateSessionRequest(endpoint: Endpoint, params: CreateSessionRequestParams): CreateSessionHttpRequest {
  const wrong = wrongOption(params, SESSION_PARAMS_KINDS, { what: "the session parameters", required: SESSION_ARNS });
  if (wrong) throw new UsageError("USAGE", wrong);
  const { durationSeconds } = params;
  const problem = durationProblem(durationSeconds); // absent too: the type says required
  if (problem) throw new UsageError("USAGE", `durationSeconds ${problem}`);
  const nameProblem = params.roleSessionName ? roleSessionNameProblem(params.roleSessionName) : undefined;
  if (nameProblem) throw new UsageError("USAGE", `roleSessionName ${nameProblem}`);
  // Already in Go's url.Values.Encode order (keys sorted).
  const query: ReadonlyArray<readonly [string, string]> = [
    ["profileArn", params.profileArn],
    ["roleArn", params.roleArn],
    ["trustAnchorArn", params.trustAnchorArn],
  ];
  const queryString = query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join("&");
  const path = `${endpoint.pathPrefix}/sessions`;
  const body = goJsonStringify(
    params.roleSessionName ? { durationSeconds, roleSessionName: params.roleSessionName } : { durationSeconds },
  );
  return {
    method: "POST",
    path,
    query,
    queryString,
    headers: { "Content-Type": "application/json", Host: endpoint.host },
    body,
    url: `${endpoint.protocol}//${endpoint.host}${path}?${queryString}`,
  };
}
