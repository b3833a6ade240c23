import { createHash, randomBytes } from "node:crypto";
import { parseArn, type ProfileArn, type RoleArn } from "../arn.js";
import type { Credentials } from "../rolesanywhere/credentials.js";
import type { VerifiedCreateSession } from "./verify-request.js";

/** One set of credentials the endpoint handed out, remembered so that STS calls can be checked against it. */
export interface IssuedSession {
  readonly credentials: Credentials;
  readonly roleArn: RoleArn;
  readonly profileArn: ProfileArn;
  readonly roleSessionName: string;
  /** `AROA…:<session name>`, as STS reports it. */
  readonly assumedRoleId: string;
  /** `arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>`. */
  readonly assumedRoleArn: string;
  readonly accountId: string;
  readonly issuedAt: Date;
  /** Decimal serial of the certificate that asked for the session. */
  readonly certificateSerial: string;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Random credentials, remembered in memory by access key ID; expired sessions are dropped as new ones are issued. */
export class IssuedCredentialStore {
  readonly #byAccessKey = new Map<string, IssuedSession>();

  /** `expiredMsAgo` (testing): issues the session as expired this long ago (see InjectedFailures.expireNext). */
  issue(request: VerifiedCreateSession, now: Date, expiredMsAgo?: number): IssuedSession {
    // Expired sessions are kept for an hour so that a late STS call still gets ExpiredToken rather than an unknown key.
    const horizon = now.getTime() - 3600_000;
    for (const [key, s] of this.#byAccessKey) if (s.credentials.expiration.getTime() < horizon) this.#byAccessKey.delete(key);
    // The session never outlives the certificate.
    const expiresAt =
      expiredMsAgo !== undefined ? now.getTime() - expiredMsAgo : Math.min(now.getTime() + request.durationSeconds * 1000, request.leaf.notAfter.getTime());
    const expiration = new Date(Math.floor(expiresAt / 1000) * 1000);
    // The service's session name when none is requested: the certificate serial in hex.
    const roleSessionName = request.roleSessionName ?? request.leaf.serialHex.toLowerCase();
    const role = parseArn(request.roleArn);
    const roleName = role.resource.split("/").pop()!;
    const roleId = `AROA${base32(createHash("sha256").update(request.roleArn).digest(), 17)}`;
    let accessKeyId: string;
    do accessKeyId = `ASIA${base32(randomBytes(16), 16)}`;
    while (this.#byAccessKey.has(accessKeyId));
    const session: IssuedSession = {
      credentials: {
        accessKeyId,
        secretAccessKey: randomBytes(30).toString("base64"),
        sessionToken: randomBytes(96).toString("base64"),
        expiration,
      },
      roleArn: request.roleArn,
      profileArn: request.profileArn,
      roleSessionName,
      assumedRoleId: `${roleId}:${roleSessionName}`,
      assumedRoleArn: `arn:${role.partition}:sts::${role.accountId}:assumed-role/${roleName}/${roleSessionName}`,
      accountId: role.accountId,
      issuedAt: now,
      certificateSerial: request.leaf.serialDecimal,
    };
    this.#byAccessKey.set(accessKeyId, session);
    return session;
  }

  find(accessKeyId: string): IssuedSession | undefined {
    return this.#byAccessKey.get(accessKeyId);
  }

  /** Every session still remembered, oldest first. */
  all(): IssuedSession[] {
    return [...this.#byAccessKey.values()];
  }
}

function base32(bytes: Uint8Array, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += BASE32[bytes[i % bytes.length]! % 32];
  return out;
}
