/**
 * The provisioning guide on any PKCS#11 module: keygen on the token → csr (checked by openssl req -verify) →
 * an openssl CA issues the certificate → install-certificate → the key's URI, which then names key and
 * certificate. Each step must succeed; the caller checks what it wants of the result.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import type { LocalEndpoint } from "../../src/local-endpoint/server.js";
import type { CaHandle } from "../../test/helpers/pki.js";
import { expectCredentialJson, opensslSignCsr, opensslVerifyCsr, SESSION_ARGS } from "./provisioning-support.js";
import type { CliRun } from "./run-cli.js";

export interface TokenCli {
  /** Runs the CLI with `--pkcs11-lib` and the PIN flags appended. */
  run(args: string[]): Promise<CliRun>;
}

/**
 * The run with the lines a module writes to stderr itself taken out (tpm2-pkcs11 logs every refusal as
 * `ERROR: …`, and nothing turns that off), so that what is left is the CLI's own output.
 */
export function withoutModuleLog(run: CliRun, moduleLine: RegExp): CliRun {
  const stderr = run.stderr
    .split("\n")
    .filter((line) => !moduleLine.test(line))
    .join("\n");
  return { ...run, stderr };
}

export interface ProvisionRequest {
  /** `pkcs11:token=…;object=<label>` for keygen. */
  readonly keyUri: string;
  readonly keyType: string;
  readonly id: string;
  readonly ca: CaHandle;
  /** Where the CSR and certificate files go. */
  readonly dir: string;
}

export interface Provisioned {
  /** What keygen printed and install-certificate confirmed: names the key and its certificate. */
  readonly uri: string;
  readonly certPath: string;
}

export async function provisionOnToken(cli: TokenCli, request: ProvisionRequest): Promise<Provisioned> {
  const { keyUri, keyType, id, ca, dir } = request;
  const name = `${keyType}-${id}`;
  const keygen = await cli.run(["keygen", "--private-key", keyUri, "--id", id, "--key-type", keyType]);
  expect(keygen.stderr, "keygen").toMatch(/^generating an? \w+ key on the token…\n$/); // one progress line when stderr is not a terminal
  expect(keygen.code).toBe(0);
  const uri = keygen.stdout.trim();
  expect(uri).toMatch(new RegExp(`^pkcs11:id=%${id};object=`, "i"));

  const csrPath = join(dir, `${name}.csr`);
  const csr = await cli.run(["csr", "--private-key", uri, "--subject", `/O=Example Corp/CN=${name}`, "--out", csrPath]);
  expect(csr.stderr, "csr").toBe("");
  expect(csr.code).toBe(0);
  expect(opensslVerifyCsr(csrPath)).toBe(`CN=${name},O=Example Corp`);

  const certPath = join(dir, `${name}.pem`);
  opensslSignCsr(ca, csrPath, certPath);
  const install = await cli.run(["install-certificate", "--private-key", uri, "--certificate", certPath]);
  expect(install.stderr, "install-certificate").toBe("");
  expect(install.code).toBe(0);
  expect(install.stdout.trim()).toBe(uri);
  return { uri, certPath };
}

/** credential-process with the one URI for key and certificate: credentials, and one session issued for them. */
export async function expectCredentials(cli: TokenCli, uri: string, endpoint: LocalEndpoint): Promise<void> {
  const before = endpoint.issued.length;
  const r = await cli.run(["credential-process", "--certificate", uri, ...SESSION_ARGS, "--endpoint", endpoint.url]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expectCredentialJson(r.stdout);
  expect(endpoint.issued.length).toBe(before + 1);
}

/** The private key's "Access:" and "Usage:" lines as pkcs11-tool prints them (an independent reader). */
export function describedByPkcs11Tool(listing: string, label: string): { access: string; usage: string } {
  const blocks = listing.split(/\n(?=\S)/);
  const block = blocks.find((b) => /^Private Key Object/.test(b) && new RegExp(`label:\\s+${label}\\s*$`, "m").test(b));
  if (!block) throw new Error(`pkcs11-tool lists no private key labelled ${label}:\n${listing}`);
  return { access: /Access:\s*(.*)$/m.exec(block)?.[1]?.trim() ?? "", usage: /Usage:\s*(.*)$/m.exec(block)?.[1]?.trim() ?? "" };
}

export function certificateDer(certPath: string): Buffer {
  return execFileSync("openssl", ["x509", "-in", certPath, "-outform", "DER"]);
}
