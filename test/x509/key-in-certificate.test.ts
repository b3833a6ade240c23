/**
 * A certificate file that holds a private key too (`cat key.pem crt.pem > crt.pem`, left 0644 as certificates are):
 * every reader of a certificate file warns (RAA_EXPOSED_FILE) that other users can read the key in it, as it warns
 * about an exposed key file, with the two fixes (round 38, T3; before: not a word, S34 showed it live). The one
 * check (read-certificates.ts: warnIfKeyInCertificate) as readCertificateFile, the signer's factory beside a separate
 * --private-key, serve's and local-endpoint's TLS files, sign-string and local-endpoint on the command line use it.
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { encodePem } from "../../src/encoding/pem.js";
import { readTlsFiles } from "../../src/serve/tls-files.js";
import { createSigner } from "../../src/signers/factory.js";
import { readCertificateFile } from "../../src/x509/read-certificates.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { exposedWarnings, warningsEmitted } from "../helpers/exposed-warnings.js";

const { dir, cleanup } = makeTempDir("raa-key-in-cert-");
afterAll(cleanup);
const ca = createCa(join(dir, "ca"), { name: "Key In Certificate CA" });
const leaf = issueLeaf(ca, dir, { name: "key-in-cert", extensions: ["basicConstraints=critical,CA:FALSE", "subjectAltName=IP:127.0.0.1"] });
const keyPem = readFileSync(leaf.keyPath, "utf8");
chmodSync(leaf.keyPath, 0o600);

const warnings = exposedWarnings();
const emitted = warningsEmitted;

let n = 0;
/** A new certificate file: `before` (a key block, or nothing), then the certificate, with `mode`. */
function certificateFile(mode: number, before = keyPem): string {
  const path = join(dir, `crt-${++n}.pem`);
  writeFileSync(path, `${before}${leaf.certPem}`);
  chmodSync(path, mode);
  return path;
}
const told = (what: string, path: string, mode = "644") =>
  `${what} ${path} holds a private key and can be read or changed by other users (mode ${mode}): keep the private key in a file of its own, or run chmod 600 ${path}`;

describe("readCertificateFile: a certificate file holding a private key", () => {
  const body = Buffer.from(keyPem.split("\n").slice(1, -2).join(""), "base64");
  it.each(["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "TSS2 PRIVATE KEY", "DSA PRIVATE KEY"])(
    "a %s block, the file mode 644: warned, once, with both fixes (before: nothing)",
    async (label) => {
      const path = certificateFile(0o644, encodePem(label, body));
      await readCertificateFile(path);
      await readCertificateFile(path); // a reload of the same file: not told again
      await emitted();
      expect(warnings).toEqual([told("certificate file", path)]);
    },
  );

  it("after the key: the same (the order in the file does not matter)", async () => {
    const path = join(dir, "after.pem");
    writeFileSync(path, `${leaf.certPem}${keyPem}`, { mode: 0o644 });
    chmodSync(path, 0o644);
    await readCertificateFile(path);
    await emitted();
    expect(warnings).toEqual([told("certificate file", path)]);
  });

  it("group-readable (0640, the user's own file): warned as a key file of that mode is", async () => {
    const path = certificateFile(0o640);
    await readCertificateFile(path);
    await emitted();
    expect(warnings).toEqual([told("certificate file", path, "640")]);
  });

  it("not warned: the key in a 0600 file; a 0644 certificate file without a key; a CERTIFICATE block only named like a key in a comment", async () => {
    await readCertificateFile(certificateFile(0o600));
    await readCertificateFile(certificateFile(0o644, ""));
    await readCertificateFile(certificateFile(0o644, "a comment: no PRIVATE KEY here\n"));
    await emitted();
    expect(warnings).toEqual([]);
  });

  it("the key's bytes decoded to find its label are wiped: no buffer made reading the file holds them", async () => {
    const path = certificateFile(0o644);
    const secret = Buffer.from(keyPem.split("\n")[1]!);
    const der = Buffer.from(keyPem.split("\n").slice(1, -2).join(""), "base64").subarray(8, 40); // inside the key's DER
    for (const held of [secret, der]) {
      const { left } = await copiesHolding(held, () => readCertificateFile(path));
      expect(left).toBe(0);
    }
    await emitted();
    expect(warnings).toEqual([told("certificate file", path)]);
  });
});

describe("every reader of a certificate file uses the check", () => {
  it("the signer, --certificate beside a separate --private-key (sign-string, credential-process): warned", async () => {
    const path = certificateFile(0o644);
    await createSigner({ certificate: path, privateKey: leaf.keyPath });
    await emitted();
    expect(warnings).toEqual([told("certificate file", path)]);
  });

  it("the signer, the same file as both (no --private-key): told once, as the key file", async () => {
    const path = certificateFile(0o644);
    await createSigner({ certificate: path });
    await emitted();
    expect(warnings).toEqual([`private key file ${path} can be read or changed by other users (mode 644): run chmod 600 ${path}`]);
  });

  it("the file signer's reload of a renewed certificate file: warned beside a separate key; the same file as both told once, as the key file", async () => {
    const renew = (path: string, mode: number, before = keyPem) => {
      writeFileSync(`${path}.new`, `${before}${leaf.certPem}`, { mode });
      chmodSync(`${path}.new`, mode);
      renameSync(`${path}.new`, path);
    };
    const separate = certificateFile(0o644, "");
    const combined = certificateFile(0o600);
    const signers = [await createSigner({ certificate: separate, privateKey: leaf.keyPath }), await createSigner({ certificate: combined })];
    for (const signer of signers) await signer.certificate(); // the first, right after the read, is not checked again
    await emitted();
    expect(warnings).toEqual([]);
    renew(separate, 0o644);
    renew(combined, 0o644);
    for (const signer of signers) await signer.certificate();
    await emitted();
    expect(warnings).toEqual([told("certificate file", separate), `private key file ${combined} can be read or changed by other users (mode 644): run chmod 600 ${combined}`]);
  });

  it("serve's and local-endpoint's TLS files: warned beside a separate key; the same file as both told as the key's", async () => {
    const [path, combined] = [certificateFile(0o644), certificateFile(0o644)];
    const { cert, key } = await readTlsFiles({ certificate: path, key: leaf.keyPath });
    [cert, key].forEach((read) => read.bytes.fill(0));
    const both = await readTlsFiles({ certificate: combined, key: combined });
    [both.cert, both.key].forEach((read) => read.bytes.fill(0));
    await emitted();
    expect(warnings).toEqual([told("TLS certificate file", path), `TLS private key file ${combined} can be read or changed by other users (mode 644): run chmod 600 ${combined}`]);
  });

  it("on the command line: sign-string --certificate … --private-key …, and local-endpoint --tls-cert … --tls-key …", async () => {
    const io = () => ({ stdout: new PassThrough(), stderr: new PassThrough(), env: {} });
    const signing = certificateFile(0o644);
    expect(await main(["sign-string", "--certificate", signing, "--private-key", leaf.keyPath], io())).toBe(0);
    const serving = certificateFile(0o644);
    const stray = issueLeaf(ca, join(dir, "stray"), { name: "stray" }); // not the certificate's key: exit 3 once both are read
    chmodSync(stray.keyPath, 0o600);
    expect(await main(["local-endpoint", "--trust-anchors", ca.certPath, "--tls-cert", serving, "--tls-key", stray.keyPath], io())).toBe(3);
    await emitted();
    expect(warnings).toEqual([told("certificate file", signing), told("TLS certificate file", serving)]);
  });
});
