/**
 * ML-DSA through the signer factory and the commands that show it: createSigner with key + certificate
 * files, the key/certificate match (which aws_signing_helper does not check), `sign-string` and
 * `read-certificate-data` output compared byte for byte with what the Go helper prints, and a SigV4-X509
 * signature that verifies.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../../src/cli/main.js";
import { createSigner } from "../../../../src/signers/factory.js";
import { verifyMlDsaWithCertificate } from "../../../../src/signers/file/mldsa/verify.js";
import { signingAlgorithmFor } from "../../../../src/sigv4x509/types.js";
import { signX509Request } from "../../../../src/sigv4x509/sign-request.js";
import {
  issueMlDsaLeaf,
  ML_DSA_KEY_TYPES,
  mlDsaSign,
  mlDsaVerify,
  type MlDsaKeyTypeName,
  type MlDsaLeaf,
} from "../../../helpers/mldsa-pki.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle, type IssuedCertificate } from "../../../helpers/pki.js";
import { expectAgentError } from "../fixtures.js";

const FIXED_STRING = "AWS Roles Anywhere Credential Helper Signing Test1";

async function run(argv: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (c: Buffer) => out.push(c));
  stderr.on("data", (c: Buffer) => err.push(c));
  const code = await main(argv, { stdout, stderr, env: { ...process.env, CI: "true" } });
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") };
}

let tmp: ReturnType<typeof makeTempDir>;
let ca: CaHandle;
let ecLeaf: IssuedCertificate;
const leaves = {} as Record<MlDsaKeyTypeName, MlDsaLeaf>;

beforeAll(() => {
  tmp = makeTempDir("raa-mldsa-signer-");
  ca = createCa(join(tmp.dir, "ca"), { name: "ML-DSA Issuing CA", keyType: "p256" });
  for (const keyType of ML_DSA_KEY_TYPES) leaves[keyType] = issueMlDsaLeaf(ca, tmp.dir, { name: `device-${keyType}`, keyType });
  ecLeaf = issueLeaf(ca, tmp.dir, { name: "ec-device", keyType: "p256" });
}, 60_000);
afterAll(() => tmp.cleanup());

describe.each(ML_DSA_KEY_TYPES)("%s", (keyType) => {
  const leaf = () => leaves[keyType];

  it("createSigner: file key + certificate; signs the message itself, deterministically, whatever the digest", async () => {
    const signer = await createSigner({ certificate: leaf().certPath, privateKey: leaf().keyPath });
    try {
      expect(signer.keyType).toBe(keyType);
      expect(signer.backend).toBe("file");
      expect(signingAlgorithmFor(signer.keyType)).toBe("AWS4-X509-MLDSA");
      expect((await signer.certificate())?.serialDecimal).toBe(leaf().serialDecimal);
      expect(await signer.certificateChain()).toEqual([]);
      expect(await signer.publicKey()).toBeUndefined();
      const message = Buffer.from("AWS4-X509-MLDSA\n20250101T000000Z\n…");
      const signature = await signer.sign(message);
      expect(signature.equals(mlDsaSign(leaf().pair, message))).toBe(true);
      expect((await signer.sign(message, "SHA384")).equals(signature)).toBe(true);
      expect(await verifyMlDsaWithCertificate(leaf().certDer, message, signature)).toBe(true);
    } finally {
      await signer.close();
    }
  });

  it("createSigner: a combined PEM (certificate, then key) as --certificate alone", async () => {
    const combined = join(tmp.dir, `combined-${keyType}.pem`);
    writeFileSync(combined, readFileSync(leaf().certPath, "utf8") + readFileSync(leaf().keyPath, "utf8"));
    const signer = await createSigner({ certificate: combined });
    expect(signer.keyType).toBe(keyType);
    expect((await signer.certificate())?.serialDecimal).toBe(leaf().serialDecimal);
    await signer.close();
  });

  it("sign-string: the Go helper's output (fixed string with an empty suffix, pure deterministic ML-DSA)", async () => {
    const expected = mlDsaSign(leaf().pair, Buffer.from(FIXED_STRING, "utf8"));
    const base = ["sign-string", "--certificate", leaf().certPath, "--private-key", leaf().keyPath];
    const text = await run([...base, "--format", "text"]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(0);
    expect(text.stdout.toString()).toBe(expected.toString("hex"));
    const json = await run([...base, "--digest", "SHA512"]);
    expect(json.stdout.toString()).toBe(JSON.stringify(expected.toString("hex")));
    const bin = await run([...base, "--format", "bin"]);
    expect(bin.stdout.equals(expected)).toBe(true);
  });

  it("read-certificate-data: keyType and supportedAlgorithms as aws_signing_helper prints them", async () => {
    const { code, stdout, stderr } = await run(["read-certificate-data", "--certificate", leaf().certPath]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.toString()).toBe(
      `{"keyType":"${keyType}","certificateData":"${leaf().certDer.toString("base64")}",` +
        `"serialNumber":"${leaf().serialDecimal}","supportedAlgorithms":["${keyType}"]}`,
    );
  });

  it("SigV4-X509: AWS4-X509-MLDSA with the raw FIPS 204 signature in lowercase hex, verifiable", async () => {
    const signer = await createSigner({ certificate: leaf().certPath, privateKey: leaf().keyPath });
    const cert = (await signer.certificate())!;
    const signed = await signX509Request(
      { method: "POST", path: "/sessions", query: [], headers: { Host: "rolesanywhere.us-east-1.amazonaws.com" }, body: "{}" },
      {
        algorithm: signingAlgorithmFor(signer.keyType),
        leaf: cert,
        chain: [],
        region: "us-east-1",
        date: new Date("2025-01-01T00:00:00Z"),
        sign: (data) => signer.sign(data),
      },
    );
    const match = /^AWS4-X509-MLDSA Credential=(\d+)\/20250101\/us-east-1\/rolesanywhere\/aws4_request, SignedHeaders=[^,]+, Signature=([0-9a-f]+)$/.exec(
      signed.headers.Authorization!,
    );
    expect(match?.[1]).toBe(leaf().serialDecimal);
    const signature = Buffer.from(match![2]!, "hex");
    expect(signature.length).toBe({ "ML-DSA-44": 2420, "ML-DSA-65": 3309, "ML-DSA-87": 4627 }[keyType]);
    expect(signed.stringToSign.startsWith("AWS4-X509-MLDSA\n20250101T000000Z\n")).toBe(true);
    expect(mlDsaVerify(keyType, leaf().pair.publicKey, Buffer.from(signed.stringToSign), signature)).toBe(true);
    await signer.close();
  });
});

describe("key/certificate mismatch (aws_signing_helper does not check; the service would refuse)", () => {
  it.each([
    ["an ML-DSA-44 key with another ML-DSA-44 key's certificate", () => [leaves["ML-DSA-44"].keyPath, otherMlDsa44().certPath]],
    ["an ML-DSA-65 key with an ML-DSA-44 certificate (accepted by Go's own test)", () => [leaves["ML-DSA-65"].keyPath, leaves["ML-DSA-44"].certPath]],
    ["an ML-DSA-87 key with an EC certificate", () => [leaves["ML-DSA-87"].keyPath, ecLeaf.certPath]],
    ["an EC key with an ML-DSA-44 certificate", () => [ecLeaf.keyPath, leaves["ML-DSA-44"].certPath]],
  ])("%s: KEY_CERTIFICATE_MISMATCH", async (_name, paths) => {
    const [privateKey, certificate] = paths() as [string, string];
    const e = await expectAgentError(createSigner({ certificate, privateKey }), "KEY_CERTIFICATE_MISMATCH");
    expect(e.message).toContain(privateKey);
    expect(e.message).toContain(certificate);
  });

  let other: MlDsaLeaf | undefined;
  function otherMlDsa44(): MlDsaLeaf {
    other ??= issueMlDsaLeaf(ca, join(tmp.dir, "other"), { name: "other-44", keyType: "ML-DSA-44" });
    return other;
  }
});
