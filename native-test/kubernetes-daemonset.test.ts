/**
 * The node agent of deploy/kubernetes/node-daemonset.yaml, run with its exact command line: signing with a TPM
 * (swtpm standing in for the node's /dev/tpmrm0), serving the ECS endpoint over TLS under the Service's name,
 * each pod identified by its projected ServiceAccount token. What differs from the node, and nothing else: each
 * volume is a directory here (laid out the way the kubelet lays out Secret and projected volumes), the `tpm`
 * volume (/dev/tpmrm0) is the swtpm socket, `$(POD_IP)` and `$(NODE_NAME)` are expanded as the kubelet does from
 * the container's env — the pod IP to 127.0.0.1, this test's own address (binding a pod's address needs a network
 * namespace; the rules that differ off loopback are tested in faults-agent-socket.test.ts) — `--port=9912`
 * becomes `--port=0`, and `--endpoint` points at the local endpoint. The API server's part is played by a key
 * pair here: its public half is the JWKS ConfigMap, its private half signs the pods' tokens the way the API
 * server does for projected volumes. Consumers connect by the Service name (resolved to 127.0.0.1), checking the
 * certificate against it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { chmodSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type { LookupFunction } from "node:net";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../test/helpers/pki.js";
import { agentContainer, flagValue, readManifests } from "../test/deploy/kubernetes-manifests.js";
import { bundleCli } from "./agent-support.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey } from "./helpers/tpm-keys.js";

const { dir, cleanup } = makeTempDir("raa-native-k8s-daemonset-");
const manifests = readManifests();
const agent = agentContainer(manifests, "node-daemonset.yaml") as ReturnType<typeof agentContainer> & { env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] };
const SERVICE_HOST = flagValue(agent.args!, "advertise-host")!;
const POD_IP = "127.0.0.1";
const NODE = "node-1";
const fieldValues: Record<string, string> = { "status.podIP": POD_IP, "spec.nodeName": NODE };
const ISSUER = flagValue(agent.args!, "ecs-issuer")!;
const AUDIENCE = flagValue(agent.args!, "ecs-audience")!;
const serviceAccounts = agent.args!.filter((a) => a.startsWith("--ecs-service-account=")).map((a) => a.slice("--ecs-service-account=".length).split("=")[0]!);

/** The API server's ServiceAccount signing key, and a projected token as it issues one for a pod. */
const saKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
function podToken(serviceAccount: string, o: { node?: string; audience?: string } = {}): string {
  const [namespace, name] = serviceAccount.split("/") as [string, string];
  const now = Math.floor(Date.now() / 1000);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const data = `${b64({ alg: "RS256", kid: "sa-1" })}.${b64({
    aud: [o.audience ?? AUDIENCE], exp: now + 3600, iat: now, nbf: now, iss: ISSUER, sub: `system:serviceaccount:${namespace}:${name}`,
    "kubernetes.io": { namespace, serviceaccount: { name, uid: randomBytes(8).toString("hex") }, pod: { name: `${name}-${randomBytes(3).toString("hex")}`, uid: "p" }, node: { name: o.node ?? NODE, uid: "n" } },
  })}`;
  return `${data}.${sign("sha256", Buffer.from(data), saKey.privateKey).toString("base64url")}`;
}
const tokens = Object.fromEntries(serviceAccounts.map((c) => [c, podToken(c)]));

let tpm: Swtpm;
let cli: { cli: string; cleanup: () => void };
let endpoint: LocalEndpoint;
let serve: ChildProcess;
let endpointCa: CaHandle;
let port = 0;
const log: string[] = [];

/** A Secret or projected volume: tmpfs, whose root the kubelet leaves 1777 (a configMap volume's is 0777). */
function secretVolume(target: string, files: Record<string, string>): void {
  const stamp = `..${randomBytes(4).toString("hex")}`;
  mkdirSync(join(target, stamp), { recursive: true });
  chmodSync(target, 0o1777);
  for (const [name, data] of Object.entries(files)) writeFileSync(join(target, stamp, name), data, { mode: 0o400 });
  symlinkSync(stamp, join(target, "..data_tmp"));
  renameSync(join(target, "..data_tmp"), join(target, "..data"));
  for (const name of Object.keys(files)) symlinkSync(join("..data", name), join(target, name));
}

beforeAll(async () => {
  tpm = await startSwtpm();
  const key = await genpkey(tpm, "node", { algorithm: "EC", curve: "P-256" });
  const anchor = createCa(join(dir, "anchor"), { name: "Node Trust Anchor" });
  const nodeCert = issueLeaf(anchor, join(dir, "node-cert"), { name: "node-1", publicKeyPath: key.publicKeyPath });
  endpointCa = createCa(join(dir, "endpoint-ca"), { name: "Node Endpoint CA" });
  const tlsCert = issueLeaf(endpointCa, join(dir, "endpoint-tls"), {
    name: "node-endpoint",
    extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", `subjectAltName=DNS:${SERVICE_HOST},DNS:${SERVICE_HOST}.cluster.local`],
  });
  const region = /^arn:aws:rolesanywhere:([^:]+):/.exec(flagValue(agent.args!, "trust-anchor-arn")!)![1]!;
  endpoint = await startLocalEndpoint({ trustAnchors: [anchor.certPath], port: 0, region });

  // The volumes, by name, as directories here.
  const volumeDirs: Record<string, string> = {};
  const nodeIdentity = (volumeDirs["node-identity"] = join(dir, "host/etc/roles-anywhere/node"));
  mkdirSync(nodeIdentity, { recursive: true, mode: 0o700 });
  copyFileSync(nodeCert.certPath, join(nodeIdentity, "certificate.pem"));
  copyFileSync(key.keyPath, join(nodeIdentity, "key.tss2.pem"));
  secretVolume((volumeDirs["endpoint-tls"] = join(dir, "secrets/node-credential-endpoint-tls")), { "tls.crt": readFileSync(tlsCert.certPath, "utf8"), "tls.key": readFileSync(tlsCert.keyPath, "utf8") });
  secretVolume((volumeDirs["service-account-jwks"] = join(dir, "projected/service-account-jwks")), {
    "jwks.json": JSON.stringify({ keys: [{ ...saKey.publicKey.export({ format: "jwk" }), kid: "sa-1", use: "sig", alg: "RS256" }] }),
  });

  // The kubelet's $(VAR) expansion from the container's env (POD_IP from the downward API).
  const podEnv: Record<string, string> = {};
  for (const e of agent.env) if (e.valueFrom?.fieldRef) podEnv[e.name] = fieldValues[e.valueFrom.fieldRef.fieldPath]!;
  const args = agent.args!.map((a) => {
    let arg = a.replace(/\$\(([A-Z_]+)\)/g, (_m, name: string) => podEnv[name] ?? `$(${name})`);
    if (arg === "--port=9912") return "--port=0";
    const m = /^--([a-z-]+)=(\/.*)$/.exec(arg);
    if (!m) return arg;
    const mount = agent.volumeMounts!.find((v) => m[2] === v.mountPath || m[2]!.startsWith(`${v.mountPath}/`))!;
    expect(mount, arg).toBeDefined();
    arg = `--${m[1]}=${mount.name === "tpm" ? tpm.device : join(volumeDirs[mount.name]!, m[2]!.slice(mount.mountPath.length))}`;
    return arg;
  });
  expect(args.filter((a, i) => a !== agent.args![i])).toHaveLength(9); // $(POD_IP), $(NODE_NAME), the port, 6 paths (TPM included)
  cli = await bundleCli();
  serve = spawn(process.execPath, [cli.cli, ...args, `--endpoint=${endpoint.url}`], { stdio: ["ignore", "ignore", "pipe"] });
  const lines = createInterface({ input: serve.stderr! });
  let announced = 0;
  for await (const line of lines) {
    log.push(line);
    const m = /AWS_CONTAINER_CREDENTIALS_FULL_URI=https:\/\/([^:/]+):(\d+)\/v1\/credentials, token: the pod's projected ServiceAccount token/.exec(line);
    if (m) {
      expect(m[1]).toBe(SERVICE_HOST);
      port = Number(m[2]);
      if (++announced === serviceAccounts.length) break;
    }
  }
  lines.on("line", (l) => log.push(l));
  expect(port, log.join("\n")).toBeGreaterThan(0);
}, 180_000);

afterAll(async () => {
  serve?.kill("SIGKILL");
  await endpoint?.close();
  await tpm?.stop();
  cli?.cleanup();
  cleanup();
});

/** The Service name resolves to this node's agent (here: 127.0.0.1). */
const serviceLookup: LookupFunction = (_host, options, callback) => {
  if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: POD_IP, family: 4 }]);
  else callback(null, POD_IP, 4);
};

function get(host: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: "/v1/credentials", headers, ca: endpointCa.certPem, lookup: serviceLookup, servername: SERVICE_HOST }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("Kubernetes node DaemonSet (deploy/kubernetes/node-daemonset.yaml) with a TPM key", () => {
  it("serves each pod with its own ServiceAccount token, signing with the TPM, under the Service name over TLS", async () => {
    expect(serviceAccounts.length).toBeGreaterThan(1);
    for (const c of serviceAccounts) {
      const r = await get(SERVICE_HOST, { authorization: tokens[c]! });
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body).AccessKeyId).toMatch(/^ASIA/);
    }
    // One CreateSession for all consumers (they share the role), verified against the TPM key's certificate.
    expect(endpoint.issued).toHaveLength(1);
  });

  it("refuses a pod of another node, another audience, an unbound ServiceAccount, no token, and a foreign Host", async () => {
    expect((await get(SERVICE_HOST, { authorization: podToken(serviceAccounts[0]!, { node: "node-2" }) })).status).toBe(403);
    expect((await get(SERVICE_HOST, { authorization: podToken(serviceAccounts[0]!, { audience: "https://kubernetes.default.svc" }) })).status).toBe(403);
    expect((await get(SERVICE_HOST, { authorization: podToken("billing/other") })).status).toBe(403);
    expect((await get(SERVICE_HOST, { authorization: randomBytes(32).toString("base64") })).status).toBe(403);
    expect((await get(SERVICE_HOST, {})).status).toBe(401);
    const token = tokens[serviceAccounts[0]!]!;
    expect((await get(SERVICE_HOST, { authorization: token, host: `${SERVICE_HOST}.cluster.local:${port}` })).status).toBe(403);
    expect((await get(SERVICE_HOST, { authorization: token, host: `${POD_IP}:${port}` })).status).toBe(200);
  });

  it("exits 0 on SIGTERM, tokens never logged", async () => {
    serve.kill("SIGTERM");
    const [code] = (await once(serve, "exit")) as [number | null];
    expect(code).toBe(0);
    for (const t of Object.values(tokens)) expect(log.join("\n")).not.toContain(t);
  });
});
