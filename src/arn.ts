import { InputError } from "./errors.js";

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

/** Splits an ARN into its six sections, as the AWS SDKs do (the resource may contain `:`). */
export function parseArn(text: string, what = "ARN"): ParsedArn {
  if (!text.startsWith("arn:")) {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': an ARN starts with 'arn:'`);
  }
  const parts = text.split(":");
  if (parts.length < 6) {
    throw new InputError(
      "ARN_INVALID",
      `invalid ${what} '${text}': expected arn:partition:service:region:account:resource`,
    );
  }
  const [, partition, service, region, accountId, ...rest] = parts as [string, string, string, string, string, ...string[]];
  const resource = rest.join(":");
  if (!partition || !service || !resource) {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': partition, service and resource must not be empty`);
  }
  return { partition, service, region, accountId, resource };
}

function rolesAnywhereArn<T extends TrustAnchorArn | ProfileArn>(text: string, kind: "trust-anchor" | "profile", what: string): T {
  const arn = parseArn(text, what);
  if (arn.service !== "rolesanywhere") {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': service is '${arn.service}', expected 'rolesanywhere'`);
  }
  if (!arn.resource.startsWith(`${kind}/`) || arn.resource.length === kind.length + 1) {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': resource must be '${kind}/<id>'`);
  }
  if (!arn.region) {
    throw new InputError("ARN_INVALID", `invalid ${what} '${text}': the region section is empty`);
  }
  return text as T;
}

export function parseTrustAnchorArn(text: string): TrustAnchorArn {
  return rolesAnywhereArn(text, "trust-anchor", "trust anchor ARN");
}

export function parseProfileArn(text: string): ProfileArn {
  return rolesAnywhereArn(text, "profile", "profile ARN");
}

export function parseRoleArn(text: string): RoleArn {
  const arn = parseArn(text, "role ARN");
  if (arn.service !== "iam" || !arn.resource.startsWith("role/") || arn.resource.length <= 5) {
    throw new InputError("ARN_INVALID", `invalid role ARN '${text}': expected arn:<partition>:iam::<account>:role/<name>`);
  }
  return text as RoleArn;
}

export function regionOf(arn: TrustAnchorArn | ProfileArn): string {
  return parseArn(arn).region;
}
