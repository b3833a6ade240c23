import { AgentError, isAgentError } from "../../errors.js";
import { stringArg, boolArg, type CommandSpec, type ParsedArgs, type CliIo } from "../command.js";
import type { CreateSessionOptions, CreateSessionParams } from "../../rolesanywhere/types.js";
import type { SignerOptions } from "../../signers/options.js";
import { CERTIFICATE_WARNING_OPTION } from "../daemon-options.js";
import { EXIT_CODES } from "../exit-codes.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../shared-options.js";
import type { CheckRow } from "../../doctor/checks.js";

const MARK: Readonly<Record<CheckRow["outcome"], string>> = { pass: "✔", fail: "✘", skip: "–" };

const command: CommandSpec = {
  name: "doctor",
  describe: "Check a setup end to end (files, certificate, key, token or TPM, agent socket, endpoint, network, clock); exit 0 only when all pass",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "profile", type: "string", description: "Check this profile of the config file (flags win)" },
    { name: "config", type: "string", description: "Config file (default: $XDG_CONFIG_HOME/roles-anywhere-agent/config.json)" },
    { name: "trust-anchors", type: "string", description: "PEM bundle of the trust anchor's CA certificate(s): check the certificate chain against it" },
    { name: "agent-socket", type: "string", description: "Agent socket to check (default: $XDG_RUNTIME_DIR/roles-anywhere-agent.sock)" },
    { name: "create-session", type: "boolean", description: "Also exchange the certificate for credentials (never printed); off by default" },
    CERTIFICATE_WARNING_OPTION,
  ],
  conflicts: CREDENTIAL_CONFLICTS,
  async run(args, io) {
    const [{ runChecks }, { defaultAgentSocketPath }] = await Promise.all([import("../../doctor/checks.js"), import("../../agent/socket-path.js")]);
    const { configPath, signer, session, endpoint } = await settingsOf(args, io);
    const width = 28;
    const rows = await runChecks(
      {
        configPath,
        signer,
        session,
        endpoint,
        trustAnchors: stringArg(args, "trust-anchors"),
        agentSocket: stringArg(args, "agent-socket") ?? defaultAgentSocketPath(io.env),
        createSession: boolArg(args, "create-session"),
        warningDays: typeof args.values["certificate-warning-days"] === "number" ? args.values["certificate-warning-days"] : 14,
        env: io.env,
      },
      (row) => {
        io.stdout.write(`${MARK[row.outcome]} ${row.name.padEnd(width)} ${row.detail}\n`);
        if (row.hint && row.outcome !== "pass") io.stdout.write(`  ${" ".repeat(width)} → ${row.hint}\n`);
      },
    );
    const failed = rows.filter((r) => r.outcome === "fail");
    const passed = rows.filter((r) => r.outcome === "pass").length;
    io.stdout.write(`\n${passed} passed, ${failed.length} failed, ${rows.length - passed - failed.length} skipped\n`);
    const first = failed[0]?.error;
    return first ? EXIT_CODES[first.category === "internal" ? "input" : first.category] : 0;
  },
};
export default command;

/**
 * The validated settings (flags, or a config profile with the flags over it); when they cannot be built, the
 * error takes the settings' row and the key is still checked from the flags alone.
 */
async function settingsOf(args: ParsedArgs, io: CliIo): Promise<{ configPath?: string | AgentError | undefined; signer: SignerOptions | AgentError; session: CreateSessionParams | AgentError; endpoint: CreateSessionOptions }> {
  const [{ settingsFromArgs, signerOptionsFromArgs }, { defaultConfigPath, loadConfig }] = await Promise.all([import("../settings-args.js"), import("../../config/load-config.js")]);
  const profile = stringArg(args, "profile");
  let configPath: string | AgentError | undefined = profile ? (stringArg(args, "config") ?? defaultConfigPath(io.env)) : undefined;
  if (profile) {
    // The file on its own first (owner, mode, syntax), so that its own row says what is wrong with it.
    try {
      await loadConfig(stringArg(args, "config"), io.env);
    } catch (error) {
      if (!isAgentError(error)) throw error;
      configPath = error;
    }
  }
  try {
    const [settings] = await settingsFromArgs(args, io, profile ? [profile] : []);
    return { configPath, signer: settings!.signer, session: settings!.session, endpoint: settings!.endpoint };
  } catch (error) {
    if (!isAgentError(error)) throw error;
    let signer: SignerOptions | AgentError;
    try {
      signer = signerOptionsFromArgs(args, io);
    } catch (e) {
      if (!isAgentError(e)) throw e;
      signer = e;
    }
    return { configPath, signer, session: configPath instanceof AgentError ? new AgentError("CONFIG_INVALID", "not checked: the config file cannot be used", { hint: "fix the config file first" }) : error, endpoint: {} };
  }
}
