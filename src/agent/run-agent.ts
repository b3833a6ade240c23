import { loadConfig } from "../config/load-config.js";
import type { AgentConfig } from "../config/parse-config.js";
import { eachProfileSettings, profileCredentialSettings } from "../config/resolve-profile.js";
import type { CertificateWarning } from "../credentials/credential-source.js";
import type { SourceSpec } from "../credentials/source-registry.js";
import { serveUntilStopped, startDaemon } from "../daemon/run-daemon.js";
import type { Log } from "../daemon/signals.js";
import { InputError } from "../errors.js";
import { startAgentServer } from "./agent-server.js";
import { defaultAgentSocketPath } from "./socket-path.js";
import { prepareSocketPath, systemdListenFd } from "./socket-safety.js";

interface AgentRun {
  readonly configPath?: string | undefined;
  readonly profiles: readonly string[];
  readonly socket?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly log: Log;
  readonly certificateWarning?: CertificateWarning | undefined;
}

/** Runs the agent until SIGTERM or SIGINT; SIGHUP re-reads the config file (signals: from the first step). */
export async function runAgent(run: AgentRun): Promise<void> {
  const nextSpecs = async () => agentSpecs(await loadConfig(run.configPath, run.env), run);
  await serveUntilStopped(run.log, () => startAgent(run), nextSpecs);
}

async function startAgent(run: AgentRun) {
  const config = await loadConfig(run.configPath, run.env);
  const fd = systemdListenFd(run.env);
  // Under socket activation no default is needed (a service may run without HOME).
  const socketPath = run.socket ?? config.agent.socket ?? (fd === undefined ? defaultAgentSocketPath(run.env) : "");
  // The socket path is checked before any token or TPM is touched: an unsafe directory must not cost a PIN.
  if (fd === undefined) await prepareSocketPath(socketPath);
  const listen = fd === undefined ? { path: socketPath } : { fd };
  const start = { certificateWarning: run.certificateWarning };
  const { registry, server } = await startDaemon(agentSpecs(config, run), run.log, false, start, (r) => startAgentServer(r, listen, config.path));
  run.log(`agent listening on ${server.address} for profiles: ${registry.names().join(", ")}`);
  // Closing the server removes its socket (unless another agent's has taken the path: agent-server.ts).
  return { registry, server };
}

function agentSpecs(config: AgentConfig, run: AgentRun): SourceSpec[] {
  const names = run.profiles.length > 0 ? run.profiles : (config.agent.profiles ?? [...config.profiles.keys()]);
  if (names.length === 0) {
    throw new InputError("CONFIG_INVALID", `config ${config.path} defines no profiles for the agent to serve`, { hint: 'add one under "profiles"' });
  }
  return eachProfileSettings(names, (name) => profileCredentialSettings(config, name, { env: run.env })).map((settings, i) => ({ name: names[i]!, settings }));
}
