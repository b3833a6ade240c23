import { defaultedInteger, defaultedString, integerArg, stringArg, type CommandSpec } from "../command.js";
import { UsageError } from "../../errors.js";
import { MAX_RATE_LIMIT } from "../../local-endpoint/rate-limit.js";

const command: CommandSpec = {
  name: "local-endpoint",
  describe: "Run a local CreateSession (and STS GetCallerIdentity) endpoint that verifies requests like IAM Roles Anywhere: for tests, demos and CI",
  options: [
    { name: "trust-anchors", type: "string", description: "PEM bundle of the CA certificates that client certificates must chain to (required)" },
    { name: "port", type: "number", default: 0, description: "Port to listen on (0 = any free port; the URL is printed on stdout)" },
    { name: "host", type: "string", refuseEmpty: true, default: "127.0.0.1", description: "Address to listen on" },
    { name: "region", type: "string", refuseEmpty: true, default: "us-east-1", description: "Region requests and trust anchor ARNs must name" },
    { name: "tls-cert", type: "string", refuseEmpty: true, description: "Serve HTTPS with this PEM certificate (chain); needs --tls-key" },
    { name: "tls-key", type: "string", refuseEmpty: true, description: "PEM private key for --tls-cert" },
    { name: "config", type: "string", refuseEmpty: true, description: 'JSON file of allowed profiles and roles: {"profiles": {"<profile ARN or ID>": {"roles": [...]}}}' },
    { name: "rate-limit", type: "number", description: "Answer CreateSession requests above N per second, across all callers, with HTTP 429 ThrottlingException and a Retry-After (rehearse a fleet against the service's quota)" },
    { name: "fail-next", type: "number", default: 0, description: "Testing: answer the first N CreateSession requests with --fail-status" },
    { name: "fail-status", type: "number", default: 503, description: "Testing: the status for --fail-next (429 or 500–599 exercise client retries)" },
  ],
  async run(args, io) {
    const trustAnchors = stringArg(args, "trust-anchors");
    if (!trustAnchors) throw new UsageError("USAGE", "--trust-anchors is required", { hint: "pass the PEM file of the CA that issued your device certificates" });
    const tlsCert = stringArg(args, "tls-cert");
    const tlsKey = stringArg(args, "tls-key");
    if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError("USAGE", "--tls-cert and --tls-key go together");
    const port = defaultedInteger(args, "port", 0, 65535);
    const failNext = defaultedInteger(args, "fail-next", 0, Number.MAX_SAFE_INTEGER);
    const failStatus = defaultedInteger(args, "fail-status", 400, 599, "must be an HTTP error status (400–599)");
    const rateLimit = integerArg(args, "rate-limit", 1, MAX_RATE_LIMIT);

    const [{ startLocalEndpoint }, { readTlsFiles }, { logTo, runDaemon }, { isLoopbackAddress }] = await Promise.all([
      import("../../local-endpoint/server.js"),
      import("../../serve/tls-files.js"),
      import("../../daemon/signals.js"),
      import("../../serve/loopback.js"),
    ]);
    // serve's rule for the key file: a key others can read or change is warned about (RAA_EXPOSED_FILE)
    const names = tlsCert && tlsKey ? { cert: tlsCert, key: tlsKey } : undefined; // errors name the files given
    const files = names && (await readTlsFiles({ certificate: names.cert, key: names.key }));
    const tls = names && files && { cert: files.cert.bytes, key: files.key.bytes, names };
    const log = logTo(io.stderr); // a request's target may be 128 KiB long
    const endpoint = await startLocalEndpoint({
      trustAnchors,
      port,
      host: defaultedString(args, "host"),
      region: defaultedString(args, "region"),
      tls,
      config: stringArg(args, "config"),
      rateLimit,
      onRequest: (e) => log(`${e.time.toISOString()} ${e.method} ${e.path} ${e.status}${e.errorType ? ` ${e.errorType}` : ""}: ${e.reason}`),
    }).finally(() => [tls?.key, tls?.cert].forEach((bytes) => bytes?.fill(0))); // the files' bytes (a certificate file may hold the key too): the endpoint keeps no copy of them
    if (failNext > 0) endpoint.failNext(failNext, failStatus);
    io.stdout.write(`${endpoint.url}\n`);
    log(`local endpoint listening on ${endpoint.url} (region ${endpoint.region}): CreateSession at POST /sessions, STS at POST /${rateLimit !== undefined ? `; at most ${rateLimit} CreateSession requests per second` : ""}`);
    if (!isLoopbackAddress(endpoint.host)) log(`warning: listening on ${endpoint.host}, which is reachable from other hosts: the endpoint issues test credentials to anyone with a trusted certificate`);

    try {
      await runDaemon(log, {});
    } finally {
      await endpoint.close();
    }
    return 0;
  },
};

export default command;
