/**
 * A CreateSession endpoint on loopback that misbehaves on demand. In "ok" mode it forwards to the verifying
 * local endpoint (optionally shortening the credentials' lifetime so that refreshes happen within a test);
 * in every other mode it fails in one precise way and counts the requests it saw.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault =
  | "ok"
  | "close-before-headers" // the connection is cut as soon as the request has arrived
  | "close-after-headers" // status line and headers, a few body bytes, then the connection is cut
  | "truncated" // Content-Length larger than the body actually sent, then a clean close
  | "stall" // never answers
  | "stall-after-headers" // headers and a few body bytes, then nothing
  | "oversized" // a 201 body of 50 MB, chunked, no Content-Length
  | "oversized-declared" // Content-Length: 50 MB
  | "garbage" // 201 with an HTML page
  | "proxy-page" // 403 with an HTML page (a firewall or captive portal answering for the endpoint)
  | "leaky-garbage" // 201 with a JSON body that holds a secret key but no session token
  | "throttle" // 429 ThrottlingException with Retry-After
  | "wrong-date"; // 403 "Signature expired" with a Date header two hours behind

export const OVERSIZED_BYTES = 50 * 1024 * 1024;
/** The secret key in the "leaky-garbage" body: it must never reach an output. */
export const LEAKED_SECRET = "LeakedSecretKeyWJalrXUtnFEMI7K7MDENGbPxRfiCYEXAMPLE";
export const WRONG_DATE_OFFSET_MS = -2 * 3600_000;

export interface HostileEndpoint {
  readonly url: string;
  fault: Fault;
  /** Seconds sent in Retry-After with 429 answers ("throttle"); none when undefined. */
  retryAfterSeconds: number | undefined;
  /** When set, forwarded CreateSession answers expire this long after they pass. */
  lifetimeMs: number | undefined;
  /** Requests received since the last reset, whatever the fault. */
  readonly attempts: number;
  /** Arrival times (performance.now()) of those requests. */
  readonly arrivals: readonly number[];
  /** Bytes of the "oversized" bodies handed to the socket before the client went away (largest). */
  readonly oversizedBytesWritten: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startHostileEndpoint(upstream: string): Promise<HostileEndpoint> {
  const sockets = new Set<Socket>();
  const state = { arrivals: [] as number[], oversized: 0 };
  const endpoint: HostileEndpoint = {
    url: "",
    fault: "ok",
    retryAfterSeconds: undefined,
    lifetimeMs: undefined,
    get attempts() {
      return state.arrivals.length;
    },
    get arrivals() {
      return state.arrivals;
    },
    get oversizedBytesWritten() {
      return state.oversized;
    },
    reset() {
      state.arrivals = [];
      state.oversized = 0;
    },
    close: () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  };

  const server: Server = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on("data", (c: Buffer) => body.push(c));
    req.on("end", () => {
      state.arrivals.push(performance.now());
      misbehave(endpoint.fault, req, res, Buffer.concat(body));
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  function misbehave(fault: Fault, req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const json = { "content-type": "application/json" };
    switch (fault) {
      case "ok":
        return forward(req, res, body);
      case "close-before-headers":
        return void req.socket.destroy();
      case "close-after-headers":
        res.writeHead(201, json);
        res.write('{"credentialSet":[{"credentials":{"accessKeyId":"ASIA');
        setTimeout(() => req.socket.destroy(), 20);
        return;
      case "truncated":
        res.writeHead(201, { ...json, "content-length": "4000" });
        res.write('{"credentialSet":[{"credentials":{"accessKeyId":"ASIA');
        setTimeout(() => req.socket.end(), 20);
        return;
      case "stall":
        return;
      case "stall-after-headers":
        res.writeHead(201, { ...json, "content-length": "4000" });
        res.write('{"credentialSet":[');
        return;
      case "oversized":
        return streamOversized(res);
      case "oversized-declared":
        res.writeHead(201, { ...json, "content-length": String(OVERSIZED_BYTES) });
        res.write("{");
        return;
      case "garbage":
        res.writeHead(201, { "content-type": "text/html" }).end("<html><body>Welcome to the hotel Wi-Fi</body></html>");
        return;
      case "proxy-page":
        res.writeHead(403, { "content-type": "text/html" }).end("<html><body>Blocked by corporate policy</body></html>");
        return;
      case "leaky-garbage":
        res
          .writeHead(201, json)
          .end(JSON.stringify({ credentialSet: [{ credentials: { accessKeyId: "ASIALEAKY", secretAccessKey: LEAKED_SECRET, expiration: "2099-01-01T00:00:00Z" } }] }));
        return;
      case "throttle":
        res
          .writeHead(429, {
            ...json,
            "x-amzn-errortype": "ThrottlingException",
            ...(endpoint.retryAfterSeconds !== undefined ? { "retry-after": String(endpoint.retryAfterSeconds) } : {}),
          })
          .end('{"message":"Rate exceeded"}');
        return;
      case "wrong-date":
        res
          .writeHead(403, { ...json, "x-amzn-errortype": "AccessDeniedException", date: new Date(Date.now() + WRONG_DATE_OFFSET_MS).toUTCString() })
          .end('{"message":"Signature expired"}');
        return;
    }
  }

  function streamOversized(res: ServerResponse): void {
    res.writeHead(201, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let written = 0;
    let closed = false;
    res.on("close", () => {
      closed = true;
      state.oversized = Math.max(state.oversized, written);
    });
    const pump = () => {
      while (!closed && written < OVERSIZED_BYTES) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
      if (!closed) res.end();
    };
    pump();
  }

  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const upstreamReq = request(new URL(req.url ?? "/", upstream), { method: req.method, headers: req.headers }, (up) => {
      const parts: Buffer[] = [];
      up.on("data", (c: Buffer) => parts.push(c));
      up.on("end", () => {
        let text = Buffer.concat(parts).toString("utf8");
        if (endpoint.lifetimeMs !== undefined && up.statusCode === 201) {
          const doc = JSON.parse(text) as { credentialSet: { credentials: { expiration: string } }[] };
          const expiration = new Date(Date.now() + endpoint.lifetimeMs).toISOString().replace(/\.\d{3}Z$/, "Z");
          for (const set of doc.credentialSet) set.credentials.expiration = expiration;
          text = JSON.stringify(doc);
        }
        const headers = { ...up.headers, "content-length": String(Buffer.byteLength(text)) };
        delete headers["transfer-encoding"];
        res.writeHead(up.statusCode ?? 502, headers).end(text);
      });
    });
    upstreamReq.on("error", () => res.writeHead(502).end());
    upstreamReq.end(body);
  }

  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  (endpoint as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return endpoint;
}
