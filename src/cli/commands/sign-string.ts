import type { DigestAlgorithm } from "../../signers/signer.js";
import { stringArg, type CommandSpec } from "../command.js";
import { SIGNER_OPTIONS } from "../shared-options.js";
import { signerOptionsFromArgs } from "../settings-args.js";

const command: CommandSpec = {
  name: "sign-string",
  describe: "Sign the aws_signing_helper fixed test string with the key (diagnostic)",
  options: [
    ...SIGNER_OPTIONS,
    { name: "format", type: "string", default: "json", choices: ["json", "text", "bin"], description: "Output format" },
    { name: "digest", type: "string", default: "SHA256", choices: ["SHA256", "SHA384", "SHA512"], description: "Digest to sign with" },
  ],
  conflicts: [
    ["certificate", "cert-selector"],
    ["certificate", "system-store-name"],
    ["private-key", "cert-selector"],
    ["private-key", "system-store-name"],
    ["private-key", "use-latest-expiring-certificate"],
    ["use-latest-expiring-certificate", "reuse-pin"],
    ["cert-selector", "reuse-pin"],
    ["system-store-name", "reuse-pin"],
    ["tpm-key-password", "cert-selector"],
    ["tpm-key-password", "reuse-pin"],
    ["no-tpm-key-password", "cert-selector"],
    ["no-tpm-key-password", "reuse-pin"],
    ["no-tpm-key-password", "tpm-key-password"],
    ["pkcs8-password", "tpm-key-password"],
  ],
  async run(args, io) {
    const [{ createSigner }, { fixedTestString }] = await Promise.all([
      import("../../signers/factory.js"),
      import("../../signers/fixed-string.js"),
    ]);
    const signer = await createSigner(signerOptionsFromArgs(args, io));
    try {
      const message = fixedTestString(signer.keyType.startsWith("ML-DSA") ? undefined : await signer.publicKey());
      const signature = await signer.sign(message, stringArg(args, "digest") as DigestAlgorithm);
      const format = stringArg(args, "format");
      if (format === "bin") io.stdout.write(signature);
      else if (format === "text") io.stdout.write(signature.toString("hex"));
      else io.stdout.write(JSON.stringify(signature.toString("hex")));
      return 0;
    } finally {
      await signer.close();
    }
  },
};
export default command;
