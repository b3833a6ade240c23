/**
 * Test support for the CreateSession client: a Signer over a node:crypto key, scripted loopback
 * endpoints (http and https), an independent SigV4-X509 verifier and a tiny HTTP/CONNECT proxy.
 */
import { createHash, createPrivateKey, sign as cryptoSign, verify as cryptoVerify, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import type { CreateSessionParams } from "../../src/rolesanywhere/types.js";
import type { Signer } from "../../src/signers/signer.js";
import { Certificate, type KeyType } from "../../src/x509/certificate.js";

/** A Signer over a private key file and certificate, for unit tests (no PKCS#11, no TPM). */
export class KeyFileSigner implements Signer {
  readonly backend = "file" as const;
  readonly keyType: KeyType;
  readonly #key: KeyObject;
  readonly #certificate: Certificate | undefined;
  readonly #chain: Certificate[];
  signCalls = 0;

  constructor(keyPath: string, certPem: string | undefined, chainPems: string[] = []) {
    this.#key = createPrivateKey(readFileSync(keyPath));
    this.keyType = this.#key.asymmetricKeyType === "rsa" ? "RSA" : "EC";
    this.#certificate = certPem ? new Certificate(new X509Certificate(certPem).raw) : undefined;
    this.#chain = chainPems.map((pem) => new Certificate(new X509Certificate(pem).raw));
  }

  async certificate(): Promise<Certificate | undefined> {
    return this.#certificate;
  }

  async certificateChain(): Promise<Certificate[]> {
    return this.#chain;
  }

  async publicKey(): Promise<KeyObject | undefined> {
    return this.#certificate?.publicKey;
  }

  async sign(message: Uint8Array): Promise<Buffer> {
    this.signCalls++;
    return cryptoSign("sha256", message, this.#key);
  }

  async close(): Promise<void> {}
}

export const TRUST_ANCHOR = "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/4f3b3a2e-1111-2222-3333-444455556666";
export const PROFILE = "arn:aws:rolesanywhere:us-east-1:000000000000:profile/0a1b2c3d-1111-2222-3333-444455556666";
export const ROLE = "arn:aws:iam::000000000000:role/test-role";

export function sessionParams(overrides: Partial<Record<keyof CreateSessionParams, unknown>> = {}): CreateSessionParams {
  const merged = { trustAnchorArn: TRUST_ANCHOR, profileArn: PROFILE, roleArn: ROLE, durationSeconds: 3600, ...overrides } as Record<string, unknown>;
  return {
    ...merged,
    trustAnchorArn: parseTrustAnchorArn(merged["trustAnchorArn"] as string),
    profileArn: parseProfileArn(merged["profileArn"] as string),
    roleArn: parseRoleArn(merged["roleArn"] as string),
  } as CreateSessionParams;
}

export const SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEYX";
export const SESSION_TOKEN = "FwoGZXIvYXdzSESSIONTOKENVALUEdGhpcyBpcyBhIHRlc3Q=";

export function successBody(overrides: { expiration?: string } = {}): string {
  return JSON.stringify({
    credentialSet: [
      {
        assumedRoleUser: { arn: "arn:aws:sts::000000000000:assumed-role/test-role/abc", assumedRoleId: "AROAEXAMPLE:abc" },
        credentials: {
          accessKeyId: "ASIAEXAMPLEEXAMPLE01",
          expiration: overrides.expiration ?? "2030-01-01T00:00:00Z",
          secretAccessKey: SECRET_ACCESS_KEY,
          sessionToken: SESSION_TOKEN,
        },
        packedPolicySize: 0,
        roleArn: ROLE,
        sourceIdentity: "CN=leaf",
      },
    ],
    subjectArn: "arn:aws:rolesanywhere:us-east-1:000000000000:subject/9f8e7d6c",
  });
}

export interface ReceivedRequest {
  method: string;
  /** The request target exactly as received (origin form, or absolute form through a proxy). */
  url: string;
  headers: IncomingMessage["headers"];
  rawHeaders: string[];
  body: string;
}

/** What a scripted endpoint does with one request. */
export type Reply =
  | { status: number; body?: string; headers?: Record<string, string> }
  | ((req: IncomingMessage, res: ServerResponse, body: string) => void);

export interface ScriptedEndpoint {
  /** `http(s)://127.0.0.1:port`. */
  readonly url: string;
  readonly port: number;
  readonly requests: ReceivedRequest[];
  /** TCP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

/**
 * A loopback endpoint answering requests from `replies` in order (the last one repeats).
 * With `tls`, it is an https server with that key and certificate.
 */
export async function startEndpoint(replies: Reply[], tls?: { key: string; cert: string }): Promise<ScriptedEndpoint> {
  const requests: ReceivedRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body });
      const reply = replies[Math.min(requests.length - 1, replies.length - 1)]!;
      if (typeof reply === "function") return reply(req, res, body);
      res.writeHead(reply.status, { "Content-Type": "application/json", ...reply.headers });
      res.end(reply.body ?? "");
    });
  };
  const server: Server = tls ? createHttpsServer({ key: tls.key, cert: tls.cert }, handler) : createHttpServer(handler);
  const sockets = new Set<Socket>();
  const endpoint = { requests, connections: 0 } as { requests: ReceivedRequest[]; connections: number };
  server.on("connection", (socket: Socket) => {
    endpoint.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(endpoint, {
    url: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}

/** A TCP server that accepts connections and never says a word (hangs TLS handshakes and HTTP). */
export async function startSilentServer(): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createNetServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface TestProxy {
  readonly url: string;
  readonly port: number;
  /** CONNECT authorities and absolute-URI targets seen, with their Proxy-Authorization. */
  readonly tunnels: Array<{ authority: string; authorization: string | undefined }>;
  readonly forwarded: Array<{ url: string; authorization: string | undefined }>;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy: CONNECT tunnels and absolute-URI forwarding, where every host name leads to
 * 127.0.0.1 (so a request for `rolesanywhere.test` only arrives when it went through the proxy).
 * With `requireAuthorization`, other credentials get a 407.
 */
export async function startProxy(options: { requireAuthorization?: string } = {}): Promise<TestProxy> {
  const tunnels: TestProxy["tunnels"] = [];
  const forwarded: TestProxy["forwarded"] = [];
  const sockets = new Set<Socket>();
  const authorized = (value: string | undefined) => !options.requireAuthorization || value === options.requireAuthorization;

  const server = createHttpServer((req, res) => {
    const authorization = req.headers["proxy-authorization"];
    forwarded.push({ url: req.url ?? "", authorization });
    if (!authorized(authorization)) {
      res.writeHead(407, { "Proxy-Authenticate": 'Basic realm="test"' });
      return res.end();
    }
    const target = new URL(req.url ?? "");
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    const upstream = httpRequest(
      { host: "127.0.0.1", port: Number(target.port || 80), method: req.method, path: `${target.pathname}${target.search}`, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const authorization = req.headers["proxy-authorization"];
    tunnels.push({ authority: req.url ?? "", authorization });
    client.on("error", () => {});
    if (!authorized(authorization)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const port = Number((req.url ?? "").split(":").pop());
    const upstream = netConnect(port, "127.0.0.1", () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    tunnels,
    forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Maps every host name to 127.0.0.1 (for requests that bypass the proxy). */
export const loopbackLookup = ((_hostname: string, options: unknown, callback?: unknown) => {
  const cb = (typeof options === "function" ? options : callback) as (err: Error | null, address: unknown, family?: number) => void;
  const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all;
  if (all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
  else cb(null, "127.0.0.1", 4);
}) as unknown as import("node:net").LookupFunction;

/**
 * Verifies a received SigV4-X509 request without the project's signing code: rebuilds the canonical
 * request from what arrived on the wire and checks the signature with the certificate's public key.
 * Returns the parts for assertions.
 */
export function verifyReceivedSignature(received: ReceivedRequest, certPem: string, region = "us-east-1") {
  const auth = String(received.headers["authorization"]);
  const m = /^(AWS4-X509-(?:RSA|ECDSA)-SHA256) Credential=(\d+)\/(\d{8})\/([^/]+)\/rolesanywhere\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]+)$/.exec(auth);
  if (!m) throw new Error(`unexpected Authorization header: ${auth}`);
  const [, algorithm, serial, day, scopeRegion, signedHeaders, signature] = m as unknown as string[];
  const target = received.url.replace(/^https?:\/\/[^/]+/, "");
  const [path, query = ""] = target.split("?") as [string, string?];
  const canonicalHeaders = signedHeaders!
    .split(";")
    .map((name) => `${name}:${String(received.headers[name]).trim().replace(/ +/g, " ")}\n`)
    .join("");
  // The client sends the query already in canonical form (sorted keys, RFC 3986 encoding).
  const canonical = ["POST", path, query, canonicalHeaders, signedHeaders, createHash("sha256").update(received.body).digest("hex")].join("\n");
  const amzDate = String(received.headers["x-amz-date"]);
  const stringToSign = [algorithm, amzDate, `${day}/${scopeRegion}/rolesanywhere/aws4_request`, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const cert = new X509Certificate(certPem);
  const ok = cryptoVerify("sha256", Buffer.from(stringToSign), cert.publicKey, Buffer.from(signature!, "hex"));
  return { ok, algorithm, serial, day, region: scopeRegion, signedHeaders, amzDate, path, query, canonical, expectedRegion: region };
}
