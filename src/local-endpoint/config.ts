import { parseArn, parseProfileArn, parseRoleArn, type RoleArn } from "../arn.js";
import { isPlainObject } from "../own-value.js";
import { InputError } from "../errors.js";
import { readInputFile } from "../io/input-file.js";
import { parseJsonOrFail } from "../io/json.js";
import { durationProblem } from "../rolesanywhere/request.js";
import { rethrownAs } from "./rejections.js";

/** What a profile allows: the roles it may hand out and how long sessions may last. */
export interface ProfilePolicy {
  readonly roles: ReadonlySet<RoleArn>;
  /** Upper bound (and default) of the session duration; the service's default is 3600. */
  readonly maxDurationSeconds: number | undefined;
  /** Whether a `roleSessionName` may be set (the profile's acceptRoleSessionName). */
  readonly acceptRoleSessionName: boolean;
}

/** Profiles keyed by full ARN or by ID (the part after `profile/`). No config: every profile and role is allowed. */
export interface LocalEndpointConfig {
  readonly profiles: ReadonlyMap<string, ProfilePolicy>;
}

/** The JSON form, as written in a config file or passed to startLocalEndpoint. */
export interface LocalEndpointConfigInput {
  profiles: Record<string, { roles: string[]; maxDurationSeconds?: number; acceptRoleSessionName?: boolean }>;
}

export async function loadLocalEndpointConfig(path: string): Promise<LocalEndpointConfig> {
  const { bytes } = await readInputFile(path, "local endpoint config file");
  const text = bytes.toString("utf8");
  const json = parseJsonOrFail(text, (why) => {
    throw invalid(path, why);
  });
  return parseLocalEndpointConfig(json, path);
}

export function parseLocalEndpointConfig(json: unknown, source = "config"): LocalEndpointConfig {
  if (!isPlainObject(json)) throw invalid(source, "the top level must be an object with a \"profiles\" object");
  const unknownKeys = Object.keys(json).filter((k) => k !== "profiles");
  if (unknownKeys.length > 0) throw invalid(source, `unknown key "${unknownKeys[0]}" (only "profiles" is allowed)`);
  if (!isPlainObject(json["profiles"])) throw invalid(source, "\"profiles\" must be an object: {\"<profile ARN or ID>\": {\"roles\": [...]}}");
  const profiles = new Map<string, ProfilePolicy>();
  for (const [key, value] of Object.entries(json["profiles"])) profiles.set(key, parseProfile(key, value, source));
  return { profiles };
}

/** The policy for a profile ARN: looked up by the full ARN first, then by its ID. */
export function findProfilePolicy(config: LocalEndpointConfig, profileArn: string): ProfilePolicy | undefined {
  return config.profiles.get(profileArn) ?? config.profiles.get(parseArn(profileArn).resource.slice("profile/".length));
}

function parseProfile(key: string, value: unknown, source: string): ProfilePolicy {
  const where = `profile "${key}"`;
  const withinConfig = (m: string) => invalid(source, `${where}: ${m}`);
  if (key.startsWith("arn:")) rethrownAs(withinConfig, () => parseProfileArn(key));
  else if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(key)) {
    throw withinConfig("a key must be a profile ARN or a profile ID (letters, digits, '.', '_', '-')");
  }
  if (!isPlainObject(value)) throw invalid(source, `${where} must be an object with a "roles" array`);
  const allowed = new Set(["roles", "maxDurationSeconds", "acceptRoleSessionName"]);
  const stray = Object.keys(value).find((k) => !allowed.has(k));
  if (stray) throw invalid(source, `${where} has an unknown key "${stray}" (allowed: ${[...allowed].join(", ")})`);
  const roles = value["roles"];
  if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r) => typeof r === "string")) {
    throw invalid(source, `${where}: "roles" must be a non-empty array of role ARNs`);
  }
  const max = value["maxDurationSeconds"];
  const badMax = max !== undefined && durationProblem(max);
  if (badMax) throw invalid(source, `${where}: "maxDurationSeconds" ${badMax}`);
  const accept = value["acceptRoleSessionName"];
  if (accept !== undefined && typeof accept !== "boolean") {
    throw invalid(source, `${where}: "acceptRoleSessionName" must be true or false`);
  }
  return {
    roles: new Set(roles.map((r: string) => rethrownAs(withinConfig, () => parseRoleArn(r)))),
    maxDurationSeconds: max as number | undefined,
    acceptRoleSessionName: accept ?? true,
  };
}

function invalid(source: string, what: string): InputError {
  return new InputError("CONFIG_INVALID", `invalid local endpoint config ${source}: ${what}`, {
    hint: 'expected {"profiles": {"<profile ARN or ID>": {"roles": ["arn:aws:iam::<account>:role/<name>"], "maxDurationSeconds": 3600}}}',
  });
}
