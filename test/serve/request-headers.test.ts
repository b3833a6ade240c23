import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { serveHeaders, type ServeHeaders } from "../../src/serve/request-headers.js";

const NAMES: (keyof ServeHeaders)[] = [
  "host",
  "origin",
  "sec-fetch-site",
  "sec-fetch-dest",
  "sec-fetch-user",
  "authorization",
  "x-forwarded-for",
  "x-aws-ec2-metadata-token",
  "x-aws-ec2-metadata-token-ttl-seconds",
];

let server: Server;
let seen: (req: IncomingMessage) => void = () => {};

beforeAll(async () => {
  server = createServer((req, res) => {
    seen(req);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends `headerLines` as they are (case, order, repeats) and returns what serveHeaders and req.headers read. */
function exchange(headerLines: string[]): Promise<{ ours: ServeHeaders; node: IncomingMessage["headers"] }> {
  return new Promise((resolve, reject) => {
    seen = (req) => resolve({ ours: serveHeaders(req), node: req.headers });
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1", () => {
      socket.end(`GET / HTTP/1.1\r\n${headerLines.map((l) => `${l}\r\n`).join("")}Connection: close\r\n\r\n`);
    });
    socket.on("error", reject);
    socket.resume();
  });
}

describe("serveHeaders", () => {
  it.each([
    ["any case", ["HOST: 127.0.0.1:9911", "X-AWS-EC2-Metadata-Token: abc", "User-Agent: sdk", "Sec-Fetch-Mode: cors"]],
    ["browser headers", ["Host: 127.0.0.1:9911", "Origin: null", "sec-fetch-site: cross-site", "Sec-Fetch-Dest: empty", "Sec-Fetch-User: ?1"]],
    ["an empty value", ["Host: 127.0.0.1:9911", "Origin:", "X-Forwarded-For:"]],
    ["repeated Host (Node keeps the first)", ["Host: 127.0.0.1:9911", "host: rebind.example:9911"]],
    ["repeated Authorization (Node keeps the first)", ["Host: h", "Authorization: a", "authorization: b"]],
    ["a repeated token (Node joins them)", ["Host: h", "x-aws-ec2-metadata-token: a", "X-aws-ec2-metadata-token: b"]],
    ["a repeated TTL and X-Forwarded-For", ["Host: h", "x-aws-ec2-metadata-token-ttl-seconds: 1", "X-Forwarded-For: a", "x-aws-ec2-metadata-token-ttl-seconds: 2", "x-forwarded-for: b"]],
    ["names near the ones read", ["Host: h", "Hosts: x", "Origins: x", "Accept: x", "Authorisation: x", "x-aws-ec2-metadata-tokens: x", "constructor: x", "hasOwnProperty: x"]],
  ])("reads what req.headers would hold: %s", async (_case, lines) => {
    const { ours, node } = await exchange(lines);
    for (const name of NAMES) expect([name, ours[name]]).toEqual([name, node[name]]);
  });
});
