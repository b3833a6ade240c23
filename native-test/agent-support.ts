/**
 * Support for the long-running-mode native tests: a fault-injecting proxy in front of the local CreateSession
 * endpoint, a SoftHSM token with an imported EC key, and a bundle of the CLI to run as real processes.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { bundleCliInto } from "../test/helpers/bundle-cli.js";

export type ProxyMode = "ok" | "5xx" | "hang" | "refuse";

export interface FaultProxy {
  readonly url: string;
  mode: ProxyMode;
  /** When set, CreateSession answers are rewritten to expire this long after they pass the proxy. */
  lifetimeMs: number | undefined;
  /** CreateSession requests that reached the real endpoint. */
  readonly forwarded: number;
  /** Decimal serials of the leaf certificates (X-Amz-X509) of the forwarded requests, in order. */
  readonly serials: readonly string[];
  setMode(mode: ProxyMode): Promise<void>;
  close(): Promise<void>;
}

/** An HTTP proxy that forwards to `target`, or fails in the chosen way (5xx, never answering, refusing connections). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const state = { forwarded: 0, serials: [] as string[] };
  let server: Server | undefined;
  let port = 0;
  const proxy: FaultProxy = {
    url: "",
    mode: "ok",
    lifetimeMs: undefined,
    get forwarded() {
      return state.forwarded;
    },
    get serials() {
      return state.serials;
    },
    async setMode(mode) {
      if (mode === "refuse" && server) await stop();
      if (mode !== "refuse" && !server) await listen();
      proxy.mode = mode;
    },
    close: () => stop(),
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    if (proxy.mode === "hang") return; // the client's timeout fires
    if (proxy.mode === "5xx") {
      res.writeHead(503, { "content-type": "application/json" }).end('{"message":"injected outage"}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const cert = req.headers["x-amz-x509"];
      if (typeof cert === "string") state.serials.push(BigInt(`0x${new X509Certificate(Buffer.from(cert, "base64")).serialNumber}`).toString());
      state.forwarded++;
      const upstream = request(new URL(req.url ?? "/", target), { method: req.method, headers: req.headers }, (up) => {
        const body: Buffer[] = [];
        up.on("data", (c: Buffer) => body.push(c));
        up.on("end", () => {
          let text = Buffer.concat(body).toString("utf8");
          if (proxy.lifetimeMs !== undefined && up.statusCode === 201) text = rewriteExpiration(text, new Date(Date.now() + proxy.lifetimeMs));
          const headers = { ...up.headers, "content-length": String(Buffer.byteLength(text)) };
          delete headers["transfer-encoding"];
          res.writeHead(up.statusCode ?? 502, headers).end(text);
        });
      });
      upstream.on("error", () => res.writeHead(502).end());
      upstream.end(Buffer.concat(chunks));
    });
  }

  function listenOn(candidate: number): Promise<boolean> {
    return new Promise((done) => {
      const s = createServer(handle);
      s.on("connection", (c) => {
        sockets.add(c);
        c.on("close", () => sockets.delete(c));
      });
      s.once("error", () => done(false));
      s.listen(candidate, "127.0.0.1", () => {
        server = s;
        port = (s.address() as AddressInfo).port;
        done(true);
      });
    });
  }
  // "refuse" closes the port and "ok" listens on it again: a port from listen(0) could be handed to another process
  // (a parallel test file's listen(0)) meanwhile, and the proxy then failed with EADDRINUSE. One below the kernel's
  // ephemeral range is never handed out by listen(0) or connect().
  async function listen(): Promise<void> {
    if (port !== 0) {
      if (await listenOn(port)) return;
      throw new Error(`the fault proxy could not listen on 127.0.0.1:${port} again`);
    }
    for (const candidate of [...portsBelowEphemeralRange(20), 0]) if (await listenOn(candidate)) return;
    throw new Error("the fault proxy found no port to listen on");
  }
  function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (!s) return Promise.resolve();
    for (const socket of sockets) socket.destroy();
    return new Promise((done) => s.close(() => done()));
  }
  await listen();
  (proxy as { url: string }).url = `http://127.0.0.1:${port}`;
  return proxy;
}

/** `count` random ports from 20000 up to the start of the kernel's ephemeral range; none when it starts lower. */
function portsBelowEphemeralRange(count: number): number[] {
  let low = 32768;
  try {
    low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  } catch {
    // not Linux: the IANA range's start
  }
  if (!(low > 20_100)) return [];
  return Array.from({ length: count }, () => 20_000 + Math.floor(Math.random() * (low - 20_000)));
}

function rewriteExpiration(text: string, expiration: Date): string {
  const doc = JSON.parse(text) as { credentialSet?: { credentials?: { expiration?: string } }[] };
  for (const set of doc.credentialSet ?? []) if (set.credentials) set.credentials.expiration = expiration.toISOString().replace(/\.\d{3}Z$/, "Z");
  return JSON.stringify(doc);
}

export interface SoftHsmToken {
  readonly conf: string;
  readonly label: string;
  readonly pin: string;
  readonly pinFile: string;
  /** pkcs11: URI of the private key (module-path included). */
  readonly keyUri: string;
  /** The same key as a PEM file (kept to issue certificates for its public key). */
  readonly keyPath: string;
}

export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

/** A SoftHSM token in `dir` holding one imported EC P-256 key (id 02). Set SOFTHSM2_CONF to `conf` before use. */
export function createSoftHsmToken(dir: string, keyPath: string, label = "agent-test"): SoftHsmToken {
  mkdirSync(join(dir, "tokens"), { recursive: true });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", "1234"], { env, stdio: "ignore" });
  execFileSync("softhsm2-util", ["--import", keyPath, "--token", label, "--label", "agent-key", "--id", "02", "--pin", "1234"], { env, stdio: "ignore" });
  const pinFile = join(dir, "pin");
  writeFileSync(pinFile, "1234\n", { mode: 0o600 });
  return { conf, label, pin: "1234", pinFile, keyUri: `pkcs11:token=${label};object=agent-key;type=private?module-path=${SOFTHSM_MODULE}`, keyPath };
}

/**
 * Bundles the CLI program (src/cli/bin.ts, what dist/cli-bundle.cjs holds) as one ES module, into a directory
 * under node_modules so that its bare imports (pkcs11js) resolve. Independent of `npm run build` and of dist/.
 */
export async function bundleCli(): Promise<{ cli: string; cleanup: () => void }> {
  const cacheDir = resolve("node_modules", ".cache");
  mkdirSync(cacheDir, { recursive: true });
  const dir = mkdtempSync(join(cacheDir, "raa-native-cli-"));
  const cli = await bundleCliInto(dir);
  // The native helper next to the bundle, where the shipped dist/ has it (the long-running commands load it).
  if (existsSync(resolve("dist", "native"))) cpSync(resolve("dist", "native"), join(dir, "native"), { recursive: true });
  return { cli, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Runs `cli agent` with one profile from `config` until it listens, fetches that profile's credentials once
 * over `socket`, stops it with SIGTERM and resolves to its exit code, the credentials' access key id and the
 * agent's log. The agent is killed if anything fails on the way.
 */
export async function serveOnceAndStop(
  cli: string,
  config: string,
  socket: string,
  profile: string,
  env: NodeJS.ProcessEnv = process.env,
  /** Runs once the first answer came, before SIGTERM (a reload, say). */
  meanwhile?: (agent: ChildProcess, log: string[]) => Promise<void>,
): Promise<{ code: number | null; accessKeyId: string | undefined; log: string[] }> {
  const agent = spawn(process.execPath, [cli, "agent", "--config", config, "--socket", socket], { env, stdio: ["ignore", "ignore", "pipe"] });
  const log: string[] = [];
  createInterface({ input: agent.stderr! }).on("line", (l) => log.push(l));
  try {
    const deadline = Date.now() + 20_000;
    while (!log.some((l) => /agent listening on/.test(l))) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`agent did not start:\n${log.join("\n")}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const { fetchFromAgent } = await import("../src/agent/client.js");
    const accessKeyId = (await fetchFromAgent(socket, profile))?.accessKeyId;
    await meanwhile?.(agent, log);
    agent.kill("SIGTERM");
    const [code] = (await once(agent, "exit")) as [number | null];
    return { code, accessKeyId, log };
  } finally {
    if (agent.exitCode === null && agent.signalCode === null) agent.kill("SIGKILL");
  }
}
