/**
 * serve's guard against requests that make Node work for many while other connections wait (stopCostlyRequests,
 * src/serve/connection-caps.ts). It hooks the parser of Node's HTTP server, which is not a public API: the test
 * command runs this file under each supported Node.js (20, 22, 24), so that a Node that changed it fails here.
 */
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopCostlyRequests } from "../src/serve/connection-caps.js";

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((_req, res) => res.end("ok\n"));
  stopCostlyRequests(server, "connection");
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends each of `writes` once the answers to the previous one came in; resolves with all that came back. */
function exchange(writes: string[], answersPerWrite = 1): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    let sent = 0;
    const next = () => (sent < writes.length && socket.writable ? socket.write(writes[sent++]!) : socket.end());
    socket.on("connect", next);
    socket.on("data", (data) => {
      received += data.toString("latin1");
      if ((received.match(/^HTTP\/1\.1 /gm) ?? []).length === sent * answersPerWrite) next();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}

const GET = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
/** A request of `n` header lines (Host first), `rest` among them. */
const many = (n: number, rest = "") => `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${Array.from({ length: n - 1 }, (_, i) => `X-${i}: v\r\n`).join("")}${rest}\r\n`;
const statuses = (text: string) => [...text.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => Number(m[1]));

describe(`serve's costly-request guard under Node.js ${process.versions.node}`, () => {
  it("100 pipelined requests in one write: one answer, then the connection is closed", async () => {
    expect(statuses(await exchange([GET.repeat(100)], 100))).toEqual([200]);
  });

  it("a chunked body, a Content-Length body: 400 at the headers, closed", async () => {
    const requests = [
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n",
      "PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n\r\na",
    ];
    for (const request of requests) expect(statuses(await exchange([request, GET])), request.slice(0, 40)).toEqual([400]);
  });

  it("64 header lines or more: 431 on every Node (22 and later say it in their parser, before serve's hook), closed", async () => {
    for (const n of [64, 65, 100, 1000]) {
      const received = await exchange([many(n), GET]);
      expect(statuses(received), `${n} headers`).toEqual([431]);
      expect(received, `${n} headers`).toMatch(/^HTTP\/1\.1 431 [^\r\n]*\r\n(?:[^\r\n]+\r\n)*Connection: close\r\n/i); // the client learns it is closed
    }
    // With a body too: the header count is refused first, as Node 22's parser does.
    expect(statuses(await exchange([many(64, "Content-Length: 1\r\n") + "a", GET]))).toEqual([431]);
    // After a request in the same write, answered at once: its answer, then the 431.
    expect(statuses(await exchange([GET + many(64)], 2))).toEqual([200, 431]);
  });

  it("64 header lines while an answer is half sent on the connection: nothing written into it, closed (as Node 22's parser)", async () => {
    const halfAnswering = createServer((_req, res) => void res.writeHead(200).write("partial\n"));
    stopCostlyRequests(halfAnswering, "connection");
    await new Promise<void>((resolve) => halfAnswering.listen(0, "127.0.0.1", resolve));
    try {
      const received = await new Promise<string>((resolve, reject) => {
        const socket = connect((halfAnswering.address() as AddressInfo).port, "127.0.0.1", () => socket.write(GET));
        let text = "";
        socket.on("data", (data) => {
          const before = text.includes("partial");
          text += data.toString("latin1");
          if (!before && text.includes("partial")) socket.write(many(64));
        });
        socket.on("error", reject).on("close", () => resolve(text));
      });
      expect([statuses(received), received.includes("431")]).toEqual([[200], false]);
    } finally {
      halfAnswering.closeAllConnections();
      await new Promise((resolve) => halfAnswering.close(resolve));
    }
  });

  it("control: 20 requests on one kept-alive connection, each after the previous answer; Content-Length: 0 and 63 headers", async () => {
    expect(statuses(await exchange(Array.from({ length: 20 }, () => GET)))).toEqual(Array.from({ length: 20 }, () => 200));
    const empty = "PUT / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
    const headers = `GET / HTTP/1.1\r\n${Array.from({ length: 62 }, (_, i) => `X-${i}: v\r\n`).join("")}Host: 127.0.0.1\r\n\r\n`;
    expect(statuses(await exchange([empty, headers]))).toEqual([200, 200]);
  });
});
