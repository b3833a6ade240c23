/**
 * The provider runs inside someone else's program: two providers at once, calls while one is pending, and close()
 * while a CreateSession is on the wire leave no handle or timer behind and no rejection unhandled.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../../src/local-endpoint/server.js";
import { fromRolesAnywhere } from "../../src/sdk/index.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { ARNS } from "../local-endpoint/support.js";

const { dir, cleanup } = makeTempDir("raa-sdk-concurrency-");
const ca = createCa(join(dir, "ca"), { name: "Concurrency CA" });
const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "device", keyType: "p256" });

let endpoint: LocalEndpoint;
beforeAll(async () => {
  endpoint = await startLocalEndpoint({ trustAnchors: ca.certPem, port: 0 });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

const options = () => ({ certificate: leaf.certPath, privateKey: leaf.keyPath, ...ARNS, endpoint: endpoint.url, env: {} });
const createSessions = () => endpoint.requests.filter((r) => r.operation === "CreateSession").length;
/** The process's active handles and requests by kind (the endpoint's own server included). */
const resources = () => process.getActiveResourcesInfo();
/** What `now` has more of than `before` (a multiset difference). */
const extra = (before: readonly string[], now: readonly string[]) => {
  const left = [...before];
  return now.filter((r) => (left.includes(r) ? (left.splice(left.indexOf(r), 1), false) : true));
};
/** The handles left once the sockets' closing has run its course (the local endpoint closes its side as it sees FIN). */
async function leftOver(before: readonly string[]): Promise<string[]> {
  for (let i = 0; i < 100 && extra(before, resources()).length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  return extra(before, resources());
}

describe("providers side by side", () => {
  it("two providers at once, three calls each while the first is pending: one CreateSession each, nothing left after close", async () => {
    const before = resources();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const sessions = createSessions();
      const [a, b] = [fromRolesAnywhere(options()), fromRolesAnywhere(options())];
      const got = await Promise.all([a(), a(), a({ forceRefresh: true }), b(), b(), b()]);
      expect(createSessions() - sessions).toBe(2);
      expect(new Set(got.slice(0, 3).map((c) => c.accessKeyId)).size).toBe(1);
      expect(new Set(got.map((c) => c.accessKeyId)).size).toBe(2);
      await Promise.all([a.close(), b.close()]);
      expect(await leftOver(before)).toEqual([]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("close() while the first call is pending (its key opening): that call is refused as closed, later calls are refused, nothing is left", async () => {
    const before = resources();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const provider = fromRolesAnywhere(options());
      const pending = provider().then(() => "credentials", (error: Error) => error.message);
      await provider.close();
      // Before: "arn:aws:iam::111122223333:role/ci/TestRole was closed (reloaded or removed): ask again", the agent's
      // words (AGENT_UNAVAILABLE), where asking again is refused.
      expect(["credentials", "this fromRolesAnywhere credential provider has been closed"]).toContain(await pending);
      await expect(provider()).rejects.toMatchObject({ code: "USAGE" });
      expect(await leftOver(before)).toEqual([]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
