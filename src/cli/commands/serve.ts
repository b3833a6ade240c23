import type { CliIo, CommandSpec, ParsedArgs } from "../command.js";
import { boolArg, listArg, numberArg, stringArg } from "../command.js";
import { CREDENTIAL_CONFLICTS, SESSION_OPTIONS, SIGNER_OPTIONS } from "../shared-options.js";
import { UsageError } from "../../errors.js";
import type { SourceSpec } from "../../credentials/source-registry.js";

const command: CommandSpec = {
  name: "serve",
  describe: "Serve credentials over HTTP: IMDSv2-compatible (default) and/or the ECS container endpoint",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "port", type: "number", default: 9911, description: "Port to listen on (0 = any free port)" },
    { name: "hop-limit", type: "number", default: 64, description: "Accepted for compatibility (1–255); see docs: Node.js cannot set the IP TTL, IMDS answers loopback clients only" },
    { name: "bind", type: "string", default: "127.0.0.1", description: "Address to listen on; anything but loopback requires --ecs without --imds" },
    { name: "imds", type: "boolean", description: "Serve the IMDSv2 endpoint (default when --ecs is not given). Open to every local user and process: IMDS has no consumer identity" },
    { name: "ecs", type: "boolean", description: "Serve the ECS container-credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI + token); alone, it serves token-holding consumers only" },
    { name: "allow-open-imds", type: "boolean", description: "Allow --imds with --ecs, although any local user can then read every role through IMDS (the ECS tokens no longer protect anything)" },
    { name: "ecs-consumer", type: "string", repeatable: true, description: "NAME=ROLE: one ECS consumer with its own token (default: one per role, named after it)" },
    { name: "ecs-env-dir", type: "string", description: "Write each consumer's NAME.env and NAME.token here (0600) instead of printing them" },
    { name: "config", type: "string", description: "Config file (default: ~/.config/roles-anywhere-agent/config.json)" },
    { name: "profile", type: "string", repeatable: true, description: "Serve this config-file profile (repeatable); the role is named after it" },
  ],
  conflicts: CREDENTIAL_CONFLICTS,
  async run(args, io) {
    const [
      { createCredentialSource },
      { SourceRegistry },
      { describeRefreshEvent },
      { startCredentialServer, checkEndpointChoice, ECS_PATH },
      { EcsConsumers },
      { writeEcsEnvFiles, ecsEnvFile },
      { logFailures, serveUntilStopped },
      { ReadinessGate, reportReady },
    ] = await Promise.all([
      import("../../credentials/credential-source.js"),
      import("../../credentials/source-registry.js"),
      import("../../credentials/describe-event.js"),
      import("../../serve/credential-server.js"),
      import("../../serve/ecs-consumers.js"),
      import("../../serve/ecs-env.js"),
      import("../registry-daemon.js"),
      import("../../os/service-manager.js"),
    ]);
    const log = (line: string) => io.stderr.write(`${line}\n`);
    const hopLimit = numberArg(args, "hop-limit") ?? 64;
    if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 255) throw new UsageError("USAGE", `--hop-limit ${hopLimit} is out of range: use 1 to 255`);
    const ecs = boolArg(args, "ecs");
    const imds = boolArg(args, "imds") || !ecs;
    // Before any signer is opened: a refused combination must not cost a PIN or a TPM authorisation.
    checkEndpointChoice({ imds, ecs, allowImdsWithEcs: boolArg(args, "allow-open-imds"), host: stringArg(args, "bind") ?? "127.0.0.1" });

    const specs = await roleSpecs(args, io);
    // systemd (Type=notify): ready once the endpoint listens and every role holds credentials.
    const LISTENING = "\0listening";
    const ready = new ReadinessGate([LISTENING, ...specs.map((s) => s.name)], () => reportReady(`serving ${specs.length} role(s)`, log));
    const registry = new SourceRegistry((spec) =>
      createCredentialSource({
        ...spec,
        onEvent: (name, event) => {
          log(describeRefreshEvent(name, event));
          if (event.type === "refreshed") ready.arrived(name);
        },
      }),
    );
    const initial = await registry.apply(specs);
    // Like aws_signing_helper, a key or certificate that cannot be used ends `serve` at start-up; a missing
    // token or an unreachable endpoint does not (the sources keep retrying).
    const fatal = initial.failed.find((f) => !["device", "network"].includes((f.error as { category?: string }).category ?? ""));
    if (fatal) {
      await registry.closeAll();
      throw fatal.error;
    }
    logFailures(initial, log);

    const bindings = consumerBindings(listArg(args, "ecs-consumer"), specs.map((s) => s.name));
    const consumers = ecs ? EcsConsumers.withRandomTokens(bindings) : undefined;
    let server;
    try {
      server = await startCredentialServer({
        roles: (role) => registry.get(role),
        ...(imds ? { imds: { defaultRole: () => registry.names()[0], allowWithEcs: boolArg(args, "allow-open-imds") } } : {}),
        ...(consumers ? { ecs: { consumers } } : {}),
        host: stringArg(args, "bind") ?? "127.0.0.1",
        port: numberArg(args, "port") ?? 9911,
      });
    } catch (error) {
      await registry.closeAll();
      throw error;
    }

    if (imds) {
      log(`Local server started on port: ${server.port}`);
      log("Make it available to the sdk by running:");
      log(`export AWS_EC2_METADATA_SERVICE_ENDPOINT=${server.url}/`);
      log("note: the IMDS endpoint answers every local user and process (IMDS has no consumer identity); serve --ecs alone for per-consumer tokens");
      if (args.explicit.has("hop-limit")) {
        log("note: --hop-limit has no effect (Node.js cannot set the IP TTL); the IMDS endpoint answers loopback clients only");
      }
    }
    if (consumers) {
      const fullUri = `${server.url}${ECS_PATH}`;
      const envDir = stringArg(args, "ecs-env-dir");
      if (envDir) {
        for (const path of await writeEcsEnvFiles(envDir, consumers.all(), fullUri)) log(`wrote ${path}`);
      } else {
        for (const c of consumers.all()) io.stdout.write(`# ECS consumer ${c.name} (role ${c.role})\n${ecsEnvFile(c, fullUri)}`);
      }
    }

    ready.arrived(LISTENING);
    await serveUntilStopped(registry, server, () => roleSpecs(args, io), log);
    return 0;
  },
};

/** Config profiles given with --profile (flags merged in, flags win), else the one role the flags describe. */
async function roleSpecs(args: ParsedArgs, io: CliIo): Promise<SourceSpec[]> {
  const [{ loadConfig }, { findProfile, mergeProfileIntoArgs }, { credentialSettingsFromArgs }] = await Promise.all([
    import("../../config/load-config.js"),
    import("../../config/resolve-profile.js"),
    import("../../config/credential-settings.js"),
  ]);
  const profiles = listArg(args, "profile");
  if (profiles.length === 0) {
    const settings = credentialSettingsFromArgs(args, io);
    // aws_signing_helper names the role after the last segment of the role ARN's resource.
    const name = settings.session.roleArn.split("/").pop()!;
    return [{ name, settings }];
  }
  const config = await loadConfig(stringArg(args, "config"), io.env);
  return profiles.map((name) => ({
    name,
    settings: credentialSettingsFromArgs(mergeProfileIntoArgs(findProfile(config, name), args), io, `profile "${name}" in ${config.path}`),
  }));
}

function consumerBindings(flags: readonly string[], roles: readonly string[]): { name: string; role: string }[] {
  if (flags.length === 0) return roles.map((role) => ({ name: role, role }));
  const seen = new Set<string>();
  return flags.map((text) => {
    const [name, role = name] = text.split("=", 2) as [string, string | undefined];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new UsageError("USAGE", `--ecs-consumer ${text}: the name may use letters, digits, '.', '_' and '-'`);
    if (!roles.includes(role)) throw new UsageError("USAGE", `--ecs-consumer ${text}: no role named ${role} is served`, { hint: `served roles: ${roles.join(", ")}` });
    if (seen.has(name)) throw new UsageError("USAGE", `--ecs-consumer ${name} is given twice`);
    seen.add(name);
    return { name, role };
  });
}

export default command;
