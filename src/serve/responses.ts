import { formatExpiration, goJsonStringify, type Credentials } from "../rolesanywhere/credentials.js";

/** The IMDS credentials document, keys in aws_signing_helper's order, with json.Encoder's trailing newline. */
export function imdsCredentialsBody(c: Credentials, now: Date): string {
  return (
    goJsonStringify({
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      Token: c.sessionToken,
      Code: "Success",
      Type: "AWS-HMAC",
      Expiration: formatExpiration(c.expiration),
      LastUpdated: formatExpiration(now),
    }) + "\n"
  );
}

/** The ECS container-credentials document. */
export function ecsCredentialsBody(c: Credentials): string {
  return goJsonStringify({
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    Token: c.sessionToken,
    Expiration: formatExpiration(c.expiration),
  });
}

/** The error document the SDKs' ECS/HTTP providers read (`code`, `message`). */
export function ecsErrorBody(code: string, message: string): string {
  return JSON.stringify({ code, message });
}
