import { parseProfileArn, parseRoleArn, parseTrustAnchorArn, regionOf } from "../arn.js";
import { parseJson } from "../io/json.js";
import { isPlainObject } from "../own-value.js";
import type { CreateSessionParams as ClientParams } from "../rolesanywhere/types.js";
import {
  DEFAULT_DURATION_SECONDS, durationProblem, MAX_DURATION_SECONDS, MIN_DURATION_SECONDS, roleSessionNameProblem,
} from "../rolesanywhere/request.js";
import { findProfilePolicy, type LocalEndpointConfig } from "./config.js";
import { accessDenied, resourceNotFound, rethrownAs, validationFailed } from "./rejections.js";
import { queryPairs, type WireRequest } from "./wire-request.js";

/** The parameters after validation; `durationSeconds` is the length granted (requested or default, capped by the profile). */
export type CreateSessionParams = Omit<ClientParams, "region">;

const ARN_PARAMETERS = ["profileArn", "roleArn", "trustAnchorArn"] as const;

/**
 * Reads the parameters the way the service does: the three ARNs from the query string (what
 * aws_signing_helper sends) or else from the JSON body (what most other clients send); durationSeconds and
 * roleSessionName from the body.
 */
export function readCreateSessionParams(
  request: WireRequest,
  region: string,
  config: LocalEndpointConfig | undefined,
): CreateSessionParams {
  const body = parseBody(request.body);
  const query = new Map(queryPairs(request.rawQuery));
  const [profile, role, anchor] = ARN_PARAMETERS.map((name) => {
    const value = query.get(name) ?? body[name];
    if (value === undefined || value === null || value === "") {
      throw validationFailed(`1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    }
    if (typeof value !== "string") throw validationFailed(`${name} must be a string`);
    return value;
  }) as [string, string, string];
  const profileArn = rethrownAs(validationFailed, () => parseProfileArn(profile));
  const roleArn = rethrownAs(validationFailed, () => parseRoleArn(role));
  const trustAnchorArn = rethrownAs(validationFailed, () => parseTrustAnchorArn(anchor));
  for (const [what, arn] of [["Trust anchor", trustAnchorArn], ["Profile", profileArn]] as const) {
    if (regionOf(arn) !== region) {
      throw validationFailed(`${what} ARN region '${regionOf(arn)}' does not match the endpoint region '${region}'`);
    }
  }

  const requested = body["durationSeconds"];
  if (requested !== undefined && requested !== null && (typeof requested !== "number" || durationProblem(requested))) {
    throw validationFailed(`durationSeconds must be an integer from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}, got ${JSON.stringify(requested)}`);
  }
  const roleSessionName = body["roleSessionName"];
  const badName = typeof roleSessionName !== "string" ? "must be a string" : roleSessionNameProblem(roleSessionName);
  if (roleSessionName !== undefined && roleSessionName !== null && badName) {
    throw validationFailed(`roleSessionName ${badName}`);
  }

  const policy = config ? findProfilePolicy(config, profileArn) : undefined;
  if (config && !policy) throw resourceNotFound(`Profile ${profileArn} is not configured on this endpoint`);
  if (policy && !policy.roles.has(roleArn)) throw accessDenied(`Profile ${profileArn} does not allow role ${roleArn}`);
  if (policy && typeof roleSessionName === "string" && !policy.acceptRoleSessionName) {
    throw accessDenied("Not authorized to set roleSessionName.");
  }
  const max = policy?.maxDurationSeconds ?? MAX_DURATION_SECONDS;
  const wanted = typeof requested === "number" ? requested : (policy?.maxDurationSeconds ?? DEFAULT_DURATION_SECONDS);
  return {
    profileArn,
    roleArn,
    trustAnchorArn,
    durationSeconds: Math.min(wanted, max),
    roleSessionName: typeof roleSessionName === "string" ? roleSessionName : undefined,
  };
}

function parseBody(body: Buffer): Record<string, unknown> {
  const text = body.toString("utf8").trim();
  if (text === "") return {};
  const json = parseJson(text);
  if (json === undefined) throw validationFailed("The request body is not valid JSON");
  if (!isPlainObject(json)) throw validationFailed("The request body must be a JSON object");
  return json;
}
