import { boolArg, defaultedInteger, defaultedString, integerArg, listArg, stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import {
  CERTIFICATE_WARNING_OPTION, CONFIG_OPTION, CREDENTIAL_CONFLICTS, FAIL_FAST_OPTION, SESSION_OPTIONS, SIGNER_OPTIONS,
} from "../shared-options.js";
import { UsageError } from "../../errors.js";
import type { SourceSpec } from "../../credentials/source-registry.js";
import { DEFAULT_AUDIENCE, type EcsIdentity } from "../../serve/ecs-identity.js";
import { certificateWarningFromArgs, settingsFromArgs } from "../settings-args.js";

const command: CommandSpec = {
  name: "serve",
  describe: "Serve credentials over HTTP: IMDSv2-compatible (default) and/or the ECS container endpoint",
  options: [
    ...SIGNER_OPTIONS,
    ...SESSION_OPTIONS,
    { name: "port", type: "number", default: 9911, description: "Port to listen on (0 = any free port)" },
    { name: "hop-limit", type: "number", default: 64, description: "Accepted for compatibility (1–255); see docs: Node.js cannot set the IP TTL, IMDS answers loopback clients only" },
    { name: "bind", type: "string", refuseEmpty: true, default: "127.0.0.1", description: "Address to listen on; anything but loopback requires --ecs without --imds" },
    { name: "imds", type: "boolean", description: "Serve the IMDSv2 endpoint (default when --ecs is not given). Open to every local user and process: IMDS has no consumer identity" },
    { name: "ecs", type: "boolean", description: "Serve the ECS container-credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI + token); alone, it serves token-holding consumers only" },
    { name: "allow-open-imds", type: "boolean", description: "Allow --imds with --ecs, although any local user can then read every role through IMDS (the ECS tokens no longer protect anything)" },
    { name: "ecs-consumer", type: "string", refuseEmpty: true, repeatable: true, description: "NAME=ROLE: one ECS consumer with its own token (default: one per role, named after it)" },
    { name: "ecs-env-dir", type: "string", refuseEmpty: true, description: "Write each consumer's NAME.env and NAME.token here (0600) instead of printing them (required when standard output is the journal)" },
    { name: "ecs-token-dir", type: "string", refuseEmpty: true, description: "Take each consumer's token from the file DIR/NAME (a mounted Secret), re-read when it changes, instead of random ones" },
    { name: "ecs-service-account", type: "string", refuseEmpty: true, repeatable: true, description: "NAMESPACE/SERVICEACCOUNT=ROLE: pods of this ServiceAccount get ROLE with their projected ServiceAccount token (needs --ecs-jwks, --ecs-issuer)" },
    { name: "ecs-jwks", type: "string", refuseEmpty: true, description: "The cluster's ServiceAccount public keys (kubectl get --raw /openid/v1/jwks), re-read when the file changes" },
    { name: "ecs-issuer", type: "string", refuseEmpty: true, description: "The ServiceAccount tokens' issuer (iss)" },
    { name: "ecs-audience", type: "string", refuseEmpty: true, description: "The audience pods request for their token (default: roles-anywhere-agent)" },
    { name: "ecs-node-name", type: "string", refuseEmpty: true, description: "Only accept tokens of pods on this node (Kubernetes 1.30+ tokens name it)" },
    { name: "advertise-host", type: "string", refuseEmpty: true, description: "Host to put in the consumers' URL (default: the --bind address; with a wildcard bind, $POD_IP)" },
    { name: "tls-certificate", type: "string", refuseEmpty: true, description: "Serve the ECS endpoint over HTTPS with this certificate (PEM), re-read when it changes" },
    { name: "tls-key", type: "string", refuseEmpty: true, description: "Private key of --tls-certificate (PEM)" },
    { name: "allow-plain-http", type: "boolean", description: "Allow the ECS endpoint without TLS on a non-loopback --bind (tokens and credentials cross the network in clear)" },
    CONFIG_OPTION,
    { name: "profile", type: "string", refuseEmpty: true, repeatable: true, description: "Serve this config-file profile (repeatable); the role is named after it" },
    CERTIFICATE_WARNING_OPTION,
    FAIL_FAST_OPTION,
  ],
  conflicts: [
    ...CREDENTIAL_CONFLICTS,
    ["ecs-token-dir", "ecs-env-dir"],
    ["ecs-service-account", "ecs-env-dir"],
    ["ecs-service-account", "ecs-token-dir"],
    ["ecs-service-account", "ecs-consumer"],
  ],
  async run(args, io) {
    const [{ runServe }, { logTo }] = await Promise.all([
      import("../../serve/run-serve.js"),
      import("../../daemon/signals.js"),
    ]);
    integerArg(args, "hop-limit", 1, 255);
    const ecs = boolArg(args, "ecs");
    const certificate = stringArg(args, "tls-certificate");
    const key = stringArg(args, "tls-key");
    if ((certificate === undefined) !== (key === undefined)) throw new UsageError("USAGE", "--tls-certificate and --tls-key go together");
    await runServe({
      specs: () => roleSpecs(args, io),
      imds: boolArg(args, "imds") || !ecs,
      ecs,
      allowOpenImds: boolArg(args, "allow-open-imds"),
      host: defaultedString(args, "bind"),
      advertise: stringArg(args, "advertise-host"),
      ...(certificate && key ? { tls: { certificate, key } } : {}),
      allowPlainHttp: boolArg(args, "allow-plain-http"),
      env: io.env,
      port: defaultedInteger(args, "port", 0, 65535),
      ecsConsumers: listArg(args, "ecs-consumer"),
      ecsIdentity: ecsIdentityOf(args, ecs),
      ecsEnvDir: stringArg(args, "ecs-env-dir"),
      hopLimitGiven: args.explicit.has("hop-limit"),
      log: logTo(io.stderr),
      print: (text) => io.stdout.write(text),
      start: { certificateWarning: certificateWarningFromArgs(args, io), requireFirstCredentials: boolArg(args, "fail-fast") },
    });
    return 0;
  },
};

/** Config profiles given with --profile (flags merged in, flags win), else the one role the flags describe. */
async function roleSpecs(args: ParsedArgs, io: CliIo): Promise<SourceSpec[]> {
  const profiles = listArg(args, "profile");
  const settings = await settingsFromArgs(args, io, profiles);
  // aws_signing_helper names the role after the last segment of the role ARN's resource.
  return settings.map((s, i) => ({ name: profiles[i] ?? s.session.roleArn.split("/").pop()!, settings: s }));
}

/** Flags that mean nothing without another one. */
const NEEDS: Record<string, "ecs" | "ecs-service-account"> = {
  "ecs-token-dir": "ecs",
  "ecs-service-account": "ecs",
  "ecs-jwks": "ecs-service-account",
  "ecs-issuer": "ecs-service-account",
  "ecs-audience": "ecs-service-account",
  "ecs-node-name": "ecs-service-account",
};

/** How the ECS endpoint identifies consumers (src/serve/ecs-identity.ts). */
function ecsIdentityOf(args: ParsedArgs, ecs: boolean): EcsIdentity {
  const accounts = listArg(args, "ecs-service-account");
  // Ignored, these would not restrict what the user meant them to (--ecs-node-name with --ecs-token-dir, say).
  const given = { ecs, "ecs-service-account": accounts.length > 0 };
  for (const [flag, needed] of Object.entries(NEEDS)) {
    if (args.explicit.has(flag) && !given[needed]) {
      throw new UsageError("USAGE", `--${flag} applies to --${needed} only, which is not given`);
    }
  }
  if (accounts.length > 0) {
    const jwksPath = stringArg(args, "ecs-jwks");
    const issuer = stringArg(args, "ecs-issuer");
    if (!jwksPath || !issuer) throw new UsageError("USAGE", "--ecs-service-account needs --ecs-jwks and --ecs-issuer (the cluster's ServiceAccount keys and token issuer)");
    const audience = stringArg(args, "ecs-audience") ?? DEFAULT_AUDIENCE;
    // The API server's audience (its issuer by default): pods' own API tokens would be taken, and sent here.
    if (audience === issuer || /^https:\/\/kubernetes\.default\.svc(\.|$)/.test(audience)) {
      const why = "the pods would send the agent tokens that work against it";
      throw new UsageError("USAGE", `--ecs-audience ${audience} is the API server's: ${why}`, {
        hint: `give the pods' projected token volume an audience of the agent's own (default: ${DEFAULT_AUDIENCE})`,
      });
    }
    const nodeName = stringArg(args, "ecs-node-name");
    return { kind: "service-accounts", accounts, jwksPath, issuer, audience, nodeName };
  }
  const dir = stringArg(args, "ecs-token-dir");
  return dir ? { kind: "token-files", dir } : { kind: "random" };
}

export default command;
