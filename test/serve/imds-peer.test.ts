import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { request, type Server } from "node:http";
import type { Socket } from "node:net";
import { startCredentialServer, type RunningCredentialServer } from "../../src/serve/credential-server.js";

// The server startCredentialServer makes, to reach its connections before its own listener sees them.
const made = vi.hoisted(() => ({ servers: [] as Server[] }));
vi.mock("node:http", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:http")>();
  const createServer = (...args: Parameters<typeof real.createServer>) => {
    const server = real.createServer(...args);
    made.servers.push(server);
    return server;
  };
  return { ...real, createServer, default: { ...real, createServer } };
});

const expiration = new Date(Date.now() + 3600_000);
const creds = { accessKeyId: "ASIAGATEWAY", secretAccessKey: "s", sessionToken: "t", expiration };

function ask(port: number, method: string, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("IMDS endpoint: a peer that is not on loopback", () => {
  // Loopback-bound, a peer from elsewhere still reaches it where 127.0.0.0/8 is routed (route_localnet=1, which
  // kube-proxy sets: CVE-2020-8558). Such a connection is made here by giving it another remote address.
  let server: RunningCredentialServer;
  let http: Server;
  let remote: string | undefined;
  beforeAll(async () => {
    const roles = (role: string) => (role === "gateway" ? { get: async () => creds } : undefined);
    server = await startCredentialServer({ roles, imds: { defaultRole: () => "gateway" }, host: "127.0.0.1", port: 0 });
    http = made.servers.at(-1)!;
    http.prependListener("connection", (socket: Socket) => {
      if (remote !== undefined) Object.defineProperty(socket, "remoteAddress", { value: remote });
    });
  });
  afterAll(() => server.close());

  it("gets neither a token nor credentials (403), though a loopback peer gets both", async () => {
    const base = "/latest/meta-data/iam/security-credentials";
    remote = undefined;
    const token = await ask(server.port, "PUT", "/latest/api/token");
    expect(token.status).toBe(200);
    const withToken = { "x-aws-ec2-metadata-token": token.body };
    expect((await ask(server.port, "GET", `${base}/gateway`, withToken)).status).toBe(200);
    for (const address of ["10.0.0.7", "::ffff:192.168.1.5", "fe80::1"]) {
      remote = address;
      expect(await ask(server.port, "PUT", "/latest/api/token"), address).toEqual({ status: 403, body: "forbidden\n" });
      for (const path of [base, `${base}/gateway`]) {
        const answer = await ask(server.port, "GET", path, withToken);
        expect(answer, `${address} ${path}`).toEqual({ status: 403, body: "forbidden\n" });
      }
    }
  });
});
