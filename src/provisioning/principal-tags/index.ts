export { derivePrincipalTags, type DroppedTag, type PrincipalTag, type PrincipalTagReport } from "./derive-tags.js";
export { sessionTagValueProblem, MAX_SESSION_TAGS } from "./session-tag-rules.js";
export { sourceIdentity, type SourceIdentity } from "./source-identity.js";
export { defaultConditionTags, exampleTrustPolicy, type TrustPolicyOptions } from "./trust-policy.js";
export { renderPrincipalTags } from "./render.js";
