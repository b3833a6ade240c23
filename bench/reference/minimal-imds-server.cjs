// The least a Node HTTP server answering IMDS credential requests costs: node:http, one fixed JSON document of
// the same size as serve's, no token check, no routing, no options. A reference for bench/serve.mjs only.
// Usage: node minimal-imds-server.cjs   (prints the port it listens on, on 127.0.0.1)
const body = `${JSON.stringify({
  AccessKeyId: "ASIAXXXXXXXXXXXXXXXX",
  SecretAccessKey: "x".repeat(40),
  Token: "x".repeat(Number(process.argv[2] ?? 128)),
  Code: "Success",
  Type: "AWS-HMAC",
  Expiration: "2026-01-01T00:00:00Z",
  LastUpdated: "2026-01-01T00:00:00Z",
})}\n`;
const server = require("node:http").createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
