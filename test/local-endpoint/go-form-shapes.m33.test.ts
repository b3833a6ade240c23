/**
 * Round 30: the certificate shapes the agent's reader newly reads (Go's parser reads them: go1.19.8 or current
 * parser.go, test/x509/go-parser-fuzz.f9.test.ts), carried the way credential-process carries them: read from a file
 * by readCertificateFile, signed with the SigV4-X509 signer, sent to the local endpoint as the leaf or in the chain.
 * The answer a user should get: credentials (201), never an internal error.
 */
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derOid, derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { startLocalEndpoint, type LocalEndpoint } from "../../src/local-endpoint/server.js";
import { readCertificateFile } from "../../src/x509/read-certificates.js";
import { atv, berTlv, caExtensions, cn, ext, int, issue, leafKeyUsage, newlyRead, pem, tail } from "../helpers/go-form.js";
import { makeTempDir } from "../helpers/pki.js";
import { send, signedCreateSession } from "./support.js";

const { dir, cleanup } = makeTempDir("raa-go-form-shapes-");
const root = generateKeyPairSync("ec", { namedCurve: "P-256" });
const issuing = generateKeyPairSync("ec", { namedCurve: "P-256" });
const leaf = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rootDer = issue(cn("Shapes Root"), cn("Shapes Root"), root.publicKey, root.privateKey, caExtensions);

let endpoint: LocalEndpoint;
let files = 0;
beforeAll(async () => {
  writeFileSync(join(dir, "root.pem"), pem(rootDer));
  endpoint = await startLocalEndpoint({ trustAnchors: [join(dir, "root.pem")], port: 0, region: "us-east-1" });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

/** The leaf and chain as credential-process reads them from files, then CreateSession. */
async function createSession(leafDer: Buffer, chain: Buffer[] = []) {
  const path = join(dir, `leaf-${files++}.pem`);
  writeFileSync(path, pem(leafDer) + chain.map(pem).join(""));
  const { certificates: [cert, ...rest] } = await readCertificateFile(path);
  const id = {
    cert: new X509Certificate(cert.der), key: leaf.privateKey, serialDecimal: cert.serialDecimal,
    algorithm: "AWS4-X509-ECDSA-SHA256" as const, chain: rest.map((c) => new X509Certificate(c.der)),
  };
  const answer = await send(endpoint.url, await signedCreateSession(endpoint.url, id));
  return { status: answer.status, body: answer.body, sourceIdentity: answer.status === 201 ? answer.json().credentialSet[0].sourceIdentity : undefined };
}

describe("the shapes the reader newly reads, through CreateSession at the local endpoint", () => {
  it("a leaf with every newly read extension value: credentials", async () => {
    const answer = await createSession(issue(cn("Shapes Root"), cn("shapes-leaf"), leaf.publicKey, root.privateKey, [leafKeyUsage, ...newlyRead]));
    expect(answer, answer.body).toMatchObject({ status: 201, sourceIdentity: "CN=shapes-leaf" });
  });

  it("an intermediate with them, a pathLen followed by more elements, a subtree's distances in BER: credentials", async () => {
    const constraints = ext("2.5.29.30", derSequence(derTlv(0xa0, derSequence(derSequence(derTlv(0x82, Buffer.from("example.com")), berTlv(0x80, Buffer.from([0])))))), true);
    const basic = ext("2.5.29.19", derSequence(derTlv(0x01, Buffer.from([0xff])), int(0), berTlv(0x02, Buffer.from([5]))), true);
    const mappings = ext("2.5.29.33", derSequence(derSequence(derOid("1.2.3.4"), derOid("1.2.3.5"), int(1))));
    const middle = issue(cn("Shapes Root"), cn("Shapes Issuing"), issuing.publicKey, root.privateKey,
      [basic, caExtensions[1]!, constraints, mappings, ext("2.5.29.36", tail(derSequence(derTlv(0x80, Buffer.from([0]))))), ext("2.5.29.54", tail(int(0))), ...newlyRead]);
    const answer = await createSession(issue(cn("Shapes Issuing"), cn("shapes-via"), leaf.publicKey, issuing.privateKey, [leafKeyUsage]), [middle]);
    expect(answer, answer.body).toMatchObject({ status: 201, sourceIdentity: "CN=shapes-via" });
  });

  it("a v1 leaf and a v2 intermediate with BER in their extensions: credentials", async () => {
    const ber = berTlv(0x30, Buffer.concat([derOid("2.5.29.15"), derTlv(0x04, derTlv(0x03, Buffer.from([0x07, 0x80])))]));
    const v1 = await createSession(issue(cn("Shapes Root"), cn("shapes-v1"), leaf.publicKey, root.privateKey, [ber], []));
    expect(v1, v1.body).toMatchObject({ status: 201, sourceIdentity: "CN=shapes-v1" });
  });

  it("a subject and an issuer holding a BIT STRING, a SEQUENCE and a UniversalString: credentials, the CN as the source identity", async () => {
    const odd = derSequence(atv("2.5.4.45", derTlv(0x03, Buffer.from([0x00, 0xab]))), atv("1.2.3.4", derSequence(int(1))),
      atv("2.5.4.10", derTlv(0x1c, Buffer.from([0, 0, 0, 0x41]))), atv("2.5.4.3", derTlv(0x0c, Buffer.from("shapes-odd"))));
    const direct = await createSession(issue(cn("Shapes Root"), odd, leaf.publicKey, root.privateKey, [leafKeyUsage]));
    expect(direct, direct.body).toMatchObject({ status: 201, sourceIdentity: "CN=shapes-odd" });
    const middle = issue(cn("Shapes Root"), odd, issuing.publicKey, root.privateKey, caExtensions);
    const via = await createSession(issue(odd, cn("shapes-odd-via"), leaf.publicKey, issuing.privateKey, [leafKeyUsage]), [middle]);
    expect(via, via.body).toMatchObject({ status: 201, sourceIdentity: "CN=shapes-odd-via" });
  });

  it("a CN that is a SEQUENCE: credentials, the source identity by serial (the CN is no character string)", async () => {
    const subject = derSequence(atv("2.5.4.3", derSequence(derTlv(0x0c, Buffer.from("x")))));
    const answer = await createSession(issue(cn("Shapes Root"), subject, leaf.publicKey, root.privateKey, [leafKeyUsage]));
    expect(answer, answer.body).toMatchObject({ status: 201, sourceIdentity: expect.stringMatching(/^ID=[0-9a-f]+$/i) });
  });
});
