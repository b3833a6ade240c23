import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo, LookupFunction } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isLocalhostName } from "../../src/rolesanywhere/connection.js";
import { isLoopback, parseEndpointUrl } from "../../src/rolesanywhere/endpoint.js";
import { createTransport, sendRequest } from "../../src/rolesanywhere/http-client.js";
import { proxyFor } from "../../src/rolesanywhere/proxy.js";

// RFC 6761 §6.3: only `localhost` and names ending in `.localhost` are loopback by name. A name that merely contains
// it is a real name: it goes to DNS and through the proxy like any other.
const notLocalhost = ["evil.localhost.example.com", "localhostx", "xlocalhost", "localhost.example", "my-localhost", "localhost..", "127.0.0.1.example.com"];
const localhostNames = ["localhost", "LOCALHOST.", "ra.localhost", "a.b.Localhost"];

const open: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))));
});

/** An http server on `host` (port 0 or `port`) recording the Host header of each request. */
async function listen(host: string, port = 0): Promise<{ port: number; hosts: string[] }> {
  const hosts: string[] = [];
  const server = createHttpServer((req, res) => {
    hosts.push(req.headers.host ?? "");
    res.writeHead(201).end("{}");
  });
  open.push(server);
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, host, resolve));
  return { port: (server.address() as AddressInfo).port, hosts };
}

const post = (host: string) => ({ method: "POST", path: "/sessions", headers: { Host: host }, body: "{}" });

describe("the localhost rule (RFC 6761) is for localhost names only", () => {
  it("isLoopback: localhost names, 127/8 and ::1, nothing that only contains them", () => {
    for (const name of localhostNames) expect(isLoopback(name), name).toBe(true);
    for (const name of notLocalhost) expect(isLoopback(name), name).toBe(false);
    for (const address of ["127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.2", "::ffff:7f00:1"]) expect(isLoopback(address), address).toBe(true);
    for (const address of ["128.0.0.1", "10.127.0.1", "0.0.0.0", "::", "::2", "::ffff:128.0.0.1", "::ffff:8000:1", "::ffff:a7f:1", "fe80::1", "1::ffff:7f00:1", "fe80::ffff:127.0.0.1"]) {
      expect(isLoopback(address), address).toBe(false);
    }
  });

  it("isLocalhostName: names only (an address is connected to as it is)", () => {
    for (const name of localhostNames) expect(isLocalhostName(name), name).toBe(true);
    for (const name of [...notLocalhost, "127.0.0.1", "::1", "rolesanywhere.us-east-1.amazonaws.com"]) expect(isLocalhostName(name), name).toBe(false);
  });

  it("a real name that contains 'localhost' goes through the proxy", () => {
    const env = { HTTPS_PROXY: "http://proxy.corp:3128", HTTP_PROXY: "http://proxy.corp:8080" };
    for (const hostname of [...notLocalhost, "rolesanywhere.us-east-1.amazonaws.com"]) {
      expect(proxyFor({ protocol: "https:", hostname, port: 443 }, env)?.display, hostname).toBe("http://proxy.corp:3128");
      expect(proxyFor({ protocol: "http:", hostname, port: 80 }, env)?.display, hostname).toBe("http://proxy.corp:8080");
    }
    for (const hostname of localhostNames) expect(proxyFor({ protocol: "https:", hostname, port: 443 }, env), hostname).toBeUndefined();
  });

  it("a real name that contains 'localhost' is looked up and sent where the resolver says, not to 127.0.0.1", async () => {
    // The resolver's answer: loopback still (tests talk to nothing else), but not the 127.0.0.1 a localhost name means.
    const server = await listen("127.0.0.2");
    const asked: string[] = [];
    const resolver = ((hostname: string, options: { all?: boolean }, callback: (e: null, a: unknown, f?: number) => void) => {
      asked.push(hostname);
      if (options.all) callback(null, [{ address: "127.0.0.2", family: 4 }]);
      else callback(null, "127.0.0.2", 4);
    }) as unknown as LookupFunction;
    for (const name of ["evil.localhost.example.com", "localhostx"]) {
      const endpoint = parseEndpointUrl(`http://${name}:${server.port}`);
      const transport = await createTransport(endpoint, { env: {}, lookup: resolver, connectTimeoutMs: 30_000 });
      const response = await sendRequest(transport, post(endpoint.host), new AbortController().signal);
      expect(response.status, name).toBe(201);
    }
    expect(asked).toEqual(["evil.localhost.example.com", "localhostx"]);
    expect(server.hosts).toEqual([`evil.localhost.example.com:${server.port}`, `localhostx:${server.port}`]);
  });

  it("a localhost name reaches ::1 when nothing listens on 127.0.0.1 (127.0.0.1, then ::1)", async () => {
    // A port free on 127.0.0.1 too (bound there, then released): nothing else can answer for the name there.
    let server: { port: number; hosts: string[] } | undefined;
    while (server === undefined) {
      const candidate = await listen("::1");
      const v4 = await listen("127.0.0.1", candidate.port).then(() => open.pop(), () => undefined);
      if (v4) await new Promise<void>((resolve) => v4.close(() => resolve()));
      if (v4) server = candidate;
    }
    const resolver = (() => {
      throw new Error("a localhost name was looked up");
    }) as unknown as LookupFunction;
    const endpoint = parseEndpointUrl(`http://ra.localhost:${server.port}`);
    const transport = await createTransport(endpoint, { env: { HTTP_PROXY: "http://127.0.0.1:9" }, lookup: resolver, connectTimeoutMs: 30_000 });
    expect(transport.proxy).toBeUndefined();
    const response = await sendRequest(transport, post(endpoint.host), new AbortController().signal);
    expect(response.status).toBe(201);
    expect(server.hosts).toEqual([`ra.localhost:${server.port}`]);
  });
});
