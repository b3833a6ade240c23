/**
 * Issue 20: one profile's key file turning hostile must not take the agent down. Before the fix, an EC key
 * with a 50-byte scalar made Node abort (SIGABRT) while the agent re-opened that profile on SIGHUP, killing
 * every other profile with it. The real agent process, two file-key profiles, the verifying local endpoint.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchFromAgent } from "../src/agent/client.js";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { decodeDer, encodeDer } from "../test/fuzz/der-tree.js";
import { bundleCli } from "./agent-support.js";

const { dir, cleanup } = makeTempDir("raa-native-hostile-key-");
let endpoint: { url: string; close(): Promise<void> | void };
let cli: { cli: string; cleanup: () => void };
let agent: ChildProcess | undefined;

beforeAll(async () => {
  cli = await bundleCli();
  const ca = createCa(join(dir, "ca"), { name: "Hostile Key CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  for (const name of ["good", "victim"]) {
    const leaf = issueLeaf(ca, join(dir, name), { name, keyType: "p256" });
    writeFileSync(join(dir, `${name}.key`), readFileSync(leaf.keyPath), { mode: 0o600 });
    writeFileSync(join(dir, `${name}.crt`), readFileSync(leaf.certPath));
  }
}, 120_000);

afterAll(async () => {
  agent?.kill("SIGKILL");
  cli?.cleanup();
  await endpoint?.close();
  cleanup();
});

/** PKCS#8 P-256 key whose scalar is 50 bytes long: Node 20 aborts in asymmetricKeyDetails on it. */
function abortingKeyPem(): string {
  const t = decodeDer(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "der" }))!;
  const ec = t.children![2]!.children![0]!;
  ec.children![1]!.value = Buffer.alloc(50, 0x11);
  ec.children = ec.children!.slice(0, 2);
  return `-----BEGIN PRIVATE KEY-----\n${encodeDer(t).toString("base64")}\n-----END PRIVATE KEY-----\n`;
}

describe("agent: a profile whose key file becomes hostile", () => {
  it("is reported on reload (SIGHUP) and fails alone; the other profile keeps being served", async () => {
    const profile = (name: string, extra: Record<string, unknown> = {}) => ({
      certificate: join(dir, `${name}.crt`),
      "private-key": join(dir, `${name}.key`),
      "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/hostile",
      "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/hostile",
      "role-arn": "arn:aws:iam::000000000000:role/hostile",
      endpoint: endpoint.url,
      ...extra,
    });
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ profiles: { good: profile("good"), victim: profile("victim") } }), { mode: 0o600 });
    const runDir = join(dir, "run");
    mkdirSync(runDir, { mode: 0o700 });
    const socket = join(runDir, "agent.sock");
    agent = spawn(process.execPath, [cli.cli, "agent", "--config", config, "--socket", socket], { stdio: ["ignore", "ignore", "pipe"] });
    const log: string[] = [];
    const lines = createInterface({ input: agent.stderr! });
    lines.on("line", (l) => log.push(l));
    // Ends with the log when the agent exits or after 60 s (an agent that hangs alive would otherwise run to vitest's timeout).
    const seen = (pattern: RegExp) =>
      new Promise<void>((resolveSeen, reject) => {
        if (log.some((l) => pattern.test(l))) return resolveSeen();
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within 60 s; log:\n${log.join("\n")}`)), 60_000);
        const onLine = (l: string) => pattern.test(l) && (clearTimeout(timer), lines.off("line", onLine), resolveSeen());
        lines.on("line", onLine);
        agent!.once("exit", (code, signal) => (clearTimeout(timer), reject(new Error(`agent exited (${code ?? signal}); log:\n${log.join("\n")}`))));
      });
    await seen(/agent listening on/);
    const good = await fetchFromAgent(socket, "good");
    expect(good?.accessKeyId).toBeTruthy();
    expect((await fetchFromAgent(socket, "victim"))?.accessKeyId).toBeTruthy();

    // The victim's key file is replaced by the aborting key; its settings change, so SIGHUP re-opens it.
    writeFileSync(join(dir, "victim.key"), abortingKeyPem(), { mode: 0o600 });
    writeFileSync(config, JSON.stringify({ profiles: { good: profile("good"), victim: profile("victim", { "session-duration": 1800 }) } }), { mode: 0o600 });
    agent.kill("SIGHUP");
    await seen(/configuration reloaded: kept 1, added 0, replaced 1/);
    expect(agent.exitCode).toBeNull();
    expect(agent.signalCode).toBeNull();
    const failure = log.find((l) => l.includes(join(dir, "victim.key")));
    expect(failure, log.join("\n")).toBeDefined();
    expect(failure).toMatch(/private scalar is 50 bytes/);

    expect((await fetchFromAgent(socket, "good"))?.accessKeyId).toBe(good?.accessKeyId);
    await expect(fetchFromAgent(socket, "victim")).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID" });

    agent.kill("SIGTERM");
    const [code] = (await once(agent, "exit")) as [number | null];
    expect(code).toBe(0);
    agent = undefined;
  });
});
