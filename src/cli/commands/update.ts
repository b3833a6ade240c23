import { boolArg, stringArg, type CommandSpec } from "../command.js";
import {
  CERTIFICATE_WARNING_OPTION, CONFIG_OPTION, CREDENTIAL_CONFLICTS, FAIL_FAST_OPTION, SESSION_OPTIONS, SIGNER_OPTIONS,
} from "../shared-options.js";
import { certificateWarningFromArgs, settingsFromArgs } from "../settings-args.js";
import { UsageError } from "../../errors.js";

const command: CommandSpec = {
  name: "update",
  describe: "Keep a profile of the shared credentials file (~/.aws/credentials) filled with fresh credentials",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "profile", type: "string", default: "default", description: "Section of the credentials file to write (default: the --config-profile name, else default)" },
    {
      name: "once", type: "boolean",
      description: "Write once and exit (for boot scripts); non-zero exit when no credentials could be obtained "
        + "(off a terminal, waits up to 5 min for a clock wrong at boot to be set)",
    },
    CONFIG_OPTION,
    { name: "config-profile", type: "string", refuseEmpty: true, description: "Take the settings from this config-file profile (flags still win)" },
    { name: "credentials-file", type: "string", refuseEmpty: true, description: "File to write (default: $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials)" },
    CERTIFICATE_WARNING_OPTION,
    FAIL_FAST_OPTION,
  ],
  conflicts: CREDENTIAL_CONFLICTS,
  async run(args, io) {
    const [{ runUpdate }, { sharedCredentialsPath }, { isProfileName }, { logTo }] = await Promise.all([
      import("../../update/run-update.js"),
      import("../../update/write-credentials.js"),
      import("../../update/credentials-file.js"),
      import("../../daemon/signals.js"),
    ]);
    const configProfile = stringArg(args, "config-profile");
    // An empty --profile "$P" is not "default": it would overwrite [default], often long-term keys.
    const section = args.explicit.has("profile") ? (stringArg(args, "profile") ?? "") : (configProfile ?? "default");
    if (section === "DEFAULT") {
      const what = "--profile DEFAULT names the credentials file's defaults section: " +
        "botocore gives its keys to every other profile in the file";
      throw new UsageError("USAGE", what, { hint: "use another name; the AWS CLI's default profile is default, in lower case" });
    }
    if (!isProfileName(section)) {
      const hint = /\s[;#]|^(profile )?__proto__$/.test(section)
        ? "the AWS SDK for JavaScript cannot read that section: \" ;\" and \" #\" start a comment to it, and __proto__ it refuses"
        : "not empty, no [, ] or line breaks, and no spaces around it";
      const what = "cannot name a section of the credentials file";
      throw new UsageError("USAGE", `--profile ${JSON.stringify(section)} ${what}`, { hint });
    }
    // Without ARNs or a config profile nothing says which role: --profile was most likely meant for the config.
    if (args.explicit.has("profile") && !configProfile && !args.explicit.has("trust-anchor-arn")) {
      const hint = `take the settings from config profile ${section} with --config-profile ${section}, or give --trust-anchor-arn, --profile-arn and --role-arn`;
      throw new UsageError("USAGE", "update's --profile names the section it writes in the credentials file, not a config profile", { hint });
    }
    await runUpdate({
      settings: async () => (await settingsFromArgs(args, io, configProfile ? [configProfile] : []))[0]!,
      path: sharedCredentialsPath(io.env, undefined, stringArg(args, "credentials-file")),
      section,
      once: boolArg(args, "once"),
      log: logTo(io.stderr),
      certificateWarning: certificateWarningFromArgs(args, io),
      failFast: boolArg(args, "fail-fast"),
      // A person at a terminal reads the error and its clock hint at once; a boot script waits for NTP.
      clockWaitMs: io.stderr.isTTY === true ? 0 : undefined,
      // systemd (it sets INVOCATION_ID) restarts a failed run after a fixed delay: spread from other devices' first.
      // A terminal under a systemd user service (GNOME Terminal's) has it too: a person there sees the error at once.
      restartJitterMs: io.env["INVOCATION_ID"] && io.stderr.isTTY !== true ? undefined : 0,
    });
    return 0;
  },
};

export default command;
