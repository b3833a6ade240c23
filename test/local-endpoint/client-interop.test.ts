/**
 * The agent's own CreateSession client (Go-compatible wire format: ARNs in the query, amz-sdk-* headers
 * signed) with file signers, against the verifying local endpoint.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { startLocalEndpoint, type LocalEndpoint } from "../../src/local-endpoint/server.js";
import { createSession } from "../../src/rolesanywhere/create-session.js";
import { createSigner } from "../../src/signers/factory.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { ARNS } from "./support.js";

const { dir, cleanup } = makeTempDir("raa-local-interop-");
const root = createCa(join(dir, "root"), { name: "Interop Root" });
const inter = createCa(join(dir, "inter"), { name: "Interop Issuing", parent: root });
const rsa = issueLeaf(root, join(dir, "leaf"), { name: "interop-rsa", keyType: "rsa2048" });
const ec = issueLeaf(inter, join(dir, "leaf"), { name: "interop-ec", keyType: "p256" });

const params = {
  trustAnchorArn: parseTrustAnchorArn(ARNS.trustAnchorArn),
  profileArn: parseProfileArn(ARNS.profileArn),
  roleArn: parseRoleArn(ARNS.roleArn),
  durationSeconds: 900,
};

let endpoint: LocalEndpoint;
beforeAll(async () => {
  endpoint = await startLocalEndpoint({ trustAnchors: root.certPem, port: 0 });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

const noSleep = async () => {};

describe("createSession client against the local endpoint", () => {
  it("gets credentials with an RSA key, and with an EC key through --intermediates", async () => {
    for (const [leaf, intermediates] of [[rsa, undefined], [ec, inter.certPath]] as const) {
      const signer = await createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath, ...(intermediates ? { intermediates } : {}) });
      try {
        const result = await createSession(signer, { ...params, roleSessionName: "interop" }, { endpoint: endpoint.url, env: {} });
        expect(result.assumedRoleArn).toBe("arn:aws:sts::111122223333:assumed-role/TestRole/interop");
        expect(endpoint.issued.some((s) => s.credentials.accessKeyId === result.credentials.accessKeyId)).toBe(true);
      } finally {
        await signer.close();
      }
    }
  });

  it("retries injected 503s and succeeds on the third attempt", async () => {
    const signer = await createSigner({ certificate: rsa.certPath, privateKey: rsa.keyPath });
    try {
      endpoint.failNext(2, 503);
      const before = endpoint.requests.length;
      const result = await createSession(signer, params, { endpoint: endpoint.url, env: {}, maxAttempts: 3, sleep: noSleep });
      expect(result.credentials.accessKeyId).toMatch(/^ASIA/);
      expect(endpoint.requests.slice(before).map((r) => r.status)).toEqual([503, 503, 201]);
    } finally {
      await signer.close();
    }
  });

  it("surfaces the endpoint's refusal (no chain sent for an intermediate-issued leaf)", async () => {
    const signer = await createSigner({ certificate: ec.certPath, privateKey: ec.keyPath });
    try {
      await expect(createSession(signer, params, { endpoint: endpoint.url, env: {}, sleep: noSleep })).rejects.toMatchObject({
        code: "ACCESS_DENIED",
        status: 403,
        serviceCode: "AccessDeniedException",
        message: expect.stringContaining("Untrusted signing certificate"),
      });
    } finally {
      await signer.close();
    }
  });
});
