/** The refusals the provisioning commands make before they touch a token, a TPM or a file: exit 2, one line. */
import { afterAll, describe, expect, it } from "vitest";
import { runMain } from "../helpers/run-main.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const tmp = makeTempDir("raa-required-flags-");
afterAll(() => tmp.cleanup());

async function refusal(...argv: string[]): Promise<[number, string, string]> {
  const { code, stdout, stderr } = await runMain(argv, { CI: "true" });
  return [code, stdout, stderr];
}
const usage = (line: string): [number, string, string] => [2, "", `roles-anywhere-agent: ${line}\n`];

describe("keygen", () => {
  it("needs --private-key, and a --id of whole hex bytes (0x allowed)", async () => {
    expect(await refusal("keygen")).toEqual(usage("--private-key is required: a pkcs11: URI, a TSS2 key file path or handle:0x81…"));
    for (const id of ["0g", "1", "abc", "0x", "0x0g", "01 02"]) {
      expect(await refusal("keygen", "--private-key", "pkcs11:token=t;object=k", "--id", id), id).toEqual(usage("--id must be hex bytes, e.g. 01 or a1b2c3"));
    }
  });
});

describe("install-certificate", () => {
  it("needs both --private-key and --certificate; the certificate a file; standard input for one of them only", async () => {
    const both = usage("--private-key and --certificate are required");
    expect(await refusal("install-certificate")).toEqual(both);
    expect(await refusal("install-certificate", "--private-key", "k.pem")).toEqual(both);
    expect(await refusal("install-certificate", "--certificate", "c.pem")).toEqual(both);
    expect(await refusal("install-certificate", "--private-key", "k.pem", "--certificate", "PKCS11:object=c")).toEqual(
      usage("--certificate must be the issued certificate's file"),
    );
    expect(await refusal("install-certificate", "--private-key", "-", "--certificate", "-")).toEqual(usage("only one of --certificate and --private-key can be -"));
  });

  it("needs --out for a key with no file beside which to write the certificate: handle:, env:NAME, -", async () => {
    const ca = createCa(tmp.dir, { name: "Install CA" });
    const leaf = issueLeaf(ca, tmp.dir, { name: "install-leaf" });
    for (const key of ["handle:0x81000001", "env:RAA_KEY", "-"]) {
      expect(await refusal("install-certificate", "--private-key", key, "--certificate", leaf.certPath), key).toEqual(
        usage("--out is required for handle:, env: and - (standard input) keys"),
      );
    }
  });
});

describe("csr, principal-tags, read-certificate-data", () => {
  it("say which flag they need", async () => {
    expect(await refusal("csr", "--private-key", "k.pem")).toEqual([2, "", "roles-anywhere-agent: --subject is required (e.g. --subject /CN=device-1/O=Example)\n"]);
    expect(await refusal("principal-tags")).toEqual(usage("--certificate is required (a certificate file or a pkcs11: URI)"));
    expect(await refusal("read-certificate-data")).toEqual(usage("--certificate is required on Linux (a file or a pkcs11: URI)"));
  });
});
