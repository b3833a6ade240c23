import type { DigestAlgorithm } from "../../signers/signer.js";
import { stringArg, type CommandSpec } from "../command.js";
import { CREDENTIAL_CONFLICTS, SIGNER_OPTIONS } from "../shared-options.js";
import { signerOptionsFromArgs, withSigner } from "../settings-args.js";

const command: CommandSpec = {
  name: "sign-string",
  describe: "Sign the aws_signing_helper fixed test string with the key (diagnostic)",
  options: [
    ...SIGNER_OPTIONS,
    { name: "format", type: "string", default: "json", choices: ["json", "text", "bin"], description: "Output format" },
    { name: "digest", type: "string", default: "SHA256", choices: ["SHA256", "SHA384", "SHA512"], description: "Digest to sign with" },
  ],
  // The Go helper's pairs for sign-string: the credential commands' without --intermediates, and one more.
  conflicts: [...CREDENTIAL_CONFLICTS.filter(([, b]) => b !== "intermediates"), ["no-tpm-key-password", "reuse-pin"]],
  async run(args, io) {
    const { fixedTestString } = await import("../../signers/fixed-string.js");
    return withSigner(signerOptionsFromArgs(args, io), async (signer) => {
      const message = fixedTestString(signer.keyType.startsWith("ML-DSA") ? undefined : await signer.publicKey());
      const signature = await signer.sign(message, stringArg(args, "digest") as DigestAlgorithm);
      const format = stringArg(args, "format");
      if (format === "bin") io.stdout.write(signature);
      else if (format === "text") io.stdout.write(signature.toString("hex"));
      else io.stdout.write(JSON.stringify(signature.toString("hex")));
      return 0;
    });
  },
};
export default command;
