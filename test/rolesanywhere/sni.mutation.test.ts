/**
 * The server name (SNI) a connection sends (src/rolesanywhere/connection.ts): the endpoint's host name, directly and
 * through a CONNECT tunnel, and none for an IP literal (RFC 6066 §3). A TLS server records what each handshake named.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openConnection } from "../../src/rolesanywhere/connection.js";
import { parseEndpointUrl } from "../../src/rolesanywhere/endpoint.js";
import { parseProxyUrl } from "../../src/rolesanywhere/proxy.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { startProxy, type TestProxy } from "./support.js";

const { dir, cleanup } = makeTempDir("raa-sni-");
afterAll(cleanup);
const ca = createCa(join(dir, "ca"), { name: "SNI Test Root CA" });
const leaf = issueLeaf(ca, join(dir, "leaf"), {
  name: "endpoint",
  extensions: ["basicConstraints=critical,CA:FALSE", "extendedKeyUsage=serverAuth", "subjectAltName=DNS:localhost,DNS:rolesanywhere.test,IP:127.0.0.1"],
});

const open: Array<Server | TestProxy> = [];
afterEach(async () => {
  await Promise.all(
    open.splice(0).map((s) => ("tunnels" in s ? s.close() : new Promise<void>((resolve) => s.close(() => resolve())))),
  );
});

/** A loopback TLS server; `names` gets the server name of each handshake (false: none was sent). */
async function tlsServer(): Promise<{ port: number; names: Array<string | false> }> {
  const names: Array<string | false> = [];
  const server = createServer({ key: readFileSync(leaf.keyPath), cert: readFileSync(leaf.certPath) }, (socket) => {
    names.push(socket.servername ?? false);
    socket.on("error", () => {});
    socket.end();
  });
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, names };
}

/** The names the server saw for one connection to `url` (`{port}` replaced), through `proxy` if given. */
async function namesSent(url: string, proxy?: TestProxy): Promise<Array<string | false>> {
  const { port, names } = await tlsServer();
  const transport = {
    endpoint: parseEndpointUrl(url.replace("{port}", String(port))),
    ...(proxy ? { proxy: parseProxyUrl(proxy.url, "HTTPS_PROXY") } : {}),
    tls: { rejectUnauthorized: false },
    connectTimeoutMs: 30_000,
  };
  const socket = await openConnection(transport, new AbortController().signal);
  await new Promise((resolve) => socket.once("close", resolve).end().resume());
  return names;
}

describe("the server name sent in the TLS handshake", () => {
  it("is the endpoint's host name; an IP literal sends none", async () => {
    expect(await namesSent("https://localhost:{port}")).toEqual(["localhost"]);
    // A name written with its root's dot is sent without it (RFC 6066 §3; as Go's crypto/tls).
    expect(await namesSent("https://LocalHost.:{port}")).toEqual(["localhost"]);
    expect(await namesSent("https://127.0.0.1:{port}")).toEqual([false]);
  });

  it("is the endpoint's host name through a CONNECT tunnel too, not the proxy's; an IP literal sends none", async () => {
    const proxy = await startProxy();
    open.push(proxy);
    expect(await namesSent("https://rolesanywhere.test:{port}", proxy)).toEqual(["rolesanywhere.test"]);
    expect(await namesSent("https://rolesanywhere.test.:{port}", proxy)).toEqual(["rolesanywhere.test"]);
    expect(await namesSent("https://127.0.0.1:{port}", proxy)).toEqual([false]);
    expect(await namesSent("https://[::1]:{port}", proxy)).toEqual([false]);
    expect(proxy.tunnels.map((t) => t.authority.replace(/:\d+$/, ""))).toEqual(["rolesanywhere.test", "rolesanywhere.test.", "127.0.0.1", "[::1]"]);
  });
});
