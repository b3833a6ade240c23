/**
 * The local endpoint keeps its last 1000 requests: a path (the request target may be 128 KiB) is cut (at a log line's
 * length), or a loopback client holds 128 MiB of it in the endpoint's memory.
 */
import { request } from "node:http";
import { afterAll, expect, it } from "vitest";
import { MAX_LOG_LINE } from "../../src/errors.js";
import { startLocalEndpoint } from "../../src/local-endpoint/server.js";
import { createCa, makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-local-log-bound-");
afterAll(cleanup);

it("a request log entry's path is cut at MAX_LOG_LINE with …; a short one is kept whole", async () => {
  const endpoint = await startLocalEndpoint({ trustAnchors: createCa(dir, { name: "Bound CA" }).certPath, host: "127.0.0.1" });
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: endpoint.port, path, method: "GET" }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode!));
      });
      req.on("error", reject);
      req.end();
    });
  try {
    await get(`/${"a".repeat(100_000)}?q=1`);
    await get("/nothing-here");
    const [long, short] = endpoint.requests.slice(-2);
    expect(long!.path).toBe(`/${"a".repeat(MAX_LOG_LINE - 1)}…`);
    expect(short!.path).toBe("/nothing-here");
  } finally {
    await endpoint.close();
  }
});
