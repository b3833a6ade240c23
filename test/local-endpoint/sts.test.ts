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

interface CallOptions {
  date?: Date;
  method?: "GET" | "POST";
  action?: string;
  /** The service the request is signed for (sts). */
  service?: string;
  /** Headers sent but left out of SignedHeaders. */
  unsignable?: Set<string>;
  /** More headers to send (and sign). */
  headers?: Record<string, string>;
  /** Changes the headers after signing. */
  tamper?: (headers: Record<string, string>) => void;
}

/** A GetCallerIdentity call signed by the AWS SDK's own SigV4 signer. */
type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

async function callerIdentity(creds: Creds, options: CallOptions = {}) {
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
    headers: {
      host: url.host,
      ...(get ? {} : { "content-type": "application/x-www-form-urlencoded; charset=utf-8" }),
      ...options.headers,
    },
    body: get ? undefined : form,
  });
  const service = options.service ?? "sts";
  const signer = new SignatureV4({ service, region: "us-west-2", credentials: creds, sha256 });
  const signingDate = options.date ?? now();
  const signed = await signer.sign(request, { signingDate, unsignableHeaders: options.unsignable });
  const target = get ? `/?${new URLSearchParams(signed.query as Record<string, string>).toString()}` : "/";
  const headers = { ...(signed.headers as Record<string, string>) };
  options.tamper?.(headers);
  return send(endpoint.url, { method: signed.method, target, headers, body: get ? "" : form });
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

  it("rejects a request signed over 5 minutes ahead, or 5 min 20 s ago; 4 min 40 s ago is accepted", async () => {
    const creds = await issue();
    const expired = /<Code>SignatureDoesNotMatch<\/Code><Message>Signature expired/;
    expect((await callerIdentity(creds, { date: new Date(Date.now() + 6 * 60_000) })).body).toMatch(expired);
    expect((await callerIdentity(creds, { date: new Date(Date.now() - 320_000) })).body).toMatch(expired);
    expect((await callerIdentity(creds, { date: new Date(Date.now() - 280_000) })).status).toBe(200);
  });

  it("rejects a request signed for another service than sts", async () => {
    const res = await callerIdentity(await issue(), { service: "iam" });
    expect(res.status).toBe(403);
    const message = "Credential should be scoped to correct service: &#39;sts&#39;.";
    expect(res.body).toContain(`<Code>SignatureDoesNotMatch</Code><Message>${message}</Message>`);
  });

  it.each(["host", "x-amz-date"])("rejects a request whose %s is not signed", async (name) => {
    const res = await callerIdentity(await issue(), { unsignable: new Set([name]) });
    expect(res.status).toBe(403);
    const message = `&#39;${name}&#39; must be a signed header.`;
    expect(res.body).toContain(`<Code>SignatureDoesNotMatch</Code><Message>${message}</Message>`);
  });

  it("rejects a signed header not sent, a malformed X-Amz-Date and a Credential date not its day", async () => {
    const creds = await issue();
    const message = async (options: CallOptions) => {
      const res = await callerIdentity(creds, options);
      expect(res.status).toBe(403);
      return /<Message>([^<]*)<\/Message>/.exec(res.body)?.[1];
    };
    const dropExtra = (h: Record<string, string>) => delete h["x-extra"];
    expect(await message({ headers: { "x-extra": "1" }, tamper: dropExtra })).toBe(
      "Signed header &#39;x-extra&#39; is missing from the request.",
    );
    expect(await message({ tamper: (h) => (h["x-amz-date"] = "2024-01-01") })).toBe(
      "X-Amz-Date &#39;2024-01-01&#39; is not in ISO 8601 basic format (YYYYMMDD&#39;T&#39;HHMMSS&#39;Z&#39;).",
    );
    const otherDay = (h: Record<string, string>) => {
      h["authorization"] = h["authorization"]!.replace(/\/\d{8}\//, "/20200101/");
    };
    const mismatch = /^Date in Credential scope does not match YYYYMMDD .* &#39;20200101&#39; != /;
    expect(await message({ tamper: otherDay })).toMatch(mismatch);
  });

  it("answers MissingAction for an empty Action", async () => {
    const res = await callerIdentity(await issue(), { action: "" });
    expect(res.status).toBe(400);
    expect(res.body).toContain("<Code>MissingAction</Code><Message>Missing Action</Message>");
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
