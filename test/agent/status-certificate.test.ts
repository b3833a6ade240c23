import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgentServer, type RunningAgentServer } from "../../src/agent/agent-server.js";
import { prepareSocketPath } from "../../src/agent/socket-safety.js";
import { standInSigner } from "../helpers/stand-in.js";
import type { ProfileArn, RoleArn, TrustAnchorArn } from "../../src/arn.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import { createCredentialSource, type SessionCreator } from "../../src/credentials/credential-source.js";
import { SourceRegistry } from "../../src/credentials/source-registry.js";
import { signingMaterialFor } from "../../src/rolesanywhere/signed-request.js";
import type { Signer } from "../../src/signers/signer.js";
import { Certificate } from "../../src/x509/certificate.js";
import { decodePemBlocks } from "../../src/encoding/pem.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const run = promisify(execFile);
const { dir, cleanup } = makeTempDir("raa-agent-cert-");
const settings = (role: string): CredentialSettings => ({
  signer: { privateKey: "pkcs11:token=t" },
  session: {
    trustAnchorArn: "arn:aws:rolesanywhere:eu-west-1:1:trust-anchor/t" as TrustAnchorArn,
    profileArn: "arn:aws:rolesanywhere:eu-west-1:1:profile/p" as ProfileArn,
    roleArn: `arn:aws:iam::1:role/${role}` as RoleArn,
    durationSeconds: 3600,
  },
  endpoint: {},
});

describe("agent status: the certificate's state", () => {
  const socketPath = join(dir, "run", "agent.sock");
  let registry: SourceRegistry;
  let server: RunningAgentServer;
  const warnings: string[] = [];

  beforeAll(async () => {
    const ca = createCa(join(dir, "ca"), { name: "Status CA" });
    const certOf = (name: string, opts: object) => new Certificate(decodePemBlocks(readFileSync(issueLeaf(ca, join(dir, "l"), { name, ...opts }).certPath, "utf8"), name)[0]!.der);
    const certs: Record<string, Certificate> = { Expired: certOf("old-device", { expired: true }), Soon: certOf("soon-device", { notAfter: new Date(Date.now() + 2 * 86_400_000) }) };
    const signerFor = (role: string): Signer => standInSigner(certs[role]);
    // The real check that CreateSession runs first, without the network.
    const session: SessionCreator = async (signer) => {
      await signingMaterialFor(signer, new Date());
      return { accessKeyId: "ASIAOK", secretAccessKey: "s3cret", sessionToken: "tok", expiration: new Date(Date.now() + 3600_000) };
    };
    registry = new SourceRegistry((spec) =>
      createCredentialSource({
        ...spec,
        createSigner: async () => signerFor(spec.settings.session.roleArn.split("/")[1]!),
        createSession: session,
        certificateWarning: { windowMs: 14 * 86_400_000, log: (l) => warnings.push(l) },
      }),
    );
    await registry.apply([
      { name: "old", settings: settings("Expired") },
      { name: "soon", settings: settings("Soon") },
    ]);
    await prepareSocketPath(socketPath);
    server = await startAgentServer(registry, { path: socketPath });
  });
  afterAll(async () => {
    await server?.close();
    await registry?.closeAll();
    cleanup();
  });

  it("says expired (and why there are no credentials), or expiring with a warning logged", async () => {
    await Promise.allSettled(registry.all().map((s) => s.get()));
    const { stdout } = await run("curl", ["-sf", "--unix-socket", socketPath, "http://agent/v1/status"]);
    const profiles = JSON.parse(stdout).profiles as { name: string; state: string; lastError: { code: string; message: string } | null; certificate: { subject: string; state: string; notAfter: string } | null }[];
    const old = profiles.find((p) => p.name === "old")!;
    expect(old.certificate).toMatchObject({ subject: "CN=old-device", state: "expired" });
    expect(old.lastError?.code).toBe("CERTIFICATE_EXPIRED");
    expect(old.lastError?.message).toMatch(/^the certificate \(CN=old-device\) expired 30 d/);
    const soon = profiles.find((p) => p.name === "soon")!;
    expect(soon.certificate).toMatchObject({ subject: "CN=soon-device", state: "expiring" });
    expect(soon.state).toBe("fresh");
    expect(warnings).toEqual([expect.stringMatching(/^soon: warning: the certificate \(CN=soon-device\) expires in (1 d 23 h|2 d)/)]);
    expect(stdout).not.toMatch(/s3cret|"tok"/);
  });
});
