import { fstatSync } from "node:fs";
import type { SourceSpec } from "../credentials/source-registry.js";
import { serveUntilStopped, startDaemon, type DaemonStartOptions } from "../daemon/run-daemon.js";
import { checkPortPrivilege } from "../io/listen-tcp.js";
import type { Log } from "../daemon/signals.js";
import { UsageError } from "../errors.js";
import { checkReadinessReporting, readinessGate, reportReady } from "../os/service-manager.js";
import { advertisedHost } from "./advertise-host.js";
import { checkEndpointChoice, ECS_PATH, startCredentialServer } from "./credential-server.js";
import { ecsEnvFile, lockEcsEnvDir, writeEcsEnvFiles } from "./ecs-env.js";
import { openEcsConsumers, type EcsIdentity } from "./ecs-identity.js";
import type { TlsFilePaths } from "./tls-files.js";

interface ServeRun {
  /** The roles to serve; called again on SIGHUP. */
  readonly specs: () => Promise<readonly SourceSpec[]>;
  readonly imds: boolean;
  readonly ecs: boolean;
  readonly allowOpenImds: boolean;
  readonly host: string;
  readonly port: number;
  /** `--advertise-host` (advertise-host.ts; default: the bind address, or $POD_IP from `env`). */
  readonly advertise?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly tls?: TlsFilePaths | undefined;
  readonly allowPlainHttp: boolean;
  readonly ecsIdentity: EcsIdentity;
  /** `--ecs-consumer NAME=ROLE` (default: one consumer per role, named after it). */
  readonly ecsConsumers: readonly string[];
  /** Write each consumer's NAME.env and NAME.token here instead of printing them. */
  readonly ecsEnvDir?: string | undefined;
  /** `--hop-limit` was given: say that it has no effect. */
  readonly hopLimitGiven: boolean;
  readonly log: Log;
  /** Standard output, for the consumers' environment. */
  readonly print: (text: string) => void;
  /** `--certificate-warning-days` and `--fail-fast`. */
  readonly start?: DaemonStartOptions;
}

/** Serves credentials over HTTP until SIGTERM or SIGINT; SIGHUP re-reads the settings (signals from the first step). */
export async function runServe(run: ServeRun): Promise<void> {
  const release = run.ecs && run.ecsEnvDir ? await lockEcsEnvDir(run.ecsEnvDir) : undefined;
  try {
    await serveUntilStopped(run.log, () => startServe(run), run.specs);
  } finally {
    await release?.();
  }
}

async function startServe(run: ServeRun) {
  const { log } = run;
  // Before any signer is opened: a refused combination must not cost a PIN or a TPM authorisation.
  checkEndpointChoice({ ...run, allowImdsWithEcs: run.allowOpenImds });
  checkReadinessReporting();
  if (run.ecs && run.ecsIdentity.kind === "random" && !run.ecsEnvDir && stdoutIsJournal(run.env)) {
    const what = "serve --ecs would print the consumers' tokens on standard output, which is the journal here";
    throw new UsageError("USAGE", `${what}: members of groups adm and systemd-journal can read it`, {
      hint: "add --ecs-env-dir DIR: each consumer's NAME.env and NAME.token are written there (0600) instead",
    });
  }
  checkPortPrivilege(run.port);
  const advertiseHost = advertisedHost({ bind: run.host, advertise: run.advertise, env: run.env });
  const specs = await run.specs();
  const roles = specs.map((s) => s.name);
  const consumers = run.ecs ? await openEcsConsumers(run.ecsIdentity, consumerBindings(run.ecsConsumers, roles), roles, log) : undefined;
  // systemd (Type=notify): ready once the endpoint listens and every role holds credentials.
  const LISTENING = "\0listening";
  const ready = readinessGate([LISTENING, ...roles], () => reportReady(`serving ${specs.length} role(s)`, log));
  const { registry, server } = await startDaemon(specs, log, true, { ...run.start, onRefreshed: ready }, async (registry) => {
    try {
      return await startCredentialServer({
        roles: (role) => registry.get(role),
        ...(run.imds ? { imds: { defaultRole: () => registry.names()[0], allowWithEcs: run.allowOpenImds } } : {}),
        ...(consumers ? { ecs: { consumers } } : {}),
        host: run.host,
        port: run.port,
        advertiseHost,
        tls: run.tls,
        allowPlainHttp: run.allowPlainHttp,
        log,
      });
    } catch (error) {
      consumers?.stop?.();
      throw error;
    }
  });
  if (run.imds) {
    log(`Local server started on port: ${server.port}`);
    log("Make it available to the sdk by running:");
    log(`export AWS_EC2_METADATA_SERVICE_ENDPOINT=${server.url}/`);
    log("note: the IMDS endpoint answers every local user and process (IMDS has no consumer identity); serve --ecs alone for per-consumer tokens");
    if (run.hopLimitGiven) log("note: --hop-limit has no effect (Node.js cannot set the IP TTL); the IMDS endpoint answers loopback clients only");
  }
  if (consumers) {
    const fullUri = `${server.url}${ECS_PATH}`;
    if (consumers.tokenFrom) {
      const uri = `AWS_CONTAINER_CREDENTIALS_FULL_URI=${fullUri}`;
      for (const c of consumers.all()) log(`ECS consumer ${c.name} (role ${c.role}): ${uri}, token${consumers.tokenFrom(c)}`);
    } else if (run.ecsEnvDir) {
      for (const path of await writeEcsEnvFiles(run.ecsEnvDir, consumers.all(), fullUri)) log(`wrote ${path}`);
    } else {
      for (const c of consumers.all()) run.print(`# ECS consumer ${c.name} (role ${c.role})\n${ecsEnvFile(c, fullUri)}`);
    }
  }
  ready(LISTENING);
  return { registry, server };
}

/** Standard output is the journal: $JOURNAL_STREAM ("device:inode", systemd.exec(5)) names file descriptor 1. */
function stdoutIsJournal(env: NodeJS.ProcessEnv): boolean {
  const journal = /^(\d+):(\d+)$/.exec(env["JOURNAL_STREAM"] ?? "");
  if (!journal) return false;
  try {
    const { dev, ino } = fstatSync(1, { bigint: true });
    return dev === BigInt(journal[1]!) && ino === BigInt(journal[2]!);
  } catch {
    return false; // no standard output at all: nothing is printed anywhere
  }
}

function consumerBindings(flags: readonly string[], roles: readonly string[]): { name: string; role: string }[] {
  if (flags.length === 0) return roles.map((role) => ({ name: role, role }));
  const seen = new Set<string>();
  return flags.map((text) => {
    const eq = text.indexOf("="); // a role name holds no '=': "a=R=x" names role "R=x", which is not served
    const [name, role] = eq === -1 ? [text, text] : [text.slice(0, eq), text.slice(eq + 1)];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new UsageError("USAGE", `--ecs-consumer ${text}: the name may use letters, digits, '.', '_' and '-'`);
    if (!roles.includes(role)) throw new UsageError("USAGE", `--ecs-consumer ${text}: no role named '${role}' is served`, { hint: `served roles: ${roles.join(", ")}` });
    if (seen.has(name)) throw new UsageError("USAGE", `--ecs-consumer ${name} is given twice`);
    seen.add(name);
    return { name, role };
  });
}
