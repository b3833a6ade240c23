/** readCertificateNames: subjectAltName entries as read from a certificate openssl made. */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Certificate } from "../../../src/x509/certificate.js";
import { readCertificateNames } from "../../../src/x509/names/certificate-names.js";
import { createCa, issueLeaf, makeTempDir } from "../../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-certificate-names-");
afterAll(cleanup);

describe("readCertificateNames", () => {
  it("reads IPv4 and IPv6 iPAddress entries as addresses, in certificate order", () => {
    const ca = createCa(join(dir, "ca"), { name: "Names CA" });
    const san = "subjectAltName=IP:192.0.2.1,IP:2001:db8::1,DNS:gw.example";
    const leaf = issueLeaf(ca, dir, { name: "ips", extensions: ["basicConstraints=critical,CA:FALSE", san] });
    const der = new Certificate(Buffer.from(leaf.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64")).der;
    const names = readCertificateNames(der).subjectAltNames;
    expect(names.map((n) => n.type)).toEqual(["IP", "IP", "DNS"]);
    const [v4, v6] = names.flatMap((n) => (n.type === "IP" ? [n.value] : []));
    expect(v4).toBe("192.0.2.1");
    // The same address however it is written (here without "::" shortening).
    expect(new URL(`http://[${v6}]/`).hostname).toBe("[2001:db8::1]");
  });
});
