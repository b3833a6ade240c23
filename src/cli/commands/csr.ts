import type { DigestAlgorithm } from "../../signers/signer.js";
import { boolArg, listArg, stringArg, type CommandSpec } from "../command.js";
import { SIGNER_OPTIONS } from "../shared-options.js";
import { signerOptionsFromArgs, withSigner } from "../settings-args.js";
import { UsageError } from "../../errors.js";

const command: CommandSpec = {
  name: "csr",
  describe: "Write a PKCS#10 certificate request signed by the key (file, pkcs11: URI, TSS2 key file or handle:)",
  options: [
    { name: "subject", type: "string", description: "Subject: /CN=device-1/O=Example (OpenSSL form, + for multi-valued RDNs) or CN=device-1,O=Example (RFC 4514)" },
    { name: "san", type: "string", repeatable: true, description: "Subject alternative name: DNS:host, URI:spiffe://…, email:a@example.com or IP:192.0.2.1 (repeatable)" },
    { name: "digest", type: "string", choices: ["SHA256", "SHA384", "SHA512"], description: "Signature digest (default: SHA256 for RSA, the curve's size for EC)" },
    { name: "out", type: "string", refuseEmpty: true, description: "Write the request (PEM) to this file instead of stdout" },
    { name: "force", type: "boolean", description: "Replace --out if it exists" },
    ...SIGNER_OPTIONS,
  ],
  conflicts: [["certificate", "cert-selector"], ["private-key", "cert-selector"]],
  async run(args, io) {
    const subjectText = stringArg(args, "subject");
    if (!subjectText) throw new UsageError("USAGE", "--subject is required", { hint: "e.g. --subject /CN=device-1/O=Example" });
    const [{ parseSubject }, { parseSan }, { buildCsr }] = await Promise.all([
      import("../../x509/names/parse-subject.js"),
      import("../../provisioning/csr/subject-alt-names.js"),
      import("../../provisioning/csr/build-csr.js"),
    ]);
    // Parse everything the user typed before touching the key (no PIN prompt for a typo).
    const subject = parseSubject(subjectText);
    const subjectAltNames = listArg(args, "san").map(parseSan);
    return withSigner(signerOptionsFromArgs(args, io), async (signer) => {
      const { pem } = await buildCsr(signer, { subject, subjectAltNames, digest: stringArg(args, "digest") as DigestAlgorithm | undefined });
      const out = stringArg(args, "out");
      if (out === undefined) {
        io.stdout.write(pem);
      } else {
        const { writeOutputFile } = await import("../../provisioning/output-file.js");
        await writeOutputFile(out, pem, { what: "certificate request", overwrite: boolArg(args, "force") });
      }
      return 0;
    });
  },
};
export default command;
