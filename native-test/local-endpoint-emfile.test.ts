/**
 * `local-endpoint` out of file descriptors: its server has no 'error' listener once it listens, so an accept error
 * (EMFILE) emitted there would end the process. libuv does not emit it: it closes the connections it cannot take
 * (its reserve descriptor) and goes on. This pins that the shipped CLI, under `ulimit -n 64`, survives 400
 * connections held open at once and answers the next request.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it, vi } from "vitest";
import { createCa, makeTempDir } from "../test/helpers/pki.js";
import { DIST_CLI } from "./helpers/run-cli.js";

const { dir, cleanup } = makeTempDir("raa-endpoint-emfile-");
afterAll(cleanup);

describe("local-endpoint under a low open-file limit", () => {
  it("closes the connections it cannot accept (EMFILE), keeps running and answers once they are gone", async () => {
    const ca = createCa(dir, { name: "EMFILE CA" });
    const env = { ...process.env, CI: "true" };
    const script = `ulimit -n 64 && exec "$0" "$@"`;
    const child = spawn("sh", ["-c", script, process.execPath, DIST_CLI, "local-endpoint", "--trust-anchors", ca.certPath, "--port", "0"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const sockets: Socket[] = [];
    try {
      const exited = once(child, "exit").then(() => Promise.reject(new Error(`local-endpoint ended: ${stderr}`)));
      exited.catch(() => {}); // after the race: the kill below ends it too
      const [url] = (await Promise.race([once(createInterface({ input: child.stdout }), "line"), exited])) as [string];
      const { hostname, port } = new URL(url);
      let closedByServer = 0;
      for (let i = 0; i < 400; i++) {
        const socket = connect(Number(port), hostname);
        socket.on("error", () => {});
        socket.on("close", () => closedByServer++);
        sockets.push(socket);
      }
      // Held open, the first few take the descriptors; the rest are accepted and closed at once.
      await vi.waitFor(() => expect(closedByServer).toBeGreaterThan(200), { timeout: 30_000, interval: 50 });
      for (const socket of sockets) socket.destroy();
      expect(child.exitCode).toBeNull();
      const response = await vi.waitFor(() => fetch(`${url}/sessions`, { method: "POST" }), { timeout: 30_000, interval: 100 });
      expect(response.status).toBe(403);
      expect(child.exitCode).toBeNull();
      expect(stderr).not.toMatch(/EMFILE|internal error|Error:/);
    } finally {
      for (const socket of sockets) socket.destroy();
      child.kill();
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  }, 90_000);
});
