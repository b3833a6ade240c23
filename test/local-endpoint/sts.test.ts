import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { Sha256 } from "../sigv4x509/sha256.js";
import { identity, send, signedCreateSession } from "./support.js";

const { dir, cleanup } = makeTempDir("raa-local-sts-");
const ca = createCa(dir, { name: "STS Test CA" });
const device = identity(issueLeaf(ca, dir, { name: "sts-device", keyType: "p256" }));

interface Issued {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: string;
}

let endpoint: LocalEndpoint;
let offsetMs = 0;
const now = () => new Date(Date.now() + offsetMs);

beforeAll(async () => {
  endpoint = await startLocalEndpoint({ trustAnchors: ca.certPem, port: 0, clock: now });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});
beforeEach(() => {
  offsetMs = 0;
});

async function issue(body: Record<string, unknown> = {}): Promise<Issued> {
  const res = await send(endpoint.url, await signedCreateSession(endpoint.url, device, { body }));
  expect(res.status, res.body).toBe(201);
  return res.json().credentialSet[0].credentials;
}

const sha256 = Sha256 as unknown as ConstructorParameters<typeof SignatureV4>[0]["sha256"];

/** A GetCallerIdentity call signed by the AWS SDK's own SigV4 signer. */
async function callerIdentity(creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, options: { date?: Date; method?: "GET" | "POST"; action?: string } = {}) {
  const url = new URL(endpoint.url);
  const form = `Action=${options.action ?? "GetCallerIdentity"}&Version=2011-06-15`;
  const get = options.method === "GET";
  const request = new HttpRequest({
    method: get ? "GET" : "POST",
    protocol: "http:",
    hostname: url.hostname,
    port: Number(url.port),
    path: "/",
    query: get ? { Action: options.action ?? "GetCallerIdentity", Version: "2011-06-15" } : {},
    headers: { host: url.host, ...(get ? {} : { "content-type": "application/x-www-form-urlencoded; charset=utf-8" }) },
    body: get ? undefined : form,
  });
  const signer = new SignatureV4({ service: "sts", region: "us-west-2", credentials: creds, sha256 });
  const signed = await signer.sign(request, { signingDate: options.date ?? now() });
  const target = get ? `/?${new URLSearchParams(signed.query as Record<string, string>).toString()}` : "/";
  return send(endpoint.url, { method: signed.method, target, headers: signed.headers as Record<string, string>, body: get ? "" : form });
}

const codeOf = (xml: string) => /<Code>([^<]+)<\/Code>/.exec(xml)?.[1];

describe("local endpoint: STS GetCallerIdentity", () => {
  it("accepts a POST signed with @smithy/signature-v4 by issued credentials", async () => {
    const creds = await issue({ roleSessionName: "sts-test" });
    const res = await callerIdentity(creds);
    expect(res.status, res.body).toBe(200);
    expect(res.headers["content-type"]).toBe("text/xml");
    expect(res.body).toMatch(
      /^<GetCallerIdentityResponse xmlns="https:\/\/sts\.amazonaws\.com\/doc\/2011-06-15\/"><GetCallerIdentityResult><Arn>arn:aws:sts::111122223333:assumed-role\/TestRole\/sts-test<\/Arn><UserId>AROA[A-Z2-7]{17}:sts-test<\/UserId><Account>111122223333<\/Account><\/GetCallerIdentityResult><ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata><\/GetCallerIdentityResponse>$/,
    );
  });

  it("accepts a GET with the action in the query", async () => {
    const res = await callerIdentity(await issue(), { method: "GET" });
    expect(res.status, res.body).toBe(200);
  });

  it("works with @aws-sdk/client-sts", async () => {
    const issued = await issue({ roleSessionName: "sdk-client" });
    const creds = { ...issued, expiration: new Date(issued.expiration) };
    const client = new STSClient({ region: "eu-central-1", endpoint: endpoint.url, credentials: creds, maxAttempts: 1 });
    try {
      const out = await client.send(new GetCallerIdentityCommand({}));
      expect(out.Arn).toBe("arn:aws:sts::111122223333:assumed-role/TestRole/sdk-client");
      expect(out.Account).toBe("111122223333");
      const wrong = new STSClient({ region: "eu-central-1", endpoint: endpoint.url, credentials: { ...creds, secretAccessKey: "wrong" }, maxAttempts: 1 });
      await expect(wrong.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: "SignatureDoesNotMatch", $metadata: { httpStatusCode: 403 } });
      wrong.destroy();
    } finally {
      client.destroy();
    }
  });

  it("rejects a wrong secret key with SignatureDoesNotMatch", async () => {
    const creds = await issue();
    const res = await callerIdentity({ ...creds, secretAccessKey: `${creds.secretAccessKey}x` });
    expect(res.status).toBe(403);
    expect(codeOf(res.body)).toBe("SignatureDoesNotMatch");
    expect(res.body).toMatch(/<Type>Sender<\/Type>/);
    expect(res.body).not.toContain(creds.sessionToken);
  });

  it("rejects an unknown access key, a missing token and a wrong token with InvalidClientTokenId", async () => {
    const creds = await issue();
    expect(codeOf((await callerIdentity({ ...creds, accessKeyId: "ASIAAAAAAAAAAAAAAAAA" })).body)).toBe("InvalidClientTokenId");
    const { sessionToken: _dropped, ...noToken } = creds;
    expect(codeOf((await callerIdentity(noToken)).body)).toBe("InvalidClientTokenId");
    expect(codeOf((await callerIdentity({ ...creds, sessionToken: "not-the-token" })).body)).toBe("InvalidClientTokenId");
  });

  it("rejects expired credentials with ExpiredToken", async () => {
    const creds = await issue({ durationSeconds: 900 });
    offsetMs = 901_000;
    const res = await callerIdentity(creds);
    expect(res.status).toBe(403);
    expect(codeOf(res.body)).toBe("ExpiredToken");
  });

  it("rejects a request signed more than 5 minutes ago", async () => {
    const creds = await issue();
    const res = await callerIdentity(creds, { date: new Date(Date.now() - 6 * 60_000) });
    expect(res.status).toBe(403);
    expect(res.body).toMatch(/<Code>SignatureDoesNotMatch<\/Code><Message>Signature expired/);
  });

  it("answers InvalidAction for other actions", async () => {
    const res = await callerIdentity(await issue(), { action: "AssumeRole" });
    expect(res.status).toBe(400);
    expect(codeOf(res.body)).toBe("InvalidAction");
  });

  it("quotes an unknown action with its control characters escaped: the XML stays well formed", async () => {
    const res = await callerIdentity(await issue(), { action: "Get\u0001\u009b" });
    expect(res.status).toBe(400);
    expect(res.body).toContain("<Message>Could not find operation Get\\u0001\\u009b for version 2011-06-15</Message>");
  });

  it("escapes <, >, &, \" and ' of an unknown action in the XML error (as character references)", async () => {
    // Percent-encoded in the form: the action read is `A</b>&"'`.
    const res = await callerIdentity(await issue(), { action: "A%3C%2Fb%3E%26%22%27" });
    expect(res.status).toBe(400);
    const escaped = "A&#60;/b&#62;&#38;&#34;&#39;";
    expect(res.body).toContain(`<Message>Could not find operation ${escaped} for version 2011-06-15</Message>`);
  });

  it("answers MissingAuthenticationToken without a signature", async () => {
    const res = await send(endpoint.url, { method: "POST", target: "/", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "Action=GetCallerIdentity&Version=2011-06-15" });
    expect(res.status).toBe(403);
    expect(codeOf(res.body)).toBe("MissingAuthenticationToken");
  });
});
