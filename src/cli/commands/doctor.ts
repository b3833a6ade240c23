import { AgentError, boundedLine, isAgentError, MAX_ERROR_TEXT } from "../../errors.js";
import { stringArg, boolArg, type CommandSpec, type ParsedArgs, type CliIo } from "../command.js";
import { EXIT_CODES } from "../exit-codes.js";
import {
  CERTIFICATE_WARNING_OPTION, CONFIG_OPTION, CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS,
} from "../shared-options.js";
import type { CheckRow, DoctorInput } from "../../doctor/checks.js";
import type { AgentConfig } from "../../config/parse-config.js";

const MARK: Readonly<Record<CheckRow["outcome"], string>> = { pass: "✔", fail: "✘", skip: "–" };

const command: CommandSpec = {
  name: "doctor",
  describe: "Check a setup end to end (files, certificate, key, token or TPM, agent socket, endpoint, network, clock); exit 0 only when all pass",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "profile", type: "string", refuseEmpty: true, description: "Check this profile of the config file (flags win)" },
    CONFIG_OPTION,
    { name: "trust-anchors", type: "string", refuseEmpty: true, description: "PEM bundle of the trust anchor's CA certificate(s): check the certificate chain against it" },
    { name: "agent-socket", type: "string", refuseEmpty: true, description: "Agent socket to check (default: the config's agent.socket when its agent serves --profile, else $XDG_RUNTIME_DIR/roles-anywhere-agent.sock)" },
    { name: "create-session", type: "boolean", description: "Also exchange the certificate for credentials (never printed); off by default" },
    CERTIFICATE_WARNING_OPTION,
  ],
  conflicts: CREDENTIAL_CONFLICTS,
  async run(args, io) {
    const warningDays = (await import("../settings-args.js")).certificateWarningDays(args);
    const [{ runChecks }, { checkSocketPathName, defaultAgentSocketPath }] = await Promise.all([import("../../doctor/checks.js"), import("../../agent/socket-path.js")]);
    const socket = stringArg(args, "agent-socket");
    // A relative socket is refused as credential-process and agent refuse it ("no agent socket at rel.sock" said less).
    if (socket !== undefined) checkSocketPathName(socket);
    const width = 28;
    let configSocket: string | undefined;
    const settings = await settingsOf(args, io, (s) => (configSocket = s));
    const rows = await runChecks(
      {
        ...settings,
        trustAnchors: stringArg(args, "trust-anchors"),
        // No default socket path (HOME unusable) is the agent socket's row, not the end of the checks.
        agentSocket: socket ?? configSocket ?? (await orError(() => defaultAgentSocketPath(io.env))),
        createSession: boolArg(args, "create-session"),
        warningDays,
        env: io.env,
      },
      // Paths, subjects and error texts come from argv, files, tokens and the network: one bounded printable line each.
      (row) => {
        io.stdout.write(`${MARK[row.outcome]} ${row.name.padEnd(width)} ${boundedLine(row.detail, MAX_ERROR_TEXT)}\n`);
        if (row.hint) io.stdout.write(`  ${" ".repeat(width)} → ${boundedLine(row.hint, MAX_ERROR_TEXT)}\n`);
      },
    ).finally(async () => {
      if (!(settings.signer instanceof AgentError)) (await import("../settings-args.js")).wipeHeld(settings.signer);
    });
    const failed = rows.filter((r) => r.outcome === "fail");
    const passed = rows.filter((r) => r.outcome === "pass").length;
    io.stdout.write(`\n${passed} passed, ${failed.length} failed, ${rows.length - passed - failed.length} skipped\n`);
    const first = failed[0]?.error;
    return first ? EXIT_CODES[first.category === "internal" ? "input" : first.category] : 0;
  },
};
export default command;

/** What `work` returns, or the AgentError it throws (any other error is thrown on). */
async function orError<T>(work: () => T | Promise<T>): Promise<T | AgentError> {
  try {
    return await work();
  } catch (error) {
    if (!isAgentError(error)) throw error;
    return error;
  }
}

type SettingsPart = "configPath" | "configPinFile" | "signer" | "session" | "endpoint" | "endpointFrom";

/**
 * The validated settings (flags, or a config profile with the flags over it); when they cannot be built, the
 * error takes the settings' row and the key is still checked from the flags alone.
 */
async function settingsOf(args: ParsedArgs, io: CliIo, onAgentSocket: (socket: string | undefined) => void): Promise<Pick<DoctorInput, SettingsPart>> {
  const [{ settingsFromArgs, signerOptionsFromArgs }, { defaultConfigPath, holdsPinValue, loadConfig }, { configAgentSocket }] = await Promise.all([
    import("../settings-args.js"), import("../../config/load-config.js"), import("../../agent/socket-path.js")]);
  const profile = stringArg(args, "profile");
  const path = stringArg(args, "config");
  // The file on its own first (owner, mode, syntax), so that its own row says what is wrong with it.
  const loaded = profile ? await orError(() => loadConfig(path, io.env)) : undefined;
  const configPath = loaded instanceof AgentError ? loaded : profile && (path ?? defaultConfigPath(io.env));
  const configPinFile = loaded && !(loaded instanceof AgentError) && holdsPinValue(loaded) ? loaded.file : undefined;
  // The config's agent.socket where its agent serves this profile: the socket credential-process asks. The settings
  // come from the same read as the row (a second read could be another file, renamed over it between).
  const fromConfig = (c: AgentConfig) => onAgentSocket(configAgentSocket(c, profile!));
  const settings = loaded instanceof AgentError ? loaded
    : await orError(async () => (await settingsFromArgs(args, io, profile ? [profile] : [], fromConfig, loaded))[0]!);
  // The endpoint option named as the settings name it: the flag, or the profile's field when no flag is over it.
  const { FLAG_ORIGIN, profileOrigin } = await import("../../settings/credential-settings.js");
  const endpointFrom = loaded && !(loaded instanceof AgentError) && !args.explicit.has("endpoint")
    ? `config ${loaded.path}: profile "${profile}": ${profileOrigin("").name("endpoint")}`
    : FLAG_ORIGIN.name("endpoint");
  if (!(settings instanceof AgentError)) return { configPath, configPinFile, endpointFrom, ...settings };
  const notChecked = new AgentError("CONFIG_INVALID", "not checked: the config file cannot be used", { hint: "fix the config file first" });
  const session = configPath instanceof AgentError ? notChecked : settings;
  return { configPath, configPinFile, signer: await orError(() => signerOptionsFromArgs(args, io)), session, endpoint: {} };
}
