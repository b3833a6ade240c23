import { refuseWrongOptions } from "../../signers/options.js";
import { TAGS, type PrincipalTag } from "./derive-tags.js";

export interface TrustPolicyOptions {
  /** Tags to require with StringEquals. */
  readonly conditionTags: readonly PrincipalTag[];
  /** Trust anchor ARN for `aws:SourceArn`; a placeholder when absent. */
  readonly trustAnchorArn?: string | undefined;
}

const PLACEHOLDER_ANCHOR = "arn:aws:rolesanywhere:REGION:ACCOUNT_ID:trust-anchor/TRUST_ANCHOR_ID";

/**
 * A role trust policy for the Roles Anywhere service principal, shaped as in the IAM Roles Anywhere User
 * Guide ("Trust policy"): sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity, StringEquals on
 * principal tags and ArnEquals on aws:SourceArn, which the guide recommends so that a certificate from
 * another trust anchor in the account cannot satisfy the tag conditions.
 */
export function exampleTrustPolicy(options: TrustPolicyOptions): object {
  const kinds = { conditionTags: TAGS, trustAnchorArn: "string" } as const;
  refuseWrongOptions("exampleTrustPolicy", options, kinds, ["conditionTags"]);
  const stringEquals = Object.fromEntries(options.conditionTags.map((tag) => [`aws:PrincipalTag/${tag.key}`, tag.value]));
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: "rolesanywhere.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
        Condition: {
          ...(options.conditionTags.length > 0 ? { StringEquals: stringEquals } : {}),
          ArnEquals: { "aws:SourceArn": [options.trustAnchorArn ?? PLACEHOLDER_ANCHOR] },
        },
      },
    ],
  };
}

/** The tags a condition uses when the user names none: subject CN and issuer CN, when they exist. */
export function defaultConditionTags(tags: readonly PrincipalTag[]): PrincipalTag[] {
  refuseWrongOptions("defaultConditionTags", { tags }, { tags: TAGS }, ["tags"]);
  return ["x509Subject/CN", "x509Issuer/CN"].flatMap((key) => tags.filter((t) => t.key === key));
}
