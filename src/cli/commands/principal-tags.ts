import { InputError, UsageError } from "../../errors.js";
import { isPkcs11Uri } from "../../pkcs11/uri.js";
import { listArg, stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { DEBUG_OPTION, signerOptionsNamed } from "../shared-options.js";
import { tokenAccessFromArgs } from "../settings-args.js";
import type { Certificate } from "../../x509/certificate.js";

const command: CommandSpec = {
  name: "principal-tags",
  describe: "Print the session tags (aws:PrincipalTag/x509…) and source identity Roles Anywhere derives from a certificate, with an example trust policy",
  options: [
    { name: "certificate", type: "string", refuseEmpty: true, description: "Certificate: PEM/DER file (the first certificate is used) or pkcs11: URI" },
    { name: "trust-anchor-arn", type: "string", refuseEmpty: true, description: "Trust anchor ARN for aws:SourceArn in the example policy" },
    { name: "condition", type: "string", refuseEmpty: true, repeatable: true, description: "Tag to require in the example policy, e.g. x509Subject/OU (repeatable; default: x509Subject/CN and x509Issuer/CN)" },
    { name: "format", type: "string", default: "text", choices: ["text", "json"], description: "Output format" },
    { name: "pkcs11-lib", type: "string", refuseEmpty: true, description: "PKCS#11 module path (pkcs11: URIs)" },
    ...signerOptionsNamed("pkcs11-pin-file", "pkcs11-pin-env"),
    DEBUG_OPTION,
  ],
  async run(args, io) {
    // Checked before the token is opened: a profile ARN here gave a policy no session matches.
    const trustAnchorArn = stringArg(args, "trust-anchor-arn");
    if (trustAnchorArn !== undefined) (await import("../../arn.js")).parseTrustAnchorArn(trustAnchorArn);
    const certificate = await loadCertificate(args, io);
    const [{ readCertificateNames }, tags] = await Promise.all([
      import("../../x509/names/certificate-names.js"),
      import("../../provisioning/principal-tags/index.js"),
    ]);
    const report = tags.derivePrincipalTags(readCertificateNames(certificate.der));
    const wanted = listArg(args, "condition").map((k) => k.replace(/^aws:PrincipalTag\//, ""));
    const conditionTags = wanted.length === 0 ? tags.defaultConditionTags(report.tags) : wanted.map((key) => {
      const tag = report.tags.find((t) => t.key === key);
      if (tag) return tag;
      const dropped = report.dropped.find((d) => d.key === key);
      throw new UsageError("USAGE", `--condition ${key}: ${dropped ? `not usable (${dropped.reason})` : "this certificate yields no such tag"}`, {
        hint: `available: ${report.tags.map((t) => t.key).join(", ") || "none"}`,
      });
    });
    const trustPolicy = tags.exampleTrustPolicy({ conditionTags, trustAnchorArn });
    if (stringArg(args, "format") === "json") io.stdout.write(`${JSON.stringify({ ...report, trustPolicy }, null, 2)}\n`);
    else io.stdout.write(tags.renderPrincipalTags(report, trustPolicy));
    return 0;
  },
};
export default command;

async function loadCertificate(args: ParsedArgs, io: CliIo): Promise<Certificate> {
  const ref = stringArg(args, "certificate");
  if (!ref) throw new UsageError("USAGE", "--certificate is required (a certificate file or a pkcs11: URI)");
  if (!isPkcs11Uri(ref)) {
    const { readCertificateFile } = await import("../../x509/read-certificates.js");
    return (await readCertificateFile(ref)).certificates[0];
  }
  const [{ listPkcs11Certificates }, { skippedCertificates }] = await Promise.all([
    import("../../signers/pkcs11/index.js"),
    import("./skipped-certificates.js"),
  ]);
  const { skipped, tell } = skippedCertificates(io.stderr);
  const entries = await listPkcs11Certificates({ uri: ref, ...tokenAccessFromArgs(args, io), skipped });
  tell();
  const [first, second] = entries;
  if (!first) throw new InputError("PKCS11_OBJECT_NOT_FOUND", `no certificate matches ${ref}`);
  if (second) {
    throw new InputError("PKCS11_AMBIGUOUS", `${entries.length} certificates match ${ref}`, {
      hint: `make the URI more specific, e.g. ${first.uri}`,
    });
  }
  return first.certificate;
}
