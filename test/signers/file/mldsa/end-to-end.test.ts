/**
 * End to end, for ML-DSA-44/65/87: a file key and its certificate (issued by an EC CA, the usual case) →
 * createSigner → createSession, and the `credential-process` command, against the local CreateSession
 * endpoint, which verifies the AWS4-X509-MLDSA signature and the chain. Loopback only.
 */
import { createPublicKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProfileArn, RoleArn, TrustAnchorArn } from "../../../../src/arn.js";
import { main } from "../../../../src/cli/main.js";
import { startLocalEndpoint, type LocalEndpoint } from "../../../../src/local-endpoint/server.js";
import { createSession } from "../../../../src/rolesanywhere/create-session.js";
import { createSigner } from "../../../../src/signers/factory.js";
import type { Signer } from "../../../../src/signers/signer.js";
import { buildCertificate, commonName, createMlDsaCa, issueMlDsaLeaf, ML_DSA_KEY_TYPES, type CertificateIssuer, mlDsaPkcs8Der, toPem, type MlDsaKeyTypeName, type MlDsaLeaf } from "../../../helpers/mldsa-pki.js";
import { encryptPkcs8 } from "../../../helpers/pbes2-encrypt.js";
import { createCa, generateKey, makeTempDir, type CaHandle } from "../../../helpers/pki.js";

const ARNS = {
  trustAnchorArn: "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta-mldsa" as TrustAnchorArn,
  profileArn: "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p-mldsa" as ProfileArn,
  roleArn: "arn:aws:iam::111122223333:role/MlDsaRole" as RoleArn,
};
const params = { ...ARNS, durationSeconds: 3600 };

let tmp: ReturnType<typeof makeTempDir>;
let ca: CaHandle;
let endpoint: LocalEndpoint;
const leaves = {} as Record<MlDsaKeyTypeName, MlDsaLeaf>;

beforeAll(async () => {
  tmp = makeTempDir("raa-mldsa-e2e-");
  ca = createCa(join(tmp.dir, "ca"), { name: "ML-DSA E2E Root", keyType: "p256" });
  for (const keyType of ML_DSA_KEY_TYPES) leaves[keyType] = issueMlDsaLeaf(ca, tmp.dir, { name: `e2e-${keyType}`, keyType });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], region: "us-east-1" });
}, 60_000);
afterAll(async () => {
  await endpoint?.close();
  tmp?.cleanup();
});

/** A signer that hands out `inner`'s certificate but signs with `wrong`: what a forged request looks like. */
function signingWith(inner: Signer, sign: Signer["sign"]): Signer {
  return {
    keyType: inner.keyType,
    backend: inner.backend,
    certificate: () => inner.certificate(),
    certificateChain: () => inner.certificateChain(),
    publicKey: () => inner.publicKey(),
    sign,
    close: () => inner.close(),
  };
}

describe.each(ML_DSA_KEY_TYPES)("%s end to end", (keyType) => {
  it("createSigner → createSession: the endpoint verifies the signature and chain, and issues credentials", async () => {
    const signer = await createSigner({ certificate: leaves[keyType].certPath, privateKey: leaves[keyType].keyPath });
    try {
      const result = await createSession(signer, params, { endpoint: endpoint.url, env: {} });
      expect(result.credentials.accessKeyId).toMatch(/^ASIA/);
      const last = endpoint.requests.at(-1)!;
      expect(last.status).toBe(201);
      const issued = endpoint.issued.at(-1)!;
      expect(issued.roleArn).toBe(ARNS.roleArn);
      expect(issued.credentials.accessKeyId).toBe(result.credentials.accessKeyId);
      expect(issued.certificateSerial).toBe(leaves[keyType].serialDecimal);
    } finally {
      await signer.close();
    }
  });

  it("a signature by another key of the same parameter set is refused (403 Signature validation failed)", async () => {
    const signer = await createSigner({ certificate: leaves[keyType].certPath, privateKey: leaves[keyType].keyPath });
    const impostor = await createSigner({ privateKey: otherKey(keyType) });
    try {
      const forged = signingWith(signer, (m, d) => impostor.sign(m, d));
      await expect(createSession(forged, params, { endpoint: endpoint.url, env: {}, maxAttempts: 1 })).rejects.toMatchObject({
        code: "ACCESS_DENIED",
      });
      expect(endpoint.requests.at(-1)).toMatchObject({ status: 403, reason: expect.stringContaining("Signature validation failed") });
    } finally {
      await signer.close();
      await impostor.close();
    }
  });

  it("a tampered signature (one bit) is refused", async () => {
    const signer = await createSigner({ certificate: leaves[keyType].certPath, privateKey: leaves[keyType].keyPath });
    try {
      const tampered = signingWith(signer, async (m, d) => {
        const signature = Buffer.from(await signer.sign(m, d));
        signature[signature.length >> 1] = signature[signature.length >> 1]! ^ 0x04;
        return signature;
      });
      await expect(createSession(tampered, params, { endpoint: endpoint.url, env: {}, maxAttempts: 1 })).rejects.toMatchObject({
        code: "ACCESS_DENIED",
      });
      expect(endpoint.requests.at(-1)?.status).toBe(403);
    } finally {
      await signer.close();
    }
  });

  it("credential-process with an encrypted ML-DSA key prints the credentials", async () => {
    const keyPath = join(tmp.dir, `e2e-${keyType}-encrypted.key`);
    const der = encryptPkcs8(mlDsaPkcs8Der(leaves[keyType].pair, "both"), "pw", { kdf: "scrypt", cipher: "aes-256-cbc" });
    writeFileSync(keyPath, toPem("ENCRYPTED PRIVATE KEY", der));
    const passwordFile = join(tmp.dir, "key-password.txt");
    writeFileSync(passwordFile, "pw\n", { mode: 0o600 });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on("data", (c: Buffer) => out.push(c));
    stderr.on("data", (c: Buffer) => err.push(c));
    const code = await main(
      [
        "credential-process",
        "--certificate", leaves[keyType].certPath,
        "--private-key", keyPath,
        "--pkcs8-password-file", passwordFile,
        "--trust-anchor-arn", ARNS.trustAnchorArn,
        "--profile-arn", ARNS.profileArn,
        "--role-arn", ARNS.roleArn,
        "--endpoint", endpoint.url,
      ],
      { stdout, stderr, env: { CI: "true" } },
    );
    expect(Buffer.concat(err).toString()).toBe("");
    expect(code).toBe(0);
    const output = JSON.parse(Buffer.concat(out).toString());
    expect(Object.keys(output)).toEqual(["Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]);
    expect(endpoint.issued.some((s) => s.credentials.accessKeyId === output.AccessKeyId)).toBe(true);
  });
});

describe("chains signed with ML-DSA (OpenSSL 3.0 cannot check them; the endpoint uses the ML-DSA verifier)", () => {
  async function expectAccepted(anchorPath: string, certificate: string, privateKey: string, chainLength: number) {
    const pq = await startLocalEndpoint({ trustAnchors: [anchorPath], region: "us-east-1" });
    const signer = await createSigner({ certificate, privateKey });
    try {
      expect((await signer.certificateChain()).length).toBe(chainLength);
      const result = await createSession(signer, params, { endpoint: pq.url, env: {} });
      expect(pq.issued.at(-1)?.credentials.accessKeyId).toBe(result.credentials.accessKeyId);
    } finally {
      await signer.close();
      await pq.close();
    }
  }

  it("ML-DSA-44 root → ML-DSA-44 leaf: accepted; a root with the same name and another key: refused", async () => {
    const dir = join(tmp.dir, "pq-direct");
    const root = createMlDsaCa(dir, { name: "PQ Root", keyType: "ML-DSA-44" });
    const leaf = issueMlDsaLeaf(root.issuer, dir, { name: "pq-device", keyType: "ML-DSA-44" });
    await expectAccepted(root.certPath, leaf.certPath, leaf.keyPath, 0);
    const impostorRoot = createMlDsaCa(dir, { name: "PQ Root", keyType: "ML-DSA-44" });
    const other = await startLocalEndpoint({ trustAnchors: [impostorRoot.certPath] });
    const signer = await createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath });
    try {
      await expect(createSession(signer, params, { endpoint: other.url, env: {}, maxAttempts: 1 })).rejects.toMatchObject({ code: "ACCESS_DENIED" });
      expect(other.requests.at(-1)?.reason).toMatch(/Untrusted signing certificate/);
    } finally {
      await signer.close();
      await other.close();
    }
  });

  it("ML-DSA-65 root → EC intermediate (sent as X-Amz-X509-Chain) → ML-DSA-44 leaf: accepted", async () => {
    const dir = join(tmp.dir, "pq-mixed");
    const root = createMlDsaCa(dir, { name: "PQ Mixed Root", keyType: "ML-DSA-65" });
    const intermediate = ecCaIssuedBy(root.issuer, dir, "EC Issuing under PQ Root");
    const leaf = issueMlDsaLeaf(intermediate, dir, { name: "mixed-device", keyType: "ML-DSA-44" });
    const bundle = join(dir, "leaf-and-chain.pem");
    writeFileSync(bundle, toPem("CERTIFICATE", leaf.certDer) + intermediate.certPem);
    await expectAccepted(root.certPath, bundle, leaf.keyPath, 1);
  });
});

/** An EC P-256 CA whose certificate an ML-DSA CA signed, usable as an issuer by the test PKI helpers. */
function ecCaIssuedBy(issuer: CertificateIssuer, dir: string, name: string): CaHandle {
  const keyPath = join(dir, "ec-intermediate.key");
  generateKey(keyPath, "p256");
  const spki = createPublicKey(readFileSync(keyPath)).export({ type: "spki", format: "der" });
  const der = buildCertificate({ issuer, subject: commonName(name), spki, ca: true, days: 3650 });
  const certPath = join(dir, "ec-intermediate.pem");
  const certPem = toPem("CERTIFICATE", der);
  writeFileSync(certPath, certPem);
  return { name, dir, certPath, keyPath, certPem };
}

const others = new Map<MlDsaKeyTypeName, string>();
function otherKey(keyType: MlDsaKeyTypeName): string {
  if (!others.has(keyType)) others.set(keyType, issueMlDsaLeaf(ca, join(tmp.dir, "others"), { name: `other-${keyType}`, keyType }).keyPath);
  return others.get(keyType)!;
}
