import { createHash } from "node:crypto";
import { parseArn } from "../arn.js";
import { formatExpiration } from "../rolesanywhere/credentials.js";
import type { Certificate } from "../x509/certificate.js";
import { readCertificateNames } from "../x509/names/certificate-names.js";
import { derivePrincipalTags } from "../provisioning/principal-tags/derive-tags.js";
import type { IssuedSession } from "./issued-credentials.js";

/** The 201 CreateSession body, shaped as the service answers it; `expirationText` replaces the expiration (tests). */
export function createSessionResponseBody(session: IssuedSession, leaf: Certificate, region: string, expirationText?: string): string {
  const profile = parseArn(session.profileArn);
  // A stable UUID-shaped subject ID per certificate identity (subject and issuer).
  const h = createHash("sha256").update(`${leaf.subject}\0${leaf.issuer}`).digest("hex");
  const subjectId = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return JSON.stringify({
    credentialSet: [
      {
        assumedRoleUser: { arn: session.assumedRoleArn, assumedRoleId: session.assumedRoleId },
        credentials: {
          accessKeyId: session.credentials.accessKeyId,
          expiration: expirationText ?? formatExpiration(session.credentials.expiration),
          secretAccessKey: session.credentials.secretAccessKey,
          sessionToken: session.credentials.sessionToken,
        },
        packedPolicySize: 0,
        roleArn: session.roleArn,
        // The source identity the service sets (its documented rules); left out where they do not say (a CN over 64).
        sourceIdentity: derivePrincipalTags(readCertificateNames(leaf.der)).sourceIdentity.value,
      },
    ],
    subjectArn: `arn:${profile.partition}:rolesanywhere:${region}:${profile.accountId}:subject/${subjectId}`,
  });
}
