/** What a client asking the agent by ARNs sends as conditions (request-conditions.ts), compared there as strings. */
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { startAgentServer } from "../../src/agent/agent-server.js";
import { fetchFromAgent } from "../../src/agent/client.js";
import { requestConditions } from "../../src/agent/request-conditions.js";
import { prepareSocketPath } from "../../src/agent/socket-safety.js";
import { createCredentialSource } from "../../src/credentials/credential-source.js";
import { SourceRegistry } from "../../src/credentials/source-registry.js";
import { makeTempDir } from "../helpers/pki.js";
import { standInSettings, standInSigner } from "../helpers/stand-in.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import type { ProfileArn } from "../../src/arn.js";

const withSigner = (signer: CredentialSettings["signer"]): CredentialSettings => ({ ...standInSettings(), signer, endpoint: {} });

describe("request conditions", () => {
  it("a TPM handle is the handle, in one case, not a path of the caller's working directory", () => {
    // The agent runs elsewhere (systemd: /): a handle resolved as a path never matched, and 0x…A and 0x…a differed.
    const conditions = requestConditions(withSigner({ certificate: "c.pem", privateKey: "handle:0x8100000A" }))!;
    expect(conditions["private-key"]).toBe("handle:0x8100000a");
    expect(conditions.certificate).toBe(resolve("c.pem"));
  });

  it("none when the certificate or the key is read by this process alone (standard input, env:): nothing to compare", () => {
    for (const [certificate, privateKey] of [["c.pem", "env:KEY"], ["c.pem", "-"], ["env:CERT", "k.pem"], ["-", "pkcs11:token=t;object=k"]]) {
      expect(requestConditions(withSigner({ certificate, privateKey })), `${certificate} ${privateKey}`).toBeUndefined();
    }
  });

  it("never carries a PIN: a PKCS#11 URI's pin-value is left out; a bare library name stays a name, a path is made absolute", () => {
    const key = "pkcs11:token=t;object=k?pin-value=1234";
    const bare = requestConditions(withSigner({ privateKey: key, pkcs11: { library: "libsofthsm2.so" } }))!;
    expect(JSON.stringify(bare)).not.toContain("1234");
    expect(bare).toMatchObject({ "private-key": "pkcs11:object=k;token=t", "pkcs11-lib": "libsofthsm2.so" });
    const relative = requestConditions(withSigner({ privateKey: key, pkcs11: { library: "lib/p11.so" } }))!;
    expect(relative["pkcs11-lib"]).toBe(resolve("lib/p11.so"));
  });
});

describe("an agent profile whose conditions cannot be computed (its ARNs' regions differ)", () => {
  it("meets no condition: 404 naming it not comparable, so the client signs directly (no failed request)", async () => {
    const { dir, cleanup } = makeTempDir("raa-conditions-");
    const settings = withSigner({ certificate: "c.pem", privateKey: "k.pem" });
    const mismatched = { ...settings, session: { ...settings.session, profileArn: "arn:aws:rolesanywhere:us-east-1:1:profile/p" as ProfileArn } };
    expect(() => requestConditions(mismatched)).toThrow();
    const registry = new SourceRegistry((spec) =>
      createCredentialSource({ ...spec, createSigner: async () => standInSigner(), createSession: async () => { throw new Error("not asked"); } }),
    );
    await registry.apply([{ name: "odd", settings: mismatched }]);
    const socketPath = join(dir, "run", "agent.sock");
    await prepareSocketPath(socketPath);
    const server = await startAgentServer(registry, { path: socketPath });
    try {
      const reasons: string[] = [];
      const conditions = requestConditions(withSigner({ certificate: "c.pem", privateKey: "k.pem" }))!;
      const asked = { ...mismatched.session, conditions };
      expect(await fetchFromAgent(socketPath, asked, undefined, { notServed: (why) => reasons.push(why) })).toBeUndefined();
      expect(reasons).toEqual([`${socketPath}: profile "odd" has these ARNs but another certificate: "(not comparable)", not ${JSON.stringify(resolve("c.pem"))}`]);
    } finally {
      await server.close();
      await registry.closeAll();
      cleanup();
    }
  });
});
