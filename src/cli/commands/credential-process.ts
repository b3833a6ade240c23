import { goJsonStringify, toCredentialProcessOutput } from "../../credentials/credentials.js";
import type { CommandSpec } from "../command.js";
import { clientOptionsFromArgs, sessionParamsFromArgs } from "../session-args.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../shared-options.js";
import { signerOptionsFromArgs } from "../signer-args.js";

const command: CommandSpec = {
  name: "credential-process",
  describe: "Print temporary credentials as credential_process JSON (for ~/.aws/config)",
  options: [...SIGNER_OPTIONS, ...SESSION_OPTIONS],
  conflicts: CREDENTIAL_CONFLICTS,
  async run(args, io) {
    const params = sessionParamsFromArgs(args);
    const clientOptions = clientOptionsFromArgs(args, io);
    const signerOptions = signerOptionsFromArgs(args, io);
    const [{ createSigner }, { createSession }] = await Promise.all([
      import("../../signers/factory.js"),
      import("../../rolesanywhere/create-session.js"),
    ]);
    const signer = await createSigner(signerOptions);
    try {
      const result = await createSession(signer, params, clientOptions);
      // No trailing newline, exactly like aws_signing_helper.
      io.stdout.write(goJsonStringify(toCredentialProcessOutput(result.credentials)));
      return 0;
    } finally {
      await signer.close();
    }
  },
};
export default command;
