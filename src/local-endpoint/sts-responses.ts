import type { IssuedSession } from "./issued-credentials.js";

const STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/";

export function getCallerIdentityXml(session: IssuedSession, requestId: string): string {
  return (
    `<GetCallerIdentityResponse xmlns="${STS_NAMESPACE}">` +
    `<GetCallerIdentityResult>` +
    `<Arn>${xml(session.assumedRoleArn)}</Arn>` +
    `<UserId>${xml(session.assumedRoleId)}</UserId>` +
    `<Account>${xml(session.accountId)}</Account>` +
    `</GetCallerIdentityResult>` +
    `<ResponseMetadata><RequestId>${xml(requestId)}</RequestId></ResponseMetadata>` +
    `</GetCallerIdentityResponse>`
  );
}

/** The STS Query-protocol error document. */
export function stsErrorXml(serviceCode: string, message: string, requestId: string, status: number): string {
  const type = status >= 500 ? "Receiver" : "Sender";
  return (
    `<ErrorResponse xmlns="${STS_NAMESPACE}">` +
    `<Error><Type>${type}</Type><Code>${xml(serviceCode)}</Code><Message>${xml(message)}</Message></Error>` +
    `<RequestId>${xml(requestId)}</RequestId>` +
    `</ErrorResponse>`
  );
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
