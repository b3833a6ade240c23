import { AgentError, isAgentError } from "../../errors.js";
import { stringArg, boolArg, type CommandSpec, type ParsedArgs, type CliIo } from "../command.js";
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
  async run(rawArgs, io) {
    const [{ runChecks }, { defaultAgentSocketPath }] = await Promise.all([import("../../doctor/checks.js"), import("../../agent/socket-path.js")]);
    const { args, configPath, configError } = await settingsArgs(rawArgs, io);
    const [signer, session, endpoint] = await buildSettings(args, io);
    const width = 28;
    const rows = await runChecks(
      {
        configPath,
        signer: configError ?? signer,
        session: configError ?? session,
        endpoint: endpoint instanceof AgentError ? {} : endpoint,
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

async function settingsArgs(args: ParsedArgs, io: CliIo): Promise<{ args: ParsedArgs; configPath?: string | undefined; configError?: AgentError | undefined }> {
  const profile = stringArg(args, "profile");
  if (!profile) return { args };
  try {
    const [{ withProfile }, { defaultConfigPath }] = await Promise.all([import("../agent-credentials.js"), import("../../config/load-config.js")]);
    return { args: await withProfile(args, profile, io), configPath: stringArg(args, "config") ?? defaultConfigPath(io.env) };
  } catch (error) {
    return { args, configError: isAgentError(error) ? error : new AgentError("CONFIG_INVALID", String(error)) };
  }
}

async function buildSettings(args: ParsedArgs, io: CliIo) {
  const [{ sessionParamsFromArgs, clientOptionsFromArgs }, { signerOptionsFromArgs }] = await Promise.all([import("../session-args.js"), import("../signer-args.js")]);
  const attempt = <T>(f: () => T): T | AgentError => {
    try {
      return f();
    } catch (error) {
      if (isAgentError(error)) return error;
      throw error;
    }
  };
  return [attempt(() => signerOptionsFromArgs(args, io)), attempt(() => sessionParamsFromArgs(args)), attempt(() => clientOptionsFromArgs(args, io))] as const;
}
