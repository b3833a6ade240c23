/** Shared steps of the provisioning native tests: openssl as the CA, the credentials JSON checked. */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CaHandle } from "../../test/helpers/pki.js";

/** `openssl req -verify` on the PEM request; returns the subject openssl reads (RFC 2253). */
export function opensslVerifyCsr(csrPath: string): string {
  const out = execFileSync("openssl", ["req", "-in", csrPath, "-verify", "-noout", "-subject", "-nameopt", "RFC2253"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return out.trim().replace(/^subject=/, "");
}

/** The CA signs the request the way test/helpers/pki.ts issues leaves (`openssl x509 -req`). */
export function opensslSignCsr(ca: CaHandle, csrPath: string, certPath: string): void {
  const ext = `${certPath}.ext`;
  writeFileSync(
    ext,
    "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n" +
      "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
  );
  const serial = `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex").replace(/^./, "1")}`;
  execFileSync("openssl", [
    "x509", "-req", "-in", csrPath, "-CA", ca.certPath, "-CAkey", ca.keyPath, "-set_serial", serial, "-days", "2", "-sha256",
    "-extfile", ext, "-extensions", "leaf", "-copy_extensions", "copy", "-out", certPath,
  ], { stdio: ["ignore", "pipe", "pipe"] });
}

export const ACCOUNT = "111122223333";
export const SESSION_ARGS = [
  "--trust-anchor-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:trust-anchor/provisioning`,
  "--profile-arn", `arn:aws:rolesanywhere:us-east-1:${ACCOUNT}:profile/provisioning`,
  "--role-arn", `arn:aws:iam::${ACCOUNT}:role/provisioned-device`,
];

export function expectCredentialJson(stdout: string): Record<string, unknown> {
  const credentials = JSON.parse(stdout) as Record<string, unknown>;
  if (credentials["Version"] !== 1 || !/^ASIA/.test(String(credentials["AccessKeyId"]))) {
    throw new Error(`not credentials: ${stdout}`);
  }
  return credentials;
}

export function pathIn(dir: string, name: string): string {
  return join(dir, name);
}
