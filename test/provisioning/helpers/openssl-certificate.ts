/**
 * Certificates with chosen names, made by the openssl command line (an independent producer: the string
 * types, RDN ordering and SAN encodings are OpenSSL's, not ours).
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface NamedCertificateSpec {
  /** openssl `-subj` form, `+` for multi-valued RDNs; UTF-8 allowed. */
  readonly subject: string;
  readonly issuer: string;
  /** `subjectAltName = …` value, e.g. `DNS:a,URI:b,dirName:dir1`. */
  readonly subjectAltName?: string;
  /** Config sections for `dirName:` entries: name → lines (`CN = Alice`, `1.OU = A`). */
  readonly sections?: Readonly<Record<string, readonly string[]>>;
  /** OpenSSL `string_mask`: `utf8only` (default) or `default` (PrintableString/T61String/BMPString). */
  readonly stringMask?: "utf8only" | "default";
  readonly serial?: string;
}

function openssl(args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

/** A leaf signed by a throwaway CA whose subject is `issuer`; returns the leaf's DER. */
export function opensslCertificate(dir: string, name: string, spec: NamedCertificateSpec): Buffer {
  const base = join(dir, name);
  const sections = Object.entries(spec.sections ?? {})
    .map(([section, lines]) => `[${section}]\n${lines.join("\n")}\n`)
    .join("");
  writeFileSync(
    `${base}.cnf`,
    `[req]\ndistinguished_name = dn\nstring_mask = ${spec.stringMask ?? "utf8only"}\nprompt = no\n[dn]\n` +
      `[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n` +
      (spec.subjectAltName ? `subjectAltName = ${spec.subjectAltName}\n` : "") +
      `[ca_ext]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign\n` +
      sections,
  );
  const ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
  openssl(["genpkey", ...ec, "-out", `${base}.ca.key`]);
  openssl(["genpkey", ...ec, "-out", `${base}.key`]);
  const cnf = ["-config", `${base}.cnf`, "-utf8"];
  openssl(["req", "-new", "-x509", "-key", `${base}.ca.key`, ...cnf, "-subj", spec.issuer, "-extensions", "ca_ext", "-days", "2", "-out", `${base}.ca.pem`]);
  openssl(["req", "-new", "-key", `${base}.key`, ...cnf, "-subj", spec.subject, "-out", `${base}.csr`]);
  return openssl([
    "x509", "-req", "-in", `${base}.csr`, "-CA", `${base}.ca.pem`, "-CAkey", `${base}.ca.key`,
    "-set_serial", spec.serial ?? "0x1f71c5114a119fc0cc5a5a52fb3720ad", "-days", "1", "-sha256",
    "-extfile", `${base}.cnf`, "-extensions", "ext", "-outform", "DER",
  ]);
}
