import type { CliIo, CommandSpec, ParsedArgs } from "../command.js";
import { boolArg, stringArg } from "../command.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../shared-options.js";
import { formatExpiration } from "../../credentials/credentials.js";
import type { CredentialSettings } from "../../config/credential-settings.js";

const command: CommandSpec = {
  name: "update",
  describe: "Keep a profile of the shared credentials file (~/.aws/credentials) filled with fresh credentials",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "profile", type: "string", default: "default", description: "Section of the credentials file to write (default: the --config-profile name, else default)" },
    { name: "once", type: "boolean", description: "Write once and exit (for boot scripts); non-zero exit when no credentials could be obtained" },
    { name: "config", type: "string", description: "Config file (default: ~/.config/roles-anywhere-agent/config.json)" },
    { name: "config-profile", type: "string", description: "Take the settings from this config-file profile (flags still win)" },
    { name: "credentials-file", type: "string", description: "File to write (default: $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials)" },
  ],
  conflicts: CREDENTIAL_CONFLICTS,
  async run(args, io) {
    const [{ createCredentialSource }, { describeRefreshEvent }, { sharedCredentialsPath, writeProfileCredentials }, { CredentialsFileUpdater }, { watchSignals }, { ReadinessGate, reportReady }] =
      await Promise.all([
        import("../../credentials/credential-source.js"),
        import("../../credentials/describe-event.js"),
        import("../../update/write-credentials.js"),
        import("../../update/file-updater.js"),
        import("../../agent/signals.js"),
        import("../../os/service-manager.js"),
      ]);
    const configProfile = stringArg(args, "config-profile");
    const path = stringArg(args, "credentials-file") ?? sharedCredentialsPath(io.env);
    const section = args.explicit.has("profile") ? (stringArg(args, "profile") ?? "default") : (configProfile ?? "default");
    const log = (line: string) => io.stderr.write(`${line}\n`);
    const settings = await settingsFor(args, io);

    if (boolArg(args, "once")) {
      const source = createCredentialSource({ name: section, settings });
      try {
        const credentials = await source.get();
        await writeProfileCredentials(path, section, credentials);
        log(`wrote profile [${section}] to ${path}; valid until ${formatExpiration(credentials.expiration)}`);
        return 0;
      } finally {
        await source.close();
      }
    }

    // systemd (Type=notify): ready once the file holds credentials, so that units After= this one find them.
    const ready = new ReadinessGate(["written"], () => reportReady(`profile [${section}] written to ${path}`, log));
    const updater = new CredentialsFileUpdater({ path, profile: section, log, onWritten: () => ready.arrived("written") });
    const newSource = (s: CredentialSettings) =>
      createCredentialSource({
        name: section,
        settings: s,
        onEvent: (name, event, credentials) => {
          log(describeRefreshEvent(name, event));
          if (credentials) updater.offer(credentials);
        },
      });
    let source = newSource(settings);
    // Problems the user must fix (bad key file, wrong PIN) end the command at once; a missing token or an
    // unreachable endpoint does not: the loop retries with backoff until it works.
    await source.open().catch((error: unknown) => {
      const category = (error as { category?: string }).category;
      if (category !== "device" && category !== "network") throw error;
      log(`${section}: ${(error as Error).message}; will keep trying`);
    });
    source.start();
    log(`updating profile [${section}] in ${path}`);

    let reloading = Promise.resolve();
    const signals = watchSignals(() => {
      reloading = reloading.then(async () => {
        try {
          const next = await settingsFor(args, io);
          const old = source;
          source = newSource(next);
          await old.close();
          source.start();
          log("configuration reloaded");
        } catch (error) {
          log(`reload failed, keeping the previous configuration: ${(error as { toOneLine?: () => string }).toOneLine?.() ?? String(error)}`);
        }
      });
    });
    try {
      const signal = await signals.stopped;
      log(`${signal}: stopping`);
    } finally {
      signals.dispose();
      await reloading;
      await updater.stop();
      await source.close();
    }
    return 0;
  },
};

async function settingsFor(args: ParsedArgs, io: CliIo): Promise<CredentialSettings> {
  const [{ applyConfigProfile }, { credentialSettingsFromArgs }] = await Promise.all([
    import("../../config/resolve-profile.js"),
    import("../../config/credential-settings.js"),
  ]);
  const configProfile = stringArg(args, "config-profile");
  if (!configProfile) return credentialSettingsFromArgs(args, io);
  const merged = await applyConfigProfile(args, configProfile, { configPath: stringArg(args, "config"), env: io.env });
  return credentialSettingsFromArgs(merged, io, `profile "${configProfile}"`);
}

export default command;
