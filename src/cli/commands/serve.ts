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
    { name: "ecs-token-dir", type: "string", description: "Take each consumer's token from the file DIR/NAME (a mounted Secret), re-read when it changes, instead of random ones" },
    { name: "ecs-service-account", type: "string", repeatable: true, description: "NAMESPACE/SERVICEACCOUNT=ROLE: pods of this ServiceAccount get ROLE with their projected ServiceAccount token (needs --ecs-jwks, --ecs-issuer)" },
    { name: "ecs-jwks", type: "string", description: "The cluster's ServiceAccount public keys (kubectl get --raw /openid/v1/jwks), re-read when the file changes" },
    { name: "ecs-issuer", type: "string", description: "The ServiceAccount tokens' issuer (iss)" },
    { name: "ecs-audience", type: "string", description: "The audience pods request for their token (default: roles-anywhere-agent)" },
    { name: "ecs-node-name", type: "string", description: "Only accept tokens of pods on this node (Kubernetes 1.30+ tokens name it)" },
    { name: "advertise-host", type: "string", description: "Host to put in the consumers' URL (default: the --bind address; with a wildcard bind, $POD_IP)" },
    { name: "tls-certificate", type: "string", description: "Serve the ECS endpoint over HTTPS with this certificate (PEM), re-read when it changes" },
    { name: "tls-key", type: "string", description: "Private key of --tls-certificate (PEM)" },
    { name: "allow-plain-http", type: "boolean", description: "Allow the ECS endpoint without TLS on a non-loopback --bind (tokens and credentials cross the network in clear)" },
    { name: "config", type: "string", description: "Config file (default: ~/.config/roles-anywhere-agent/config.json)" },
    { name: "profile", type: "string", repeatable: true, description: "Serve this config-file profile (repeatable); the role is named after it" },
  ],
  conflicts: [
    ...CREDENTIAL_CONFLICTS,
    ["ecs-token-dir", "ecs-env-dir"],
    ["ecs-service-account", "ecs-env-dir"],
    ["ecs-service-account", "ecs-token-dir"],
    ["ecs-service-account", "ecs-consumer"],
  ],
  async run(args, io) {
    const [
      { createCredentialSource },
      { SourceRegistry },
      { describeRefreshEvent },
      { startCredentialServer, checkEndpointChoice, ECS_PATH },
      { writeEcsEnvFiles, ecsEnvFile },
      { logFailures, serveUntilStopped },
      { endpointFlags, ecsIdentityFlags },
      { openEcsConsumers },
      { advertisedHost },
    ] = await Promise.all([
      import("../../credentials/credential-source.js"),
      import("../../credentials/source-registry.js"),
      import("../../credentials/describe-event.js"),
      import("../../serve/credential-server.js"),
      import("../../serve/ecs-env.js"),
      import("../registry-daemon.js"),
      import("../serve-endpoint-args.js"),
      import("../../serve/ecs-identity.js"),
      import("../../serve/advertise-host.js"),
    ]);
    const log = (line: string) => io.stderr.write(`${line}\n`);
    const hopLimit = numberArg(args, "hop-limit") ?? 64;
    if (!Number.isInteger(hopLimit) || hopLimit < 1 || hopLimit > 255) throw new UsageError("USAGE", `--hop-limit ${hopLimit} is out of range: use 1 to 255`);
    const ecs = boolArg(args, "ecs");
    const imds = boolArg(args, "imds") || !ecs;
    // Before any signer is opened: a refused combination must not cost a PIN or a TPM authorisation.
    const endpoint = endpointFlags(args);
    const identity = ecsIdentityFlags(args);
    checkEndpointChoice({ imds, ecs, allowImdsWithEcs: boolArg(args, "allow-open-imds"), ...endpoint, tls: endpoint.tls !== undefined });
    const advertiseHost = advertisedHost({ bind: endpoint.host, advertise: endpoint.advertise, env: io.env });

    const specs = await roleSpecs(args, io);
    const registry = new SourceRegistry((spec) =>
      createCredentialSource({ ...spec, onEvent: (name, event) => log(describeRefreshEvent(name, event)) }),
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
    let server;
    let consumers;
    try {
      consumers = ecs ? await openEcsConsumers(identity, bindings, specs.map((s) => s.name), log) : undefined;
      server = await startCredentialServer({
        host: endpoint.host,
        advertiseHost,
        ...(endpoint.tls ? { tls: endpoint.tls } : {}),
        allowPlainHttp: endpoint.allowPlainHttp,
        log,
        roles: (role) => registry.get(role),
        ...(imds ? { imds: { defaultRole: () => registry.names()[0], allowWithEcs: boolArg(args, "allow-open-imds") } } : {}),
        ...(consumers ? { ecs: { consumers: consumers.lookup } } : {}),
        port: numberArg(args, "port") ?? 9911,
      });
    } catch (error) {
      consumers?.stop();
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
      const announced = consumers.announce(fullUri);
      if (announced) {
        for (const line of announced) log(line);
      } else if (envDir) {
        for (const path of await writeEcsEnvFiles(envDir, consumers.lookup.all(), fullUri)) log(`wrote ${path}`);
      } else {
        for (const c of consumers.lookup.all()) io.stdout.write(`# ECS consumer ${c.name} (role ${c.role})\n${ecsEnvFile(c, fullUri)}`);
      }
    }

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
