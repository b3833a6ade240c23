/**
 * The connection code's edges that Stryker found untested (src/rolesanywhere/connection.ts, proxy.ts): a proxy's
 * answer to CONNECT that is not an HTTP status line, NO_PROXY entries that are IP addresses or CIDRs, and the
 * timer and abort listener of a connection that is already open.
 */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openConnection } from "../../src/rolesanywhere/connection.js";
import { parseEndpointUrl } from "../../src/rolesanywhere/endpoint.js";
import { matchesNoProxy, parseProxyUrl, proxyFor } from "../../src/rolesanywhere/proxy.js";

const servers: Server[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function listen(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.resume(); // reads the client's end, so that close() does not wait for this socket
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** The error of a CONNECT through a loopback proxy that answers `answer` and hangs up. */
async function tunnelError(answer: string) {
  const port = await listen((socket) => socket.once("data", () => socket.end(answer)));
  const transport = {
    endpoint: parseEndpointUrl("https://rolesanywhere.us-east-1.amazonaws.com"),
    proxy: parseProxyUrl(`http://127.0.0.1:${port}`, "HTTPS_PROXY"),
    tls: { rejectUnauthorized: true },
    connectTimeoutMs: 30_000,
  };
  return openConnection(transport, new AbortController().signal).then(
    (socket) => (socket.destroy(), undefined),
    (error: unknown) => error as { code?: string; message: string },
  );
}

describe("a proxy's answer to CONNECT that is not an HTTP status line", () => {
  it.each([
    "SSH-2.0-OpenSSH_9.6\r\n\r\n", // no status at all: a TypeError in the data listener before (exec()[1])
    "XHTTP/1.1 200 OK\r\n\r\n", // a status line that does not start with it
    "Via: x HTTP/1.1 200 OK\r\n\r\n",
    "\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", // an empty head: read as ended at once, not waited past
  ])("%j is refused as an answer that is not HTTP, and no tunnel is opened", async (answer) => {
    const error = await tunnelError(answer);
    expect(error).toMatchObject({ code: "NETWORK_ERROR" });
    expect(error?.message).toMatch(/refused the tunnel: an answer that is not HTTP$/);
  });
});

describe("a proxy's status that is not 2xx", () => {
  it.each(["HTTP/1.1 101 Switching Protocols", "HTTP/1.1 300 Multiple Choices"])("%j opens no tunnel", async (line) => {
    const error = await tunnelError(`${line}\r\n\r\n`);
    expect(error?.message).toMatch(new RegExp(`refused the tunnel: ${line.slice(9)}$`));
  });
});

describe("NO_PROXY entries that are addresses", () => {
  it.each([
    // An IP entry is that address only, not a domain suffix of a name.
    ["x.10.0.0.1", 443, "10.0.0.1", false],
    ["10.0.0.1", 443, "10.0.0.1", true],
    // A CIDR matches addresses, never a name (and does not throw on one).
    ["gw.example", 443, "10.0.0.0/8", false],
    ["10.0.0.0.example", 443, "10.0.0.0/8", false],
    // The prefix length is decimal digits only: what Number() would also read is no CIDR.
    ["10.1.2.3", 443, "10.0.0.0/1e1", false],
    ["10.1.2.3", 443, "10.0.0.0/0x8", false],
    ["10.1.2.3", 443, "10.0.0.0/8.", false],
    ["10.1.2.3", 443, "10.0.0.0/+8", false],
    ["fd00::1", 443, "fd00::/8", true],
    ["10.1.2.3", 443, "10.0.0.0/8", true],
    ["10.1.2.3", 443, "10.1.0.0/16", true],
    // A range of one family never holds an address of the other, not even an IPv4-mapped IPv6 one (as curl;
    // Go's httpproxy matches ::ffff:10.0.0.1 in 10.0.0.0/8). A URL writes [::ffff:10.0.0.1] as ::ffff:a00:1.
    ["fd00::1", 443, "0.0.0.0/0", false],
    ["10.0.0.1", 443, "::/0", false],
    ["::ffff:10.0.0.1", 443, "10.0.0.0/8", false],
    ["::ffff:a00:1", 443, "10.0.0.0/8", false],
    ["10.0.0.1", 443, "::ffff:10.0.0.0/104", false],
    ["::ffff:a00:1", 443, "::ffff:10.0.0.0/104", true],
    // An IPv6 entry matches the address however either is written (as Go's httpproxy; a URL writes it shortest),
    // within its family as ranges do.
    ["fd00::1", 443, "fd00::0001", true],
    ["fd00::1", 443, "[FD00:0:0::1]:443", true],
    ["fd00::2", 443, "fd00::0001", false],
    ["::ffff:a00:1", 443, "::ffff:10.0.0.1", true],
    ["10.0.0.1", 443, "::ffff:10.0.0.1", false],
    // A range whose base is no address matches nothing.
    ["10.0.0.1", 443, "gw.example/8", false],
    ["10.0.0.1", 443, "/8", false],
  ])("%s:%i with NO_PROXY=%j → %s", (host, port, noProxy, expected) => {
    expect(matchesNoProxy(host, port, noProxy)).toBe(expected);
  });

  it("an endpoint written as an IPv4-mapped address is proxied when NO_PROXY names only its IPv4 range", () => {
    const env = { HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: "10.0.0.0/8" };
    const endpoint = parseEndpointUrl("https://[::ffff:10.0.0.1]:443");
    expect(proxyFor({ protocol: "https:", hostname: endpoint.hostname, port: endpoint.port }, env)?.display).toBe("http://proxy.corp:3128");
    expect(proxyFor({ protocol: "https:", hostname: "10.0.0.1", port: 443 }, env)).toBeUndefined();
  });

  it("no_proxy in lower case counts too, and a malformed %-escape in the proxy's password is sent as written", () => {
    const target = { protocol: "https:", hostname: "rolesanywhere.us-east-1.amazonaws.com", port: 443 } as const;
    expect(proxyFor(target, { HTTPS_PROXY: "http://proxy.corp:3128", no_proxy: "amazonaws.com" })).toBeUndefined();
    const proxy = parseProxyUrl("http://bob:p%zz@proxy.corp:3128", "HTTPS_PROXY");
    expect(proxy.authorization).toBe(`Basic ${Buffer.from("bob:p%zz").toString("base64")}`);
  });
});

describe("a connection once open", () => {
  const plain = (port: number, connectTimeoutMs = 30_000) => ({
    endpoint: parseEndpointUrl(`http://127.0.0.1:${port}`),
    tls: { rejectUnauthorized: true },
    connectTimeoutMs,
  });

  it("is not made when the signal is already aborted, and ends when it is aborted during CONNECT", async () => {
    let connections = 0;
    const port = await listen(() => connections++); // a proxy that never answers
    const transport = {
      endpoint: parseEndpointUrl("https://rolesanywhere.us-east-1.amazonaws.com"),
      proxy: parseProxyUrl(`http://127.0.0.1:${port}`, "HTTPS_PROXY"),
      tls: { rejectUnauthorized: true },
      connectTimeoutMs: 600_000,
    };
    const reason = new Error("cancelled");
    await expect(openConnection(transport, AbortSignal.abort(reason))).rejects.toBe(reason);
    const controller = new AbortController();
    const opening = openConnection(transport, controller.signal);
    await vi.waitFor(() => expect(connections).toBe(1));
    controller.abort(reason);
    await expect(opening).rejects.toBe(reason);
  });

  it("is not destroyed when the request's signal is aborted later (the listener is removed)", async () => {
    const port = await listen(() => {});
    const controller = new AbortController();
    const socket = await openConnection(plain(port), controller.signal);
    controller.abort(new Error("the next request was cancelled"));
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  it("is not destroyed when the connect timeout would have run out (the timer is cleared)", async () => {
    const port = await listen(() => {});
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const socket = await openConnection(plain(port, 5_000), new AbortController().signal);
    vi.advanceTimersByTime(10_000);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });
});
