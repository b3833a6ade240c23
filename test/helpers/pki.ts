/**
 * Throwaway PKI for tests, made with the `openssl` command line (an independent implementation, so our
 * parsers are checked against certificates we did not write ourselves).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type TestKeyType = "rsa2048" | "rsa3072" | "rsa4096" | "p256" | "p384" | "p521";

export interface CaHandle {
  name: string;
  dir: string;
  certPath: string;
  keyPath: string;
  certPem: string;
}

export interface IssuedCertificate {
  certPath: string;
  /** PKCS#8 PEM (absent when the certificate was issued for an external public key). */
  keyPath: string;
  certPem: string;
  serialDecimal: string;
}

export function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, { input, stdio: ["pipe", "pipe", "pipe"], encoding: "utf8" });
}

/** A temp directory removed by the returned cleanup function. */
export function makeTempDir(prefix = "raa-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function generateKey(path: string, keyType: TestKeyType): void {
  const args = keyType.startsWith("rsa")
    ? ["-algorithm", "RSA", "-pkeyopt", `rsa_keygen_bits:${keyType.slice(3)}`]
    : ["-algorithm", "EC", "-pkeyopt", `ec_paramgen_curve:${{ p256: "P-256", p384: "P-384", p521: "P-521" }[keyType as "p256"]}`];
  openssl(["genpkey", ...args, "-out", path]);
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** A CA (self-signed root, or an intermediate when `parent` is given). */
export function createCa(
  dir: string,
  opts: { name: string; keyType?: TestKeyType; parent?: CaHandle; days?: number; pathLen?: number; expired?: boolean },
): CaHandle {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, safeName(opts.name));
  const keyPath = `${base}.key`;
  const certPath = `${base}.pem`;
  generateKey(keyPath, opts.keyType ?? "p256");
  const ext = [
    `basicConstraints=critical,CA:TRUE${opts.pathLen !== undefined ? `,pathlen:${opts.pathLen}` : ""}`,
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    "subjectKeyIdentifier=hash",
  ];
  if (!opts.parent) {
    openssl([
      "req", "-x509", "-new", "-key", keyPath, "-out", certPath, "-days", String(opts.days ?? 3650),
      "-subj", `/CN=${opts.name}`, "-sha256", ...ext.flatMap((e) => ["-addext", e]),
    ]);
  } else {
    signWithCa(opts.parent, dir, {
      name: opts.name,
      keyPath,
      certPath,
      extensions: [...ext, "authorityKeyIdentifier=keyid"],
      days: opts.days ?? 3650,
      expired: opts.expired ?? false,
      notYetValid: false,
    });
  }
  return { name: opts.name, dir, certPath, keyPath, certPem: readFileSync(certPath, "utf8") };
}

export interface LeafOptions {
  name: string;
  keyType?: TestKeyType;
  days?: number;
  /** Valid from 60 to 30 days ago. */
  expired?: boolean;
  /** Valid from 30 days in the future. */
  notYetValid?: boolean;
  /** Exact validity end (start: a minute ago), e.g. a certificate 20 minutes from expiry. */
  notAfter?: Date;
  /** Exact validity start, for tests that sign with a fixed date in the past. */
  notBefore?: Date;
  /** Sign this existing public key (PEM) instead of generating a key (TPM/PKCS#11 keys). */
  publicKeyPath?: string;
  /** Use this existing private key (PEM) instead of generating one. */
  keyPath?: string;
  /** Extra `-addext`-style extension lines; replaces the default leaf extensions when given. */
  extensions?: string[];
  /** Subject in openssl's `/A=b/C=d` form; defaults to `/CN=<name>`. */
  subject?: string;
}

/** A client (end-entity) certificate the way Roles Anywhere wants it: CA:FALSE, digitalSignature, clientAuth. */
export function issueLeaf(ca: CaHandle, dir: string, opts: LeafOptions): IssuedCertificate {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, safeName(opts.name));
  const certPath = `${base}.pem`;
  let keyPath = opts.keyPath ?? `${base}.key`;
  if (!opts.keyPath && !opts.publicKeyPath) generateKey(keyPath, opts.keyType ?? "p256");
  if (opts.publicKeyPath) keyPath = "";
  signWithCa(ca, dir, {
    name: opts.name,
    subject: opts.subject,
    keyPath: keyPath || undefined,
    publicKeyPath: opts.publicKeyPath,
    certPath,
    extensions: opts.extensions ?? [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
      "subjectKeyIdentifier=hash",
      "authorityKeyIdentifier=keyid",
    ],
    days: opts.days ?? 365,
    expired: opts.expired ?? false,
    notYetValid: opts.notYetValid ?? false,
    notAfter: opts.notAfter,
    notBefore: opts.notBefore,
  });
  const serialHex = openssl(["x509", "-in", certPath, "-noout", "-serial"]).trim().replace(/^serial=/, "");
  return { certPath, keyPath, certPem: readFileSync(certPath, "utf8"), serialDecimal: BigInt(`0x${serialHex}`).toString(10) };
}

function formatAsn1Time(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").replace(/\.\d{3}Z$/, "Z").slice(2);
}

/**
 * Signs with `openssl ca`, which (unlike `x509 -req` in OpenSSL 3.0) can set arbitrary validity dates.
 * With `publicKeyPath`, a throwaway key makes the CSR and `-force_pubkey`-style substitution happens via
 * `openssl x509 -req -force_pubkey` instead.
 */
function signWithCa(
  ca: CaHandle,
  dir: string,
  o: {
    name: string;
    subject?: string | undefined;
    keyPath?: string | undefined;
    publicKeyPath?: string | undefined;
    certPath: string;
    extensions: string[];
    days: number;
    expired: boolean;
    notYetValid: boolean;
    notAfter?: Date | undefined;
    notBefore?: Date | undefined;
  },
): void {
  const work = join(dir, `.ca-${safeName(ca.name)}`);
  mkdirSync(join(work, "new"), { recursive: true });
  const index = join(work, "index.txt");
  try {
    readFileSync(index);
  } catch {
    writeFileSync(index, "");
  }
  const base = join(work, safeName(o.name));
  const csr = `${base}.csr`;
  let csrKey = o.keyPath;
  if (!csrKey) {
    csrKey = `${base}.csrkey`;
    generateKey(csrKey, "p256");
  }
  openssl(["req", "-new", "-key", csrKey, "-subj", o.subject ?? `/CN=${o.name}`, "-out", csr]);
  const extFile = `${base}.ext`;
  writeFileSync(extFile, `[ext]\n${o.extensions.join("\n")}\n`);

  if (o.publicKeyPath) {
    const serial = `0x${randomSerialHex()}`;
    openssl([
      "x509", "-req", "-in", csr, "-CA", ca.certPath, "-CAkey", ca.keyPath, "-set_serial", serial,
      "-days", String(o.days), "-sha256", "-extfile", extFile, "-extensions", "ext",
      "-force_pubkey", o.publicKeyPath, "-out", o.certPath,
    ]);
    return;
  }
  const now = Date.now();
  const day = 86_400_000;
  const [start, end] = o.expired
    ? [new Date(now - 60 * day), new Date(now - 30 * day)]
    : o.notYetValid
      ? [new Date(now + 30 * day), new Date(now + 60 * day)]
      : [o.notBefore ?? new Date(now - 60_000), o.notAfter ?? new Date(now + o.days * day)];
  const conf = `${base}.cnf`;
  writeFileSync(
    conf,
    [
      "[ca]", "default_ca = testca", "[testca]",
      `database = ${index}`, `new_certs_dir = ${join(work, "new")}`, "default_md = sha256",
      "policy = anything", "unique_subject = no", "copy_extensions = none", "rand_serial = yes",
      "[anything]", "commonName = optional", "organizationName = optional", "organizationalUnitName = optional",
      "countryName = optional", "stateOrProvinceName = optional", "localityName = optional", "serialNumber = optional",
      "emailAddress = optional", "domainComponent = optional",
    ].join("\n") + "\n",
  );
  openssl([
    "ca", "-batch", "-config", conf, "-cert", ca.certPath, "-keyfile", ca.keyPath, "-in", csr, "-out", o.certPath,
    "-startdate", formatAsn1Time(start), "-enddate", formatAsn1Time(end), "-extfile", extFile, "-extensions", "ext",
    "-notext", "-preserveDN",
  ]);
}

function randomSerialHex(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return Buffer.from(bytes).toString("hex");
}
