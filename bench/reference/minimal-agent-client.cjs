// The least a Node program can do to fetch credentials from the agent: node:net, one hand-written HTTP
// request, the body printed. A reference for bench/agent.mjs only.
// Usage: node minimal-agent-client.cjs SOCKET PROFILE
const [socketPath, profile] = process.argv.slice(2);
const socket = require("node:net").createConnection({ path: socketPath });
const chunks = [];
socket.on("connect", () => socket.write(`GET /v1/credentials/${encodeURIComponent(profile)} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n`));
socket.on("data", (chunk) => chunks.push(chunk));
socket.on("end", () => {
  const text = Buffer.concat(chunks).toString("utf8");
  require("node:fs").writeSync(1, text.slice(text.indexOf("\r\n\r\n") + 4));
  process.exitCode = text.startsWith("HTTP/1.1 200") ? 0 : 1;
});
