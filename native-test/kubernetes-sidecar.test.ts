/**
 * The sidecar of deploy/kubernetes/sidecar.yaml, run with its exact command line against the verifying local
 * endpoint, and the app container's exact environment given to a Node program that gets credentials the way
 * an app does (the JS SDK's default chain, i.e. fromHttp for a container endpoint) over TLS and calls STS.
 * What differs from the pod, and nothing else: each volume's mountPath is a directory here laid out the way
 * the kubelet lays out a Secret volume (`..data` swapped atomically); `--port=9912` becomes `--port=0`; the
 * app's URI gets the port chosen; `--endpoint` points at the local endpoint instead of AWS.
 * Rotation as cert-manager and the kubelet do it: the endpoint's TLS certificate and the consumer token are
 * replaced by a `..data` swap while serve runs, and serve picks them up without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, chmodSync, readdirSync } from "node:fs";
import { request } from "node:https";
import { connect } from "node:tls";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../test/helpers/pki.js";
import { agentContainer, containersOf, flagValue, readManifests } from "../test/deploy/kubernetes-manifests.js";
import { bundleCli } from "./agent-support.js";

const { dir, cleanup } = makeTempDir("raa-native-k8s-sidecar-");
const manifests = readManifests();
const agent = agentContainer(manifests, "sidecar.yaml");
const deployment = manifests.find((m) => m.file === "sidecar.yaml" && m.kind === "Deployment")!;
const app = containersOf(deployment).find((c) => c.name === "app")!;
const volumes = (deployment as unknown as { spec: { template: { spec: { volumes: { name: string; secret: { secretName: string } }[] } } } }).spec.template.spec.volumes;

/** mountPath → local directory, per container (both containers mount the same Secret volumes). */
const volumeDir = (name: string) => join(dir, "volumes", volumes.find((v) => v.name === name)!.secret.secretName);
function localPath(container: typeof agent, path: string): string {
  const mount = container.volumeMounts!.find((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
  if (!mount) throw new Error(`${path} is on no volume of ${container.name}`);
  // The endpoint-ca volume projects only ca.crt of the same Secret.
  const name = mount.name === "endpoint-ca" ? "endpoint-tls" : mount.name;
  return join(volumeDir(name), path.slice(mount.mountPath.length));
}

/** Writes a Secret volume the way the kubelet's atomic writer does: files in `..<timestamp>`, `..data` swapped. */
function writeSecretVolume(target: string, files: Record<string, string>): void {
  mkdirSync(target, { recursive: true });
  const stamp = `..${Date.now()}_${randomBytes(4).toString("hex")}`;
  mkdirSync(join(target, stamp), { mode: 0o755 });
  for (const [name, data] of Object.entries(files)) {
    writeFileSync(join(target, stamp, name), data);
    chmodSync(join(target, stamp, name), 0o440);
  }
  symlinkSync(stamp, join(target, "..data_tmp"));
  const old = readdirSync(target).filter((f) => f.startsWith("..") && f !== stamp && f !== "..data" && f !== "..data_tmp");
  renameSync(join(target, "..data_tmp"), join(target, "..data"));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(join("..data", name), join(target, name));
    } catch {
      /* the link exists and now points into the new ..data */
    }
  }
  for (const o of old) rmSync(join(target, o), { recursive: true, force: true });
}

function serverCert(ca: CaHandle, name: string) {
  return issueLeaf(ca, join(dir, "endpoint-pki", name), {
    name,
    extensions: [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "subjectKeyIdentifier=hash",
      "authorityKeyIdentifier=keyid",
    ],
  });
}

let cli: { cli: string; cleanup: () => void };
let endpoint: LocalEndpoint;
let serve: ChildProcess;
let endpointCa: CaHandle;
const log: string[] = [];
let fullUri = "";
const tokens = { first: randomBytes(32).toString("base64"), second: randomBytes(32).toString("base64") };

beforeAll(async () => {
  cli = await bundleCli();
  const anchor = createCa(join(dir, "anchor"), { name: "Trust Anchor CA" });
  const identity = issueLeaf(anchor, join(dir, "identity"), { name: "app.demo" });
  endpointCa = createCa(join(dir, "endpoint-ca"), { name: "Pod Local CA" });
  const tls1 = serverCert(endpointCa, "endpoint-1");
  const region = /^arn:aws:rolesanywhere:([^:]+):/.exec(flagValue(agent.args!, "trust-anchor-arn")!)![1]!;
  endpoint = await startLocalEndpoint({ trustAnchors: [anchor.certPath], port: 0, region });

  writeSecretVolume(volumeDir("identity"), { "tls.crt": readFileSync(identity.certPath, "utf8"), "tls.key": readFileSync(identity.keyPath, "utf8") });
  writeSecretVolume(volumeDir("endpoint-tls"), { "tls.crt": readFileSync(tls1.certPath, "utf8"), "tls.key": readFileSync(tls1.keyPath, "utf8"), "ca.crt": endpointCa.certPem });
  const consumer = flagValue(agent.args!, "ecs-consumer")!.split("=")[0]!;
  writeSecretVolume(volumeDir("ecs-token"), { [consumer]: tokens.first });

  const args = agent.args!.map((a) => {
    const m = /^--([a-z-]+)=(\/.*)$/.exec(a);
    if (m) return `--${m[1]}=${localPath(agent, m[2]!)}`;
    return a === "--port=9912" ? "--port=0" : a;
  });
  expect(args.filter((a, i) => a !== agent.args![i])).toHaveLength(6); // 5 paths and the port, nothing else
  serve = spawn(process.execPath, [cli.cli, ...args, `--endpoint=${endpoint.url}`], { stdio: ["ignore", "ignore", "pipe"] });
  const lines = createInterface({ input: serve.stderr! });
  for await (const line of lines) {
    log.push(line);
    const m = /AWS_CONTAINER_CREDENTIALS_FULL_URI=(\S+),/.exec(line);
    if (m) {
      fullUri = m[1]!;
      break;
    }
  }
  lines.on("line", (l) => log.push(l));
  expect(fullUri, log.join("\n")).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\/credentials$/);
});

afterAll(async () => {
  serve?.kill("SIGKILL");
  await endpoint?.close();
  cli?.cleanup();
  cleanup();
});

/** The app container's environment from the manifest, its paths mapped to the volumes here, the port chosen. */
function appEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of app.env!) {
    let value = e.value!;
    if (e.name === "AWS_CONTAINER_CREDENTIALS_FULL_URI") value = value.replace(/:\d+\//, `:${new URL(fullUri).port}/`);
    else if (value.startsWith("/")) value = localPath(app, value);
    env[e.name] = value;
  }
  return env;
}

/** A Node program with exactly the app's environment (plus PATH, and a HOME without AWS files). */
function runApp(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const home = join(dir, "app-home");
  mkdirSync(home, { recursive: true });
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { cwd: resolve("."), env: { PATH: process.env["PATH"], HOME: home, ...appEnv() }, timeout: 30_000 },
      (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const GET_CALLER_IDENTITY = (stsEndpoint: string) => `
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { fromHttp } from "@aws-sdk/credential-providers";
const viaHttp = await fromHttp({ maxRetries: 0 })();
const sts = new STSClient({ endpoint: ${JSON.stringify(stsEndpoint)} }); // credentials: the SDK's default chain
const id = await sts.send(new GetCallerIdentityCommand({}));
const creds = await sts.config.credentials();
console.log(JSON.stringify({ arn: id.Arn, same: creds.accessKeyId === viaHttp.accessKeyId, key: creds.accessKeyId.slice(0, 4) }));
`;

function peerCertificateSerial(): Promise<string> {
  const { port } = new URL(fullUri);
  return new Promise((done, fail) => {
    const socket = connect({ host: "127.0.0.1", port: Number(port), ca: endpointCa.certPem }, () => {
      done(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on("error", fail);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no TLS handshake from ${fullUri} within 10 s; serve said:\n${log.join("\n")}`)));
  });
}

function get(headers: Record<string, string>): Promise<number> {
  return new Promise((done, fail) => {
    // The certificate is checked against the URI's host even when the Host header says something else.
    const req = request(fullUri, { headers, ca: endpointCa.certPem, servername: "localhost" }, (res) => {
      res.resume();
      done(res.statusCode!);
    });
    req.on("error", fail);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${fullUri} within 10 s; serve said:\n${log.join("\n")}`)));
    req.end();
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} within ${ms} ms; serve said:\n${log.join("\n")}`);
}

describe("Kubernetes sidecar (deploy/kubernetes/sidecar.yaml) against the local endpoint", () => {
  it("the app's default credential chain gets credentials over TLS and STS knows the role", async () => {
    const r = await runApp(GET_CALLER_IDENTITY(endpoint.url));
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.arn).toMatch(/^arn:aws:sts::111122223333:assumed-role\/app-reader\//);
    expect(out.same).toBe(true);
    expect(out.key).toBe("ASIA");
  });

  it("refuses the wrong token, no token, a foreign Host, and plain HTTP on the TLS port", async () => {
    expect(await get({})).toBe(401);
    expect(await get({ authorization: "x".repeat(44) })).toBe(403);
    expect(await get({ authorization: tokens.first, host: `rebound.example:${new URL(fullUri).port}` })).toBe(403);
    expect(await get({ authorization: tokens.first })).toBe(200);
    const plain = await new Promise<string>((done) => {
      execFile("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "-H", `Authorization: ${tokens.first}`, fullUri.replace("https:", "http:")], (_e, stdout) => done(stdout));
    });
    expect(plain).not.toBe("200");
  });

  it("follows a rotation of its TLS certificate and of the consumer token (kubelet ..data swap), without a restart", async () => {
    const before = await peerCertificateSerial();
    const tls2 = serverCert(endpointCa, "endpoint-2");
    writeSecretVolume(volumeDir("endpoint-tls"), { "tls.crt": readFileSync(tls2.certPath, "utf8"), "tls.key": readFileSync(tls2.keyPath, "utf8"), "ca.crt": endpointCa.certPem });
    const consumer = flagValue(agent.args!, "ecs-consumer")!.split("=")[0]!;
    writeSecretVolume(volumeDir("ecs-token"), { [consumer]: tokens.second });
    await waitFor("the new TLS certificate is served", async () => (await peerCertificateSerial()) !== before);
    expect(BigInt(`0x${await peerCertificateSerial()}`).toString(10)).toBe(tls2.serialDecimal);
    await waitFor("the new token is accepted", async () => (await get({ authorization: tokens.second })) === 200);
    expect(await get({ authorization: tokens.first })).toBe(403);
    expect(log.some((l) => /TLS certificate reloaded/.test(l))).toBe(true);
    // The app, reading the rotated token file, still gets credentials from the same process.
    const r = await runApp(GET_CALLER_IDENTITY(endpoint.url));
    expect(r.code, r.stderr).toBe(0);
    expect(serve.exitCode).toBeNull();
  });

  it("keeps the previous certificate when a rotation is half done (key of another pair), and says so", async () => {
    const before = await peerCertificateSerial();
    const other = serverCert(endpointCa, "endpoint-3");
    const current = readFileSync(localPath(agent, flagValue(agent.args!, "tls-certificate")!), "utf8");
    writeSecretVolume(volumeDir("endpoint-tls"), { "tls.crt": current, "tls.key": readFileSync(other.keyPath, "utf8"), "ca.crt": endpointCa.certPem });
    await waitFor("the mismatch is logged", async () => log.some((l) => /TLS certificate not reloaded.*does not belong to the certificate/.test(l)));
    expect(await peerCertificateSerial()).toBe(before);
    expect(await get({ authorization: tokens.second })).toBe(200);
  });

  it("exits 0 on SIGTERM", async () => {
    serve.kill("SIGTERM");
    const [code] = (await once(serve, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(log.join("\n")).not.toContain(tokens.first);
    expect(log.join("\n")).not.toContain(tokens.second);
  });
});
