import { UsageError } from "../../errors.js";
import { isPkcs11Uri } from "../../pkcs11/uri.js";
import { stringArg, type CommandSpec } from "../command.js";
import { DEBUG_OPTION, signerOptionsNamed } from "../shared-options.js";
import { rejectOsStoreFlags, tokenAccessFromArgs } from "../settings-args.js";

const command: CommandSpec = {
  name: "read-certificate-data",
  describe: "Print a certificate's key type, serial and DER (file), or list matching certificates (pkcs11: URI)",
  options: [
    { name: "certificate", type: "string", description: "Certificate file or pkcs11: URI" },
    ...signerOptionsNamed("pkcs11-lib", "pkcs11-pin-file", "pkcs11-pin-env"),
    { name: "cert-selector", type: "string", description: "OS certificate store selector (not available on Linux)" },
    ...signerOptionsNamed("system-store-name"),
    DEBUG_OPTION,
  ],
  conflicts: [
    ["certificate", "cert-selector"],
    ["certificate", "system-store-name"],
  ],
  async run(args, io) {
    rejectOsStoreFlags(args);
    const certificate = stringArg(args, "certificate");
    if (!certificate) {
      throw new UsageError("USAGE", "--certificate is required on Linux (a file or a pkcs11: URI)");
    }
    if (isPkcs11Uri(certificate)) {
      const [{ listPkcs11Certificates }, { skippedCertificates }] = await Promise.all([
        import("../../signers/pkcs11/index.js"),
        import("./skipped-certificates.js"),
      ]);
      const { skipped, tell } = skippedCertificates(io.stderr);
      const entries = await listPkcs11Certificates({ uri: certificate, ...tokenAccessFromArgs(args, io), skipped });
      tell();
      const list = entries.map((e, i) =>
        `${i + 1}) Hex Fingerprint: ${e.sha1Fingerprint}\nSubject: ${e.subject}\nIssuer: ${e.issuer}\nSerial Number: ${e.serialHex}\nURI: ${e.uri}\n\n`,
      );
      io.stdout.write(entries.length === 0 ? "No matching identities\n" : `Matching identities\n${list.join("")}`);
      return 0;
    }
    const [{ readCertificateFile }, { certificateData }] = await Promise.all([
      import("../../x509/read-certificates.js"),
      import("../../x509/certificate-data.js"),
    ]);
    const { certificates: [leaf] } = await readCertificateFile(certificate);
    io.stdout.write(JSON.stringify(await certificateData(leaf)));
    return 0;
  },
};
export default command;
