import { codePointName, InputError, UsageError } from "./errors.js";

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A syntactically valid `arn:<partition>:rolesanywhere:<region>:<account>:trust-anchor/<id>`. */
export type TrustAnchorArn = Brand<string, "TrustAnchorArn">;
/** A syntactically valid `arn:<partition>:rolesanywhere:<region>:<account>:profile/<id>`. */
export type ProfileArn = Brand<string, "ProfileArn">;
/** A syntactically valid `arn:<partition>:iam::<account>:role/<path/name>`. */
export type RoleArn = Brand<string, "RoleArn">;

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  accountId: string;
  resource: string;
}

/** IAM's longest role ARN (AssumeRole's RoleArn): a longer text is not quoted back whole. */
const MAX_ARN_LENGTH = 2048;

/** Splits an ARN into its six sections, as the AWS SDKs do (the resource may contain `:`). */
export function parseArn(text: string, what = "ARN"): ParsedArn {
  if (typeof text !== "string") throw new UsageError("USAGE", `the ${what} must be a string`); // plain JavaScript
  // Role paths and names, account ids, regions and Roles Anywhere ids are all printable ASCII without spaces (IAM's
  // rules): anything else is named by its code point, never quoted (a line break would forge a line where it is shown).
  if (text.length > MAX_ARN_LENGTH) {
    const message = `invalid ${what}: ${text.length} characters, more than an ARN's ${MAX_ARN_LENGTH}`;
    throw new InputError("ARN_INVALID", message);
  }
  const odd = text.search(/[^\x21-\x7e]/);
  if (odd !== -1) {
    const code = codePointName(text.slice(odd));
    throw new InputError("ARN_INVALID", `invalid ${what}: character ${odd + 1} is ${code}`, {
      hint: "an ARN is printable ASCII, without spaces or control characters: copy it again",
    });
  }
  if (!text.startsWith("arn:")) {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': an ARN starts with 'arn:'`);
  }
  // The five separators found in place: split(":") and a rest join made ~10 strings and two arrays per call.
  const first = 3; // "arn:" starts the text
  const second = text.indexOf(":", first + 1);
  const third = second === -1 ? -1 : text.indexOf(":", second + 1);
  const fourth = third === -1 ? -1 : text.indexOf(":", third + 1);
  const fifth = fourth === -1 ? -1 : text.indexOf(":", fourth + 1);
  if (fifth === -1) {
    throw new InputError(
      "ARN_INVALID",
      `invalid ${what} '${text}': expected arn:partition:service:region:account:resource`,
    );
  }
  const partition = text.slice(first + 1, second);
  const service = text.slice(second + 1, third);
  const region = text.slice(third + 1, fourth);
  const accountId = text.slice(fourth + 1, fifth);
  const resource = text.slice(fifth + 1);
  if (!partition || !service || !resource) {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': partition, service and resource must not be empty`);
  }
  return { partition, service, region, accountId, resource };
}

function rolesAnywhereArn(text: string, kind: "trust-anchor" | "profile", what: string): ParsedArn {
  const arn = parseArn(text, what);
  if (arn.service !== "rolesanywhere") {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': service is '${arn.service}', expected 'rolesanywhere'`);
  }
  if (!arn.resource.startsWith(`${kind}/`) || !/^[\w-]+$/.test(arn.resource.slice(kind.length + 1))) {
    const message = `invalid ${what} '${text}': resource must be '${kind}/<id>', the id of letters, digits, _ and -`;
    throw new InputError("ARN_INVALID", message);
  }
  if (!arn.region || !arn.accountId) {
    const section = arn.region ? "account" : "region";
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': the ${section} section is empty`);
  }
  return arn;
}

export function parseTrustAnchorArn(text: string): TrustAnchorArn {
  rolesAnywhereArn(text, "trust-anchor", "trust anchor ARN");
  return text as TrustAnchorArn;
}

export function parseProfileArn(text: string): ProfileArn {
  rolesAnywhereArn(text, "profile", "profile ARN");
  return text as ProfileArn;
}

/** The region of a trust anchor or profile ARN, after the checks of {@link parseTrustAnchorArn} / {@link parseProfileArn}. */
export function checkedRegionOf(text: string, kind: "trust-anchor" | "profile"): string {
  return rolesAnywhereArn(text, kind, kind === "trust-anchor" ? "trust anchor ARN" : "profile ARN").region;
}

export function parseRoleArn(text: string): RoleArn {
  const arn = parseArn(text, "role ARN");
  if (arn.service !== "iam" || !arn.accountId || !arn.resource.startsWith("role/")) {
    throw new InputError("ARN_INVALID", `invalid role ARN '${text}': expected arn:<partition>:iam::<account>:role/<name>`);
  }
  // IAM: a path `/` or `/…/` of at most 512 characters (printable ASCII: parseArn), a name of 1 to 64 of [\w+=,.@-].
  const name = arn.resource.slice(arn.resource.lastIndexOf("/") + 1);
  const nameOk = /^[\w+=,.@-]{1,64}$/.test(name);
  if (!nameOk || arn.resource.length - name.length - 4 > 512) {
    const which = nameOk ? "the path is longer than 512 characters" : `the role name '${name}' is not valid`;
    throw new InputError("ARN_INVALID", `invalid role ARN '${text}': ${which}`, {
      hint: "a role name is 1 to 64 letters, digits and _+=,.@- after role/ and an optional /path/",
    });
  }
  return text as RoleArn;
}

export function regionOf(arn: TrustAnchorArn | ProfileArn): string {
  return parseArn(arn).region;
}
