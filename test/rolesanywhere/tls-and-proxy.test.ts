import { readFileSync, writeFileSync } from "node:fs";
import { createServer as createNetServer, type AddressInfo, type LookupFunction, type Server as NetServer, type Socket } from "node:net";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createSession } from "../../src/rolesanywhere/create-session.js";
import { refusalOf } from "../../src/rolesanywhere/retry.js";
import { parseEndpointUrl } from "../../src/rolesanywhere/endpoint.js";
import { createTransport, sendRequest } from "../../src/rolesanywhere/http-client.js";
import type { CreateSessionOptions } from "../../src/rolesanywhere/types.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import {
  closedPort,
  KeyFileSigner,
  loopbackLookup,
  sessionParams,
  startEndpoint,
  startProxy,
  successBody,
  verifyReceivedSignature,
  type ScriptedEndpoint,
  type TestProxy,
} from "./support.js";
import { failure } from "../helpers/agent-error.js";
import { timeoutsRunOut } from "../helpers/work-counted.js";

const { dir, cleanup } = makeTempDir("raa-tls-proxy-");
afterAll(cleanup);

const clientCa = createCa(join(dir, "client"), { name: "Client CA" });
const leaf = issueLeaf(clientCa, join(dir, "client"), { name: "client-leaf", keyType: "p256" });
const signer = new KeyFileSigner(leaf.keyPath, leaf.certPem);

const serverCa = createCa(join(dir, "server"), { name: "Endpoint Test Root CA" });
const serverExtensions = (san: string) => [
  "basicConstraints=critical,CA:FALSE",
  "keyUsage=critical,digitalSignature",
  "extendedKeyUsage=serverAuth",
  `subjectAltName=${san}`,
];
const serverCert = issueLeaf(serverCa, join(dir, "server"), { name: "endpoint", extensions: serverExtensions("DNS:rolesanywhere.test,IP:127.0.0.1") });
const dnsOnlyCert = issueLeaf(serverCa, join(dir, "server"), { name: "endpoint-dns-only", extensions: serverExtensions("DNS:rolesanywhere.test") });
const tlsFiles = (c: { keyPath: string; certPath: string }) => ({ key: readFileSync(c.keyPath, "utf8"), cert: readFileSync(c.certPath, "utf8") });

const ok = { status: 201, body: successBody() };
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function https(cert = serverCert): Promise<ScriptedEndpoint> {
  const server = await startEndpoint([ok], tlsFiles(cert));
  open.push(server);
  return server;
}

async function http(): Promise<ScriptedEndpoint> {
  const server = await startEndpoint([ok]);
  open.push(server);
  return server;
}

async function proxy(options?: Parameters<typeof startProxy>[0]): Promise<TestProxy> {
  const p = await startProxy(options);
  open.push(p);
  return p;
}

function options(extra: Partial<CreateSessionOptions>): CreateSessionOptions {
  return { env: {}, sleep: async () => {}, random: () => 0, ...extra };
}

describe("https", () => {
  it("trusts a private CA given with caBundle (on top of the default CAs)", async () => {
    const server = await https();
    const result = await createSession(signer, sessionParams(), options({ endpoint: server.url, caBundle: serverCa.certPath }));
    expect(result.credentials.accessKeyId).toBe("ASIAEXAMPLEEXAMPLE01");
    expect(verifyReceivedSignature(server.requests[0]!, leaf.certPem).ok).toBe(true);
  });

  it("a bundle mixing well-known roots with the private CA works (known roots are not parsed twice)", async () => {
    const server = await https();
    const mixed = join(dir, "mixed-bundle.pem");
    writeFileSync(mixed, [...rootCertificates.slice(0, 5), readFileSync(serverCa.certPath, "utf8"), ...rootCertificates.slice(5, 10)].join("\n"));
    const result = await createSession(signer, sessionParams(), options({ endpoint: server.url, caBundle: mixed }));
    expect(result.credentials.accessKeyId).toBe("ASIAEXAMPLEEXAMPLE01");
  });

  it("reads AWS_CA_BUNDLE when no caBundle is given", async () => {
    const server = await https();
    const result = await createSession(signer, sessionParams(), options({ endpoint: server.url, env: { AWS_CA_BUNDLE: serverCa.certPath } }));
    expect(result.requestId).toBeUndefined();
    expect(server.requests).toHaveLength(1);
  });

  it("fails without the CA, says why, points at --ca-bundle, and does not retry", async () => {
    const server = await https();
    const e = await failure(createSession(signer, sessionParams(), options({ endpoint: server.url })));
    expect(e.code).toBe("NETWORK_ERROR");
    expect(e.message).toMatch(new RegExp(`^the TLS certificate of endpoint ${server.url} is not trusted: .+ \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\)$`));
    expect(e.hint).toContain("--ca-bundle");
    expect(server.connections).toBe(1);
    expect(server.requests).toHaveLength(0);
  });

  it("a self-signed endpoint certificate is reported as such", async () => {
    const selfSigned = createCa(join(dir, "self"), { name: "self-signed endpoint" });
    const server = await startEndpoint([ok], tlsFiles(selfSigned));
    open.push(server);
    const e = await failure(createSession(signer, sessionParams(), options({ endpoint: server.url })));
    expect(e.message).toContain("self-signed certificate");
    expect(e.message).toContain("DEPTH_ZERO_SELF_SIGNED_CERT");
    expect(e.hint).toContain("--ca-bundle");
  });

  it("verifyTls=false connects anyway, and ignores a broken CA bundle setting", async () => {
    const server = await https();
    const result = await createSession(signer, sessionParams(), options({ endpoint: server.url, verifyTls: false, env: { AWS_CA_BUNDLE: "/nonexistent/ca.pem" } }));
    expect(result.credentials.sessionToken).toBeTruthy();
  });

  it("a certificate that does not name the host is refused", async () => {
    const server = await https(dnsOnlyCert);
    const e = await failure(createSession(signer, sessionParams(), options({ endpoint: server.url, caBundle: serverCa.certPath })));
    expect(e.code).toBe("NETWORK_ERROR");
    expect(e.message).toBe(`the TLS certificate of endpoint ${server.url} does not name 127.0.0.1`);
    expect(server.requests).toHaveLength(0);
  });

  it("https:// to a plain http server is a TLS handshake error with a hint", async () => {
    const server = await http();
    const e = await failure(createSession(signer, sessionParams(), options({ endpoint: server.url.replace("http:", "https:") })));
    expect(e.code).toBe("NETWORK_ERROR");
    expect(e.message).toMatch(/^TLS handshake with endpoint https:\/\/127\.0\.0\.1:\d+ failed: wrong version number$/);
    expect(e.hint).toContain("http://");
  });

  it("an endpoint that resets the connection during the TLS handshake fails at once, not at the connect timeout", async () => {
    const resetting = createNetServer((socket) => socket.once("data", () => socket.resetAndDestroy()));
    await new Promise<void>((resolve) => resetting.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `https://127.0.0.1:${(resetting.address() as AddressInfo).port}`;
      // A reset missed is a wait for the request's timeout (8 s): a TIMEOUT, and a timer run out.
      const settings = options({ endpoint, connectTimeoutMs: 5_000, timeoutMs: 8_000, maxAttempts: 1 });
      const { result: e, ranOut } = await timeoutsRunOut(1_000, () => failure(createSession(signer, sessionParams(), settings)));
      expect([e.code, e.message]).toEqual(["NETWORK_ERROR", `the connection to endpoint ${endpoint} was closed before the response was complete`]);
      expect(ranOut).toBe(0); // not the connect timeout's (nor the request's)
    } finally {
      resetting.close();
    }
  });

  it("CA bundle problems are input errors naming the file", async () => {
    const server = await https();
    let e = await failure(createSession(signer, sessionParams(), options({ endpoint: server.url, caBundle: join(dir, "missing.pem") })));
    expect(e).toMatchObject({ code: "FILE_NOT_FOUND", message: `CA bundle ${join(dir, "missing.pem")} does not exist` });

    const empty = join(dir, "empty.pem");
    writeFileSync(empty, "not a certificate\n");
    e = await failure(createSession(signer, sessionParams(), options({ endpoint: server.url, env: { AWS_CA_BUNDLE: empty } })));
    expect(e).toMatchObject({ code: "PEM_INVALID", message: `CA bundle (AWS_CA_BUNDLE) ${empty} contains no PEM certificate` });

    const broken = join(dir, "broken.pem");
    writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    e = await failure(createSession(signer, sessionParams(), options({ endpoint: server.url, caBundle: broken })));
    expect(e.code).toBe("PEM_INVALID");
    expect(server.connections).toBe(0);
  });

  it("an http endpoint never reads the CA bundle", async () => {
    const server = await http();
    await createSession(signer, sessionParams(), options({ endpoint: server.url, caBundle: join(dir, "missing.pem") }));
    expect(server.requests).toHaveLength(1);
  });
});

describe("proxies", () => {
  it("https goes through an HTTP CONNECT tunnel, with proxy credentials, and TLS is checked end to end", async () => {
    const server = await https();
    const p = await proxy({ requireAuthorization: `Basic ${Buffer.from("alice:s3:cr@t").toString("base64")}` });
    const endpoint = `https://rolesanywhere.test:${server.port}`;
    const lines: string[] = [];
    const result = await createSession(
      signer,
      sessionParams(),
      options({ endpoint, caBundle: serverCa.certPath, env: { HTTPS_PROXY: `http://alice:s3%3Acr%40t@127.0.0.1:${p.port}` }, debug: (l) => lines.push(l) }),
    );
    expect(result.credentials.accessKeyId).toBe("ASIAEXAMPLEEXAMPLE01");
    expect(p.tunnels).toEqual([{ authority: `rolesanywhere.test:${server.port}`, authorization: `Basic ${Buffer.from("alice:s3:cr@t").toString("base64")}` }]);
    expect(server.requests[0]!.headers["host"]).toBe(`rolesanywhere.test:${server.port}`);
    expect(server.requests[0]!.headers["proxy-authorization"]).toBeUndefined();
    expect(verifyReceivedSignature(server.requests[0]!, leaf.certPem).ok).toBe(true);
    expect(lines.join("\n")).toContain(`through proxy http://127.0.0.1:${p.port} (HTTPS_PROXY)`);
    expect(lines.join("\n")).not.toContain("s3%3Acr");
  });

  it("a proxy that wants a login is NETWORK_ERROR with a hint, not retried", async () => {
    const server = await https();
    const p = await proxy({ requireAuthorization: "Basic x" });
    const e = await failure(
      createSession(signer, sessionParams(), options({ endpoint: `https://rolesanywhere.test:${server.port}`, caBundle: serverCa.certPath, env: { https_proxy: `127.0.0.1:${p.port}` } })),
    );
    expect(e.code).toBe("NETWORK_ERROR");
    expect(e.message).toBe(`proxy http://127.0.0.1:${p.port} (https_proxy) refused the tunnel: 407 Proxy Authentication Required`);
    expect(e.hint).toContain("http://user:password@host:port");
    expect(p.tunnels).toHaveLength(1);
    // The refresh engine paces it as an answer from something in front of the service (ceiling up to 5 minutes):
    // neither every ~30 s forever, nor an hour after the proxy's login is fixed.
    expect(refusalOf(e)).toBe("blocked");
  });

  it("a proxy that accepts the connection but never answers CONNECT times out naming the proxy; one that hangs up is retried", async () => {
    const silent = createNetServer(() => {});
    const hangUp = createNetServer((socket) => socket.once("data", () => socket.end()));
    for (const s of [silent, hangUp]) await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const portOf = (s: NetServer) => (s.address() as AddressInfo).port;
    try {
      const endpoint = "https://rolesanywhere.test:443";
      const timedOut = await failure(
        createSession(signer, sessionParams(), options({ endpoint, connectTimeoutMs: 150, maxAttempts: 1, env: { HTTPS_PROXY: `http://127.0.0.1:${portOf(silent)}` } })),
      );
      expect([timedOut.code, timedOut.message]).toEqual(["TIMEOUT", `could not connect to proxy http://127.0.0.1:${portOf(silent)} (HTTPS_PROXY) within 0.15 s`]);
      expect(timedOut.hint).toContain("HTTPS_PROXY, NO_PROXY");
      const closed = await failure(createSession(signer, sessionParams(), options({ endpoint, env: { HTTPS_PROXY: `http://127.0.0.1:${portOf(hangUp)}` } })));
      expect(closed.message).toBe(`the connection to proxy http://127.0.0.1:${portOf(hangUp)} (HTTPS_PROXY) was closed before the response was complete (after 3 attempts)`);
    } finally {
      for (const s of [silent, hangUp]) s.close();
    }
  });

  it("a proxy whose 200 to CONNECT is followed by bytes that are not TLS: one TLS error, not a runaway buffer", async () => {
    // Before the fix the bytes after the answer were pushed back while still listened to: they came back, doubled,
    // until a RangeError (6 GB) crashed the process.
    const garbage = createNetServer((socket) => socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\n\r\nthis is not TLS\r\n")));
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve));
    try {
      const env = { HTTPS_PROXY: `http://127.0.0.1:${(garbage.address() as AddressInfo).port}` };
      const e = await failure(createSession(signer, sessionParams(), options({ endpoint: "https://rolesanywhere.test", maxAttempts: 1, timeoutMs: 5_000, env })));
      expect([e.code, e.message]).toEqual(["NETWORK_ERROR", expect.stringMatching(/^TLS handshake with endpoint https:\/\/rolesanywhere.test failed: /)]);
    } finally {
      garbage.close();
    }
  });

  it("a CONNECT answer of endless header lines is refused at 16 KB, not buffered until the timeout", async () => {
    // The proxy keeps the connection open and never ends the header: only the size check ends the wait.
    const line = Buffer.from(`X-Filler: ${"a".repeat(1_000)}\r\n`, "latin1");
    const endless = createNetServer((socket) =>
      socket.once("data", () => {
        socket.write("HTTP/1.1 200 OK\r\n");
        for (let i = 0; i < 40; i++) socket.write(line);
      }),
    );
    const sockets: Socket[] = [];
    endless.on("connection", (socket) => sockets.push(socket.on("error", () => {})));
    await new Promise<void>((resolve) => endless.listen(0, "127.0.0.1", resolve));
    try {
      const port = (endless.address() as AddressInfo).port;
      const env = { HTTPS_PROXY: `http://127.0.0.1:${port}` };
      // Without the size check the answer is never refused: the connect timeout (5 s) ends the try, the request's (8 s)
      // the wait, with a TIMEOUT and a timer run out.
      const settings = options({ endpoint: "https://rolesanywhere.test", connectTimeoutMs: 5_000, timeoutMs: 8_000, env });
      const { result: e, ranOut } = await timeoutsRunOut(1_000, () => failure(createSession(signer, sessionParams(), settings)));
      expect([e.code, e.message]).toEqual([
        "NETWORK_ERROR",
        `proxy http://127.0.0.1:${port} (HTTPS_PROXY) sent an oversized answer to CONNECT`,
      ]);
      expect(e.hint).toBe("check HTTPS_PROXY");
      expect(ranOut).toBe(0); // no timeout ended it
      expect(sockets).toHaveLength(1); // not retried
    } finally {
      for (const socket of sockets) socket.destroy();
      endless.close();
    }
  });

  it("a proxy's refusal is quoted as printable text: no escape sequences, C1 controls or bidi overrides reach the terminal", async () => {
    const line = Buffer.from("HTTP/1.1 403 Forbidden \x1b[2J\x1b[31mPWNED\x9b31m\r\n\r\n", "latin1");
    const hostile = createNetServer((socket) => socket.once("data", () => socket.end(line)));
    await new Promise<void>((resolve) => hostile.listen(0, "127.0.0.1", resolve));
    try {
      const port = (hostile.address() as AddressInfo).port;
      const e = await failure(createSession(signer, sessionParams(), options({ endpoint: "https://rolesanywhere.test", env: { HTTPS_PROXY: `http://127.0.0.1:${port}` } })));
      expect(e.message).toBe(`proxy http://127.0.0.1:${port} (HTTPS_PROXY) refused the tunnel: 403 Forbidden [2J [31mPWNED 31m`);
    } finally {
      hostile.close();
    }
  });

  it("a proxy that is down is retried, then named", async () => {
    const server = await https();
    const port = await closedPort();
    const e = await failure(
      createSession(signer, sessionParams(), options({ endpoint: `https://rolesanywhere.test:${server.port}`, env: { HTTPS_PROXY: `http://127.0.0.1:${port}` } })),
    );
    expect(e.message).toBe(`cannot connect to proxy http://127.0.0.1:${port} (HTTPS_PROXY): connection refused (after 3 attempts)`);
    expect(e.hint).toContain("NO_PROXY");
  });

  it("plain http goes through the proxy as an absolute-URI request, and the signature still verifies", async () => {
    const server = await http();
    const p = await proxy({ requireAuthorization: `Basic ${Buffer.from("bob:pw").toString("base64")}` });
    const endpoint = `http://rolesanywhere.test:${server.port}/gw`;
    await createSession(signer, sessionParams(), options({ endpoint, env: { http_proxy: `http://bob:pw@127.0.0.1:${p.port}` } }));
    expect(p.forwarded).toHaveLength(1);
    expect(p.forwarded[0]!.url.startsWith(`http://rolesanywhere.test:${server.port}/gw/sessions?profileArn=`)).toBe(true);
    expect(p.forwarded[0]!.authorization).toBe(`Basic ${Buffer.from("bob:pw").toString("base64")}`);
    const received = server.requests[0]!;
    expect(received.url.startsWith("/gw/sessions?")).toBe(true);
    expect(received.headers["host"]).toBe(`rolesanywhere.test:${server.port}`);
    expect(verifyReceivedSignature(received, leaf.certPem)).toMatchObject({ ok: true, path: "/gw/sessions" });
  });

  it("HTTPS_PROXY is not used for http endpoints, nor any proxy for loopback", async () => {
    const server = await http();
    const p = await proxy();
    await createSession(signer, sessionParams(), options({ endpoint: server.url, env: { HTTP_PROXY: p.url, HTTPS_PROXY: p.url } }));
    expect(server.requests).toHaveLength(1);
    expect(p.forwarded.length + p.tunnels.length).toBe(0);
  });

  it("NO_PROXY sends matching hosts directly", async () => {
    const server = await http();
    const p = await proxy();
    const endpoint = parseEndpointUrl(`http://api.rolesanywhere.test:${server.port}`);
    for (const noProxy of ["rolesanywhere.test", ".rolesanywhere.test", `api.rolesanywhere.test:${server.port}`, "*"]) {
      const transport = await createTransport(endpoint, { env: { HTTP_PROXY: p.url, NO_PROXY: `example.com, ${noProxy}` }, lookup: loopbackLookup });
      expect(transport.proxy).toBeUndefined();
      const response = await sendRequest(transport, { method: "POST", path: "/sessions", headers: { Host: endpoint.host }, body: "{}" }, new AbortController().signal);
      expect(response.status).toBe(201);
    }
    expect(server.requests).toHaveLength(4);
    expect(p.forwarded).toHaveLength(0);

    const proxied = await createTransport(endpoint, { env: { HTTP_PROXY: p.url, no_proxy: "other.test" } });
    expect(proxied.proxy?.display).toBe(p.url);
    await sendRequest(proxied, { method: "POST", path: "/sessions", headers: { Host: endpoint.host }, body: "{}" }, new AbortController().signal);
    expect(p.forwarded).toHaveLength(1);
  });

  // Another address than the 127.0.0.1 the name means (loopback still: tests talk to nothing else), where a DNS answer
  // could send the request.
  const elsewhere = "127.0.0.2";
  it("*.localhost is loopback (RFC 6761 §6.3), whatever the resolver answers: skipped by the proxy, never sent elsewhere", async () => {
    const server = await http();
    const decoy = createNetServer((socket) => socket.once("data", (data) => (received.push(data.toString("latin1")), socket.destroy())));
    const received: string[] = [];
    await new Promise<void>((resolve) => decoy.listen(server.port, elsewhere, resolve));
    open.push({ close: () => new Promise<void>((resolve) => decoy.close(() => resolve())) });
    const asked: string[] = [];
    // The resolver (DNS) answering for the name: before, its answer was used and the request went to the decoy.
    const resolver = ((hostname: string, _options: unknown, callback: (e: null, a: unknown, f?: number) => void) => {
      asked.push(hostname);
      callback(null, [{ address: elsewhere, family: 4 }], 4);
    }) as unknown as LookupFunction;
    const p = await proxy();
    for (const name of ["ra.localhost", "RA.Localhost.", "localhost"]) {
      const endpoint = parseEndpointUrl(`http://${name}:${server.port}`);
      const transport = await createTransport(endpoint, { env: { HTTP_PROXY: p.url }, lookup: resolver });
      expect(transport.proxy).toBeUndefined();
      const response = await sendRequest(transport, { method: "POST", path: "/sessions", headers: { Host: endpoint.host }, body: "{}" }, new AbortController().signal);
      expect(response.status, name).toBe(201);
    }
    expect(received).toEqual([]);
    expect(asked).toEqual([]);
    expect(server.requests).toHaveLength(3);
    expect(p.forwarded.length + p.tunnels.length).toBe(0);
  });
});
