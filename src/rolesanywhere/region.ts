import { checkedRegionOf } from "../arn.js";
import { InputError, UsageError } from "../errors.js";
import { wrongOption } from "../own-value.js";
import { nearestNames } from "../nearest-names.js";
import { isKnownRegion, knownRegionNames } from "./partitions.js";
import { SESSION_PARAMS_KINDS } from "./request.js";

/** The region CreateSession is signed for and sent to, and whether the region name asked for FIPS. */
export interface SessionRegion {
  /** A real region name (a `fips-` / `-fips` pseudo-region is reduced to the region it names). */
  readonly region: string;
  /** True when the region was given as a FIPS pseudo-region such as `us-gov-west-1-fips`. */
  readonly fipsFromName: boolean;
}

/** A region is a DNS label of the endpoint's host name. */
const MAX_REGION_LENGTH = 63;

/**
 * `^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`, tested character by character: a region name is a few characters, and the
 * pattern would be compiled on every cold run.
 */
function isRegionName(name: string): boolean {
  const alnum = (c: string) => (c >= "a" && c <= "z") || (c >= "0" && c <= "9");
  if (name.length === 0 || name.length > MAX_REGION_LENGTH || !alnum(name[0]!) || !alnum(name[name.length - 1]!)) return false;
  for (const c of name) if (!alnum(c) && c !== "-") return false;
  return true;
}

/**
 * `fips-us-east-1`, `us-east-1-fips` and `aws-fips-global`-style names select the FIPS endpoint of the
 * region they name. Unlike the Go helper, the *signing* region is the real region too, not the pseudo name.
 */
export function splitFipsPseudoRegion(name: string): SessionRegion {
  if (!(name.startsWith("fips-") || name.includes("-fips-") || name.endsWith("-fips"))) return { region: name, fipsFromName: false };
  const region = name.replace(/-fips-/g, "-").replace(/^fips-/, "").replace(/-fips$/, "");
  return { region, fipsFromName: true };
}

/**
 * The region: `region` when given, else the trust anchor ARN's. The trust anchor and the profile must
 * live in the same region (the service only knows them together there).
 */
export function resolveSessionRegion(params: { trustAnchorArn: string; profileArn: string; region?: string | undefined }): SessionRegion {
  const required = ["trustAnchorArn", "profileArn"];
  const wrong = wrongOption(params, SESSION_PARAMS_KINDS, { what: "the session parameters", required });
  if (wrong) throw new UsageError("USAGE", wrong);
  const trustAnchorRegion = checkedRegionOf(params.trustAnchorArn, "trust-anchor");
  const profileRegion = checkedRegionOf(params.profileArn, "profile");
  if (trustAnchorRegion !== profileRegion) {
    throw new InputError("REGION_MISMATCH", "trust anchor and profile regions don't match", {
      hint: `the trust anchor is in ${trustAnchorRegion} but the profile is in ${profileRegion}: use a trust anchor and profile from the same region`,
    });
  }
  return checkRegionName(params.region?.trim() || trustAnchorRegion);
}

/** A region name (or FIPS pseudo-region) as {@link SessionRegion}, or ENDPOINT_INVALID. */
export function checkRegionName(given: string): SessionRegion {
  const resolved = splitFipsPseudoRegion(given);
  if (!isRegionName(resolved.region)) {
    const what = given.length > MAX_REGION_LENGTH ? `a name of ${given.length} characters` : `'${given}'`;
    throw new InputError("ENDPOINT_INVALID", `${what} is not a region name`, {
      hint: "a region looks like us-east-1: lower-case letters, digits and dashes",
    });
  }
  return resolved;
}

/**
 * Refuses a region no partition knows (`us-east1`, `eu-west`), naming the nearest real ones, before any
 * network call. Only for the regional endpoint: with an explicit endpoint, the signing region is the
 * user's to choose (private endpoints, test endpoints).
 */
export function checkKnownRegion(region: string, given: string): void {
  if (isKnownRegion(region)) return;
  const near = nearestNames(region, knownRegionNames());
  throw new InputError("REGION_UNKNOWN", `'${given}' is not an AWS region`, {
    hint: `${near.length > 0 ? `did you mean ${near.join(" or ")}? ` : ""}regions look like us-east-1 or eu-central-1; for an endpoint of your own, give --endpoint too`,
  });
}
