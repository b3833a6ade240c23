/**
 * A freshly provisioned token whose certificate objects' CKA_VALUE is no usable certificate (random bytes, PEM text,
 * truncated or padded DER): read-certificate-data left each out without a word, and the operator read
 * `No matching identities` on a token that holds certificates (round 34). Each one left out is now told on stderr;
 * stdout and the exit code are as before. What it can read (expired, ML-DSA, Ed25519, no CKA_ID) it lists, as Go does.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pkcs11js from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { createMlDsaCa, issueMlDsaLeaf } from "../test/helpers/mldsa-pki.js";
import { bundleCli } from "./agent-support.js";
import { initSoftHsmToken, SOFTHSM_MODULE, withSoftHsmSession } from "./helpers/softhsm-fixture.js";
import { runCli } from "./helpers/run-cli.js";
import { failure } from "../test/helpers/agent-error.js";
import { createPkcs11Signer } from "../src/signers/pkcs11/index.js";

const tmp = makeTempDir("raa-unusable-certs-");
const conf = join(tmp.dir, "softhsm2.conf");
const env = { ...process.env, SOFTHSM2_CONF: conf };
const previousConf = process.env.SOFTHSM2_CONF;
process.env.SOFTHSM2_CONF = conf; // the binding in this process (writeObjects) reads it
/** A hostile token: hundreds of broken certificate objects (3,000 by hand: 1.2 s, 95 MB), one of 16 MiB. */
const HOSTILE_OBJECTS = 500;
const HUGE_VALUE = 16 * 1024 * 1024;
/** The object whose reading /usr/bin/time measures: pkcs11js read it whole (4.4 times its size) before round 35. */
const MEMORY_VALUE = 128 * 1024 * 1024;
const SOFTHSM_CKC_OPENPGP = 0x80504750;
let cli: { cli: string; cleanup: () => void };

/**
 * A certificate object written over the raw binding: pkcs11-tool --write-object parses the file first and would not
 * store what a broken provisioning script or another tool does.
 */
interface CertificateObjectSpec {
  readonly value: Uint8Array;
  readonly label: string;
  readonly id?: string;
  readonly certificateType?: number;
}

function writeObjects(token: string, objects: readonly CertificateObjectSpec[]): void {
  withSoftHsmSession(token, "1234", (lib, session) => {
    for (const { value, label, id, certificateType = pkcs11js.CKC_X_509 } of objects) {
      lib.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
        { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: certificateType },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_LABEL, value: label },
        ...(id ? [{ type: pkcs11js.CKA_ID, value: Buffer.from(id, "hex") }] : []),
        { type: pkcs11js.CKA_VALUE, value: Buffer.from(value) },
        { type: pkcs11js.CKA_SUBJECT, value: Buffer.from([0x30, 0]) },
      ]);
    }
  });
}

const writeObject = (token: string, value: Uint8Array, label: string, id?: string, certificateType?: number) =>
  writeObjects(token, [{ value, label, id, certificateType }]);

const initToken = (label: string) => initSoftHsmToken(label, conf);

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const ca = createCa(join(tmp.dir, "ca"), { name: "Unusable Certs CA" });
  const derOf = (pem: string) => new X509Certificate(readFileSync(pem)).raw;
    const good = derOf(issueLeaf(ca, join(tmp.dir, "leaf"), { name: "good" }).certPath);

  initToken("unusable");
  writeObject("unusable", Buffer.from("this is not a certificate"), "garbage", "01");
  writeObject("unusable", readFileSync(issueLeaf(ca, join(tmp.dir, "leaf"), { name: "pem" }).certPath), "pem-text", "02");
  writeObject("unusable", good.subarray(0, good.length - 10), "truncated", "03");
  writeObject("unusable", Buffer.concat([good, Buffer.alloc(4)]), "padded", "04");


  initToken("listed");
  writeObject("listed", derOf(issueLeaf(ca, join(tmp.dir, "leaf"), { name: "expired", expired: true }).certPath), "expired", "11");
  writeObject("listed", good, "no-id");
  writeObject("listed", issueMlDsaLeaf(createMlDsaCa(join(tmp.dir, "mlca"), { name: "ML CA", keyType: "ML-DSA-65" }).issuer, join(tmp.dir, "leaf"), { name: "mldsa", keyType: "ML-DSA-65" }).certDer, "mldsa", "12");
  writeObject("listed", derOf(issueEd25519(ca)), "ed25519", "13");

  initToken("hostile-objects");
  // SoftHSM stores no CKC_X_509_ATTR_CERT or CKC_WTLS object (CKR_ATTRIBUTE_VALUE_INVALID): its CKC_OPENPGP, the one
  // other type it stores, stands for them. It holds X.509 DER, which the agent read as X.509 before round 35.
  writeObject("hostile-objects", good, "openpgp", "05", SOFTHSM_CKC_OPENPGP);
  writeObject("hostile-objects", Buffer.concat([Buffer.from([0x30, 0x83, 0x01, 0x00, 0x00]), Buffer.alloc(65_536 - 5, 0x30), Buffer.alloc(1)]), "big-value", "06");
  writeObject("hostile-objects", good, "x".repeat(1025), "07");
  writeObject("hostile-objects", good, "big-id", "ab".repeat(1025));
  writeObjects("hostile-objects", [{ value: derOf(issueEd25519(ca)), label: "ed25519", id: "08" }]);

  initToken("mixed");
  writeObject("mixed", good, "good", "21");
  writeObject("mixed", good.subarray(0, 100), "broken", "22");

  for (const count of [5, 6]) {
    initToken(`broken-${count}`);
    writeObjects(`broken-${count}`, Array.from({ length: count }, (_, i) => ({ value: good.subarray(0, 100), label: `broken-${i}`, id: `3${i}` })));
  }

  initToken("hostile");
  const broken = Array.from({ length: HOSTILE_OBJECTS }, (_, i) => ({ value: good.subarray(0, 100), label: `broken-${i}`, id: i.toString(16).padStart(4, "0") }));
  writeObjects("hostile", [...broken, { value: Buffer.alloc(HUGE_VALUE, 0x30), label: "huge", id: "ffff" }]);
  initToken("memory");
  writeObject("memory", Buffer.alloc(MEMORY_VALUE, 0x30), "memory", "01");
  cli = await bundleCli();
}, 120_000);

afterAll(() => {
  if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previousConf;
  cli?.cleanup();
  tmp.cleanup();
});

function issueEd25519(ca: ReturnType<typeof createCa>): string {
  const key = join(tmp.dir, "ed.key");
  execFileSync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", key]);
  return issueLeaf(ca, join(tmp.dir, "leaf"), { name: "ed25519", keyPath: key }).certPath;
}

const list = (uri: string) => runCli(cli.cli, ["read-certificate-data", "--certificate", uri, "--pkcs11-lib", SOFTHSM_MODULE], env);

const warnings = (stderr: string) => stderr.split("\n").filter(Boolean);

describe("read-certificate-data on a token whose certificate objects cannot be used", () => {
  it("lists none, as before, and tells each one left out on stderr: which object, why, what to do", async () => {
    const { code, stdout, stderr } = await list("pkcs11:token=unusable");
    expect([code, stdout]).toEqual([0, "No matching identities\n"]);
    const lines = warnings(stderr);
    expect(lines).toHaveLength(4);
    for (const [label, id] of [["garbage", "01"], ["truncated", "03"], ["padded", "04"]]) {
      const line = lines.find((l) => l.includes(`;object=${label};`));
      expect(line, label).toMatch(new RegExp(`^roles-anywhere-agent: warning: the certificate object pkcs11:id=%${id};.*;token=unusable;type=cert is not listed: .+; write the certificate to the token again in DER \\(roles-anywhere-agent install-certificate\\)$`));
    }
    expect(stderr).not.toMatch(/\n\s+at /);
    // PEM text's "-----" read as a DER element gave "its CKA_VALUE is followed by 576 bytes that are not part of it".
    // The hint names the openssl command, as the signer's does (round 35).
    expect(lines.find((l) => l.includes(";object=pem-text;"))).toMatch(/^roles-anywhere-agent: warning: the certificate object pkcs11:id=%02;.* is not listed: its CKA_VALUE holds PEM text, not DER; write it in DER: openssl x509 -in CERT -outform DER -out CERT.der, or let roles-anywhere-agent install-certificate write it$/);
  });

  it("tells each once when the listing logs in (the same objects seen before and after)", async () => {
    const { code, stdout, stderr } = await list("pkcs11:token=unusable?pin-value=1234");
    expect([code, stdout]).toEqual([0, "No matching identities\n"]);
    expect(warnings(stderr)).toHaveLength(4);
    expect(stderr).not.toContain("1234");
  });

  it("lists what it can read and says nothing of it: expired, ML-DSA, Ed25519, no CKA_ID", async () => {
    const { code, stdout, stderr } = await list("pkcs11:token=listed");
    expect([code, stderr]).toEqual([0, ""]);
    expect([...stdout.matchAll(/;object=([^;]+);/g)].map((m) => m[1]).sort()).toEqual(["ed25519", "expired", "mldsa", "no-id"]);
  });

  it("beside a usable certificate: that one listed, the broken one told", async () => {
    const { code, stdout, stderr } = await list("pkcs11:token=mixed");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Matching identities\n1\) .*\nURI: pkcs11:id=%21;.*object=good;.*\n\n$/s);
    expect(warnings(stderr)).toEqual([expect.stringMatching(/the certificate object pkcs11:id=%22;.*object=broken;.* is not listed: /)]);
  });

  it("tells five, and of six the first five and a count of one", async () => {
    const five = warnings((await list("pkcs11:token=broken-5")).stderr);
    expect(five).toHaveLength(5);
    expect(five.join("\n")).not.toContain("more certificate object");
    const six = warnings((await list("pkcs11:token=broken-6")).stderr);
    const token = (line: string) => line.replace(/;serial=\w+;token=broken-\d;/, ";");
    expect(six.slice(0, 5).map(token)).toEqual(five.map(token)); // the first five by URI: ids 30 to 34
    expect(six.slice(5)).toEqual(["roles-anywhere-agent: warning: 1 more certificate object is not listed either (--debug names each)"]);
  });

  it("on a hostile token (hundreds of broken objects, one of 16 MiB) stays bounded: a few lines and a count", async () => {
    const started = performance.now();
    const { code, stdout, stderr } = await list("pkcs11:token=hostile");
    const seconds = (performance.now() - started) / 1000;
    expect([code, stdout]).toEqual([0, "No matching identities\n"]);
    const lines = warnings(stderr);
    expect(lines).toHaveLength(6);
    expect(lines.at(-1)).toBe(`roles-anywhere-agent: warning: ${HOSTILE_OBJECTS + 1 - 5} more certificate objects are not listed either (--debug names each)`);
    expect(stderr.length).toBeLessThan(5_000);
    expect(seconds).toBeLessThan(30); // 0.5 s here
  }, 120_000);
});

describe("a token whose objects another user wrote to hurt the agent (round 35)", () => {
  it("leaves out, with a line each, an object not of type X.509 and objects whose value, label or id is larger than any real one", async () => {
    const { code, stdout, stderr } = await list("pkcs11:token=hostile-objects");
    expect(code).toBe(0);
    expect([...stdout.matchAll(/;object=([^;]+);/g)].map((m) => m[1])).toEqual(["ed25519"]);
    const lines = warnings(stderr);
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.includes(";object=openpgp;"))).toMatch(/ is not listed: its CKA_CERTIFICATE_TYPE is 0x80504750, not CKC_X_509: the agent reads X\.509 certificates only; write the certificate to the token again in DER \(roles-anywhere-agent install-certificate\)$/);
    expect(lines.find((l) => l.includes("pkcs11:id=%06;"))).toMatch(/ is not listed: its CKA_VALUE is larger than 65536 bytes, which no certificate the agent can use is; write the certificate /);
    expect(lines.find((l) => l.includes("object=big-id;"))).toMatch(/^roles-anywhere-agent: warning: the certificate object pkcs11:manufacturer=.* is not listed: its CKA_ID is larger than 1024 bytes, which no certificate the agent can use is; /);
    expect(lines.find((l) => l.startsWith("roles-anywhere-agent: warning: the certificate object pkcs11:id=%07;"))).toMatch(/ is not listed: its CKA_LABEL is larger than 1024 bytes, /);
  });

  it("reads no more of a 128 MiB CKA_VALUE than its first 64 KiB: the listing's peak memory stays far below the object's size", async () => {
    const { code, stderr } = await runCli(cli.cli, ["read-certificate-data", "--certificate", "pkcs11:token=memory", "--pkcs11-lib", SOFTHSM_MODULE], env, 90_000, ["/usr/bin/time", "-f", "max-rss-kib=%M"]);
    expect(code).toBe(0);
    expect(stderr).toContain("its CKA_VALUE is larger than 65536 bytes");
    const kib = Number(/max-rss-kib=(\d+)/.exec(stderr)![1]);
    console.log(`read-certificate-data, 128 MiB CKA_VALUE: max RSS ${kib} KiB`);
    // SoftHSM itself holds about two copies of the object (331 MiB here, 631 MiB before round 35): those are the module's.
    expect(kib * 1024).toBeLessThan(3 * MEMORY_VALUE);
  }, 120_000);
});

describe("the signer given a certificate object it cannot use", () => {
  const sign = (uri: string) =>
    failure(createPkcs11Signer({ keyUri: uri, certificateUri: uri, library: SOFTHSM_MODULE, pin: { kind: "value", value: "1234" } }));

  it("an Ed25519 certificate: one line naming Ed25519 and the key types a token can sign with", async () => {
    const error = await sign("pkcs11:token=hostile-objects;object=ed25519");
    expect([error.code, error.message, error.hint]).toEqual([
      "PRIVATE_KEY_UNSUPPORTED",
      "the certificate's key type (Ed25519) cannot be used on a PKCS#11 token",
      "tokens sign with RSA or EC keys",
    ]);
  });

  it("PEM text: the openssl command that writes it in DER, as the listing says", async () => {
    const error = await sign("pkcs11:token=unusable;object=pem-text");
    expect(error.message).toMatch(/^the certificate object pkcs11:id=%02;.* cannot be used: its CKA_VALUE holds PEM text, not DER$/);
    expect(error.hint).toBe("write it in DER: openssl x509 -in CERT -outform DER -out CERT.der, or let roles-anywhere-agent install-certificate write it; or give the certificate file with --certificate");
  });

  it("an object not of type X.509: refused with the line the listing prints", async () => {
    const error = await sign("pkcs11:token=hostile-objects;object=openpgp");
    expect([error.code, error.message]).toEqual(["CERTIFICATE_INVALID", expect.stringMatching(/cannot be used: its CKA_CERTIFICATE_TYPE is 0x80504750, not CKC_X_509: the agent reads X\.509 certificates only$/)]);
  });
});

describe("principal-tags on a token whose certificate objects cannot be used", () => {
  const tags = (uri: string) => runCli(cli.cli, ["principal-tags", "--certificate", uri, "--pkcs11-lib", SOFTHSM_MODULE], env);

  it("tells each one left out on stderr, as read-certificate-data does, then that no certificate matches", async () => {
    const { code, stderr } = await tags("pkcs11:token=unusable");
    expect(code).not.toBe(0);
    const told = warnings((await list("pkcs11:token=unusable")).stderr);
    expect(warnings(stderr).slice(0, 4)).toEqual(told);
    expect(warnings(stderr).slice(4).join("\n")).toContain("no certificate matches pkcs11:token=unusable");
  });

  it("beside a usable certificate: its tags printed, the broken one told", async () => {
    const { code, stdout, stderr } = await tags("pkcs11:token=mixed");
    expect(code).toBe(0);
    expect(stdout).toContain("x509Subject/CN");
    expect(warnings(stderr)).toEqual([expect.stringMatching(/^roles-anywhere-agent: warning: the certificate object pkcs11:id=%22;.*object=broken;.* is not listed: /)]);
  });
});
