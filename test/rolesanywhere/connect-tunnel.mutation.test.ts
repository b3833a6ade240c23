/** The CONNECT tunnel through an HTTP proxy (src/rolesanywhere/connection.ts): what it sends, how it reads the answer. */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { openConnection } from "../../src/rolesanywhere/connection.js";
import { parseEndpointUrl } from "../../src/rolesanywhere/endpoint.js";
import { parseProxyUrl } from "../../src/rolesanywhere/proxy.js";

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A proxy on loopback that records the CONNECT request, writes `answer` in `pieces` writes, then hangs up. */
async function fakeProxy(answer: string, pieces = 1): Promise<{ port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((socket: Socket) => {
    let text = "";
    socket.on("error", () => {});
    socket.on("data", async (chunk) => {
      text += chunk.toString("latin1");
      if (!text.includes("\r\n\r\n")) return;
      requests.push(text);
      const size = Math.ceil(answer.length / pieces);
      for (let i = 0; i < answer.length; i += size) {
        socket.write(answer.slice(i, i + size));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      socket.end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, requests };
}

async function tunnel(proxyUrl: string) {
  const transport = {
    endpoint: parseEndpointUrl("https://rolesanywhere.us-east-1.amazonaws.com"),
    proxy: parseProxyUrl(proxyUrl, "HTTPS_PROXY"),
    tls: { rejectUnauthorized: true },
    connectTimeoutMs: 30_000,
  };
  return openConnection(transport, new AbortController().signal).then(
    (socket) => (socket.destroy(), undefined),
    (error: unknown) => error as { code?: string; message: string; transient?: boolean; status?: number },
  );
}

describe("CONNECT through an HTTP proxy", () => {
  it("sends Proxy-Authorization only when the proxy URL has a user or a password", async () => {
    const p = await fakeProxy("HTTP/1.1 403 Forbidden\r\n\r\n");
    await tunnel(`http://127.0.0.1:${p.port}`);
    expect(p.requests).toEqual(["CONNECT rolesanywhere.us-east-1.amazonaws.com:443 HTTP/1.1\r\nHost: rolesanywhere.us-east-1.amazonaws.com:443\r\n\r\n"]);
    await tunnel(`http://bob:pw@127.0.0.1:${p.port}`);
    expect(p.requests[1]).toContain(`\r\nProxy-Authorization: Basic ${Buffer.from("bob:pw").toString("base64")}\r\n`);
  });

  it("a user without a password, or a password without a user, is a login too", () => {
    expect(parseProxyUrl("http://bob@proxy.corp:3128", "HTTPS_PROXY").authorization).toBe(`Basic ${Buffer.from("bob:").toString("base64")}`);
    expect(parseProxyUrl("http://:pw@proxy.corp:3128", "HTTPS_PROXY").authorization).toBe(`Basic ${Buffer.from(":pw").toString("base64")}`);
    expect(parseProxyUrl("http://proxy.corp:3128", "HTTPS_PROXY").authorization).toBeUndefined();
  });

  it("an answer that arrives in pieces is read whole: the tunnel opens (then TLS fails on the proxy's hang-up)", async () => {
    const p = await fakeProxy("HTTP/1.1 200 Connection Established\r\nVia: test\r\n\r\n", 4);
    const error = await tunnel(`http://127.0.0.1:${p.port}`);
    expect(error?.message).not.toMatch(/oversized|refused the tunnel/);
    expect(error?.message).toMatch(/endpoint https:\/\/rolesanywhere\.us-east-1\.amazonaws\.com/);
  });

  it("a proxy's 5xx to CONNECT is worth another try, its 403 is not", async () => {
    const busy = await fakeProxy("HTTP/1.1 500 Internal Server Error\r\n\r\n");
    expect(await tunnel(`http://127.0.0.1:${busy.port}`)).toMatchObject({ code: "NETWORK_ERROR", transient: true, status: 500 });
    const blocked = await fakeProxy("HTTP/1.1 403 Forbidden\r\n\r\n");
    expect(await tunnel(`http://127.0.0.1:${blocked.port}`)).toMatchObject({ code: "NETWORK_ERROR", transient: false, status: 403 });
  });
});
