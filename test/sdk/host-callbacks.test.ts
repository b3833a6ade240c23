/**
 * The callbacks a host program hands the library's entry points (createSigner's `debug` and `onDeviceWait`,
 * createSession's `debug`, startLocalEndpoint's `onRequest`) cannot break its work or the host: before, a `debug`
 * that threw ended createSigner and createSession with the host's own Error (no code), and an async one that
 * rejected, or an async `onRequest`, left an unhandled rejection per line, which ends a Node.js program.
 * fromRolesAnywhere did this already (debug-log.ts, dropFailures). createTpmSigner and generateTpmKey (here, over a
 * scripted TPM) and the PKCS#11 entries (test/signers/pkcs11/hostile-module.test.ts) passed `debug` on unguarded.
 */
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TpmTransport } from "../../src/tpm/transport/transport.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { ReadPublic } from "../../src/tpm/wire/commands.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";
import { objectName } from "../../src/tpm/keys/public-area.js";
import { errorResponse, ScriptedTransport } from "../tpm/fake-transport.js";
import { eccSigningPublic } from "../helpers/tpm-public.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { sessionParams } from "../rolesanywhere/support.js";

/** The TPM the next openTpmTransport() hands out (the real one when none is set). */
let scriptedTpm: TpmTransport | undefined;
vi.mock("../../src/tpm/transport/open-transport.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/tpm/transport/open-transport.js")>();
  return { ...real, openTpmTransport: (...args: Parameters<typeof real.openTpmTransport>) => scriptedTpm ?? real.openTpmTransport(...args) };
});
const { createSigner, createSession, createTpmSigner, generateTpmKey, startLocalEndpoint } = await import("../../src/index.js");

/** A TPM holding a persistent P-256 key without a password: TPM2_ReadClock refused, TPM2_ReadPublic answered. */
function tpmWithKey(): ScriptedTransport {
  const pub = eccSigningPublic();
  const bytes = encode(TPMT_PUBLIC, pub);
  const params = encode(ReadPublic.response, { outPublic: bytes, name: objectName({ bytes, public: pub }), qualifiedName: Buffer.alloc(34) });
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0x8001, 0);
  header.writeUInt32BE(10 + params.length, 2);
  return new ScriptedTransport([errorResponse(0x143), Buffer.concat([header, params])]);
}

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

describe.each(Object.entries(callbacks))("a host's TPM debug callback that %s", (_, callback) => {
  afterEach(() => void (scriptedTpm = undefined));

  it("createTpmSigner opens the key; nothing is left unhandled", async () => {
    unhandled.length = 0;
    scriptedTpm = tpmWithKey();
    const signer = await createTpmSigner({ key: { kind: "handle", handle: 0x81000101 }, noKeyPassword: true, debug: callback });
    await signer.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  });

  it("generateTpmKey ends with the TPM's own error, not the callback's; nothing is left unhandled", async () => {
    unhandled.length = 0;
    const spec = { kind: "EC", curve: "P-256", name: "p256" } as const;
    const attempt = async (debug?: typeof callback) => {
      scriptedTpm = new ScriptedTransport(Array.from({ length: 8 }, () => errorResponse(0x101)));
      const target = { kind: "file", path: join(dir, "never.tss2"), overwrite: false } as const;
      return generateTpmKey({ target, spec, debug }).then(() => "no error", (e: Error) => e.message);
    };
    const expected = await attempt();
    expect(expected).toMatch(/TPM_RC_FAILURE|0x101/);
    expect(await attempt(callback)).toBe(expected);
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  });
});
