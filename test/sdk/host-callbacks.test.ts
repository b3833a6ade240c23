/**
 * The callbacks a host program hands the library's entry points (createSigner's `debug` and `onDeviceWait`,
 * createSession's `debug`, startLocalEndpoint's `onRequest`) cannot break its work or the host: before, a `debug`
 * that threw ended createSigner and createSession with the host's own Error (no code), and an async one that
 * rejected, or an async `onRequest`, left an unhandled rejection per line, which ends a Node.js program.
 * fromRolesAnywhere did this already (debug-log.ts, dropFailures).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSigner, createSession, startLocalEndpoint } from "../../src/index.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { sessionParams } from "../rolesanywhere/support.js";

const { dir, cleanup } = makeTempDir("raa-host-callbacks-");
afterAll(cleanup);
const ca = createCa(dir, { name: "Host Callbacks CA" });
const leaf = issueLeaf(ca, dir, { name: "host-callbacks-device", keyType: "p256" });

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => void process.on("unhandledRejection", onUnhandled));
afterEach(() => void process.off("unhandledRejection", onUnhandled));

const callbacks = {
  "throws": () => {
    throw new Error("the host's callback throws");
  },
  "returns a rejected promise": async () => {
    throw new Error("the host's callback rejects");
  },
};

describe.each(Object.entries(callbacks))("a host callback that %s", (_, callback) => {
  it("createSigner, createSession and the local endpoint carry on; nothing is left unhandled", async () => {
    unhandled.length = 0;
    const endpoint = await startLocalEndpoint({ trustAnchors: ca.certPath, port: 0, onRequest: callback });
    try {
      const signer = await createSigner({ certificate: leaf.certPath, privateKey: leaf.keyPath, debug: callback });
      try {
        const { credentials } = await createSession(signer, sessionParams(), { endpoint: endpoint.url, debug: callback });
        expect(credentials.accessKeyId).toMatch(/^ASIA/);
      } finally {
        await signer.close();
      }
    } finally {
      await endpoint.close();
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  });
});
