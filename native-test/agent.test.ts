/**
 * The refresh engine and the agent against the verifying local CreateSession endpoint, with real signers:
 * a file key and a SoftHSM (PKCS#11) key. A fault proxy between them counts CreateSession calls, breaks the
 * endpoint on demand (5xx, no answer, connection refused) and shortens credential lifetimes so that
 * refreshes happen within the test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { createCredentialSource, type CredentialSource } from "../src/credentials/credential-source.js";
import { SourceRegistry } from "../src/credentials/source-registry.js";
import { startAgentServer } from "../src/agent/agent-server.js";
import { fetchFromAgent } from "../src/agent/client.js";
import { prepareSocketPath } from "../src/agent/socket-safety.js";
import type { CredentialSettings } from "../src/settings/credential-settings.js";
import type { Credentials } from "../src/rolesanywhere/credentials.js";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../src/arn.js";
import { createCa, issueLeaf, makeTempDir, openssl, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli, createSoftHsmToken, startFaultProxy, type FaultProxy, type SoftHsmToken } from "./agent-support.js";
import { untilLogLine } from "./helpers/log-lines.js";

const run = promisify(execFile);
const ARNS = {
  trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/agent-test"),
  profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:000000000000:profile/agent-test"),
  roleArn: parseRoleArn("arn:aws:iam::000000000000:role/agent-test"),
};
/** Fast retries so that outages and recoveries happen within seconds. */
const FAST = { expiryMarginMs: 1_000, retryBaseMs: 100, retryMaxMs: 400, minRetryIntervalMs: 100 };

const { dir, cleanup } = makeTempDir("raa-native-agent-");
let ca: CaHandle;
let endpoint: { url: string; close(): Promise<void> | void };
let proxy: FaultProxy;
let token: SoftHsmToken;
const sources: CredentialSource[] = [];

function settings(signer: CredentialSettings["signer"], endpointUrl = proxy.url): CredentialSettings {
  return {
    signer,
    session: { ...ARNS, durationSeconds: 900 },
    endpoint: { endpoint: endpointUrl, connectTimeoutMs: 500, timeoutMs: 1_500, maxAttempts: 1 },
  };
}

/**
 * For the tests that count CreateSession calls: with the outage tests' 0.5 s connect timeout, 1,000 socket clients in
 * this same event loop under load made the first attempt time out and a second go out (forwarded 2, 1 of 1 runs with
 * 8 busy loops). One call is the point there, not the timeout.
 */
const patient = (s: CredentialSettings): CredentialSettings => ({ ...s, endpoint: { ...s.endpoint, connectTimeoutMs: 10_000, timeoutMs: 30_000 } });

function source(name: string, s: CredentialSettings, policy = FAST): CredentialSource {
  const src = createCredentialSource({ name, settings: s, policy });
  sources.push(src);
  return src;
}

const hybrid = () => settings({ certificate: join(dir, "hsm-cert.pem"), privateKey: token.keyUri, pkcs11: { pin: { kind: "file", path: token.pinFile } } });

beforeAll(async () => {
  ca = createCa(join(dir, "ca"), { name: "Agent Test CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  proxy = await startFaultProxy(endpoint.url);
  const hsmLeaf = issueLeaf(ca, join(dir, "hsm"), { name: "hsm-device", keyType: "p256" });
  copyFileSync(hsmLeaf.certPath, join(dir, "hsm-cert.pem"));
  token = createSoftHsmToken(join(dir, "softhsm"), hsmLeaf.keyPath);
  process.env["SOFTHSM2_CONF"] = token.conf;
});

// Background refreshes of one test's sources must not count as another test's CreateSession calls.
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.close()));
  proxy.lifetimeMs = undefined;
});

afterAll(async () => {
  await proxy?.close();
  await endpoint?.close();
  cleanup();
});

function assertUsable(c: Credentials): void {
  expect(c.accessKeyId).not.toBe("");
  expect(c.secretAccessKey).not.toBe("");
  expect(c.sessionToken).not.toBe("");
  expect(c.expiration.getTime()).toBeGreaterThan(Date.now());
}

describe.each([
  ["file key", () => { const leaf = issueLeaf(ca, join(dir, "file"), { name: "file-device" }); return settings({ certificate: leaf.certPath, privateKey: leaf.keyPath }); }],
  ["SoftHSM key", hybrid],
])("credential source with a %s", (_kind, makeSettings) => {
  it("serves 1,000 concurrent requests with exactly one CreateSession", async () => {
    proxy.lifetimeMs = undefined;
    await proxy.setMode("ok");
    const src = source("concurrent", patient(makeSettings()));
    const before = proxy.forwarded;
    const all = await Promise.all(Array.from({ length: 1000 }, () => src.get()));
    expect(proxy.forwarded - before).toBe(1);
    expect(new Set(all.map((c) => c.accessKeyId)).size).toBe(1);
    assertUsable(all[0]!);
  });

  it("never hands out empty or expired credentials while the endpoint fails (5xx, timeouts, refused), and recovers", async () => {
    await proxy.setMode("ok");
    proxy.lifetimeMs = 4_000; // refresh due 0.9–2.6 s in (30–85 % of the 3 s usable lifetime), unusable after 3 s
    const src = source("outage", makeSettings());
    src.start();
    const first = await src.get();
    const outcomes = { served: 0, errors: new Set<string>() };
    for (const mode of ["5xx", "hang", "refuse", "5xx"] as const) {
      await proxy.setMode(mode);
      const until = Date.now() + 1_500;
      while (Date.now() < until) {
        try {
          const c = await src.get();
          assertUsable(c);
          expect(c.expiration.getTime() - Date.now()).toBeGreaterThan(0);
          outcomes.served++;
        } catch (error) {
          outcomes.errors.add((error as { code: string }).code);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(outcomes.served).toBeGreaterThan(0); // the old credentials were served while valid…
    expect(outcomes.errors.size).toBeGreaterThan(0); // …then errors, not expired credentials
    for (const code of outcomes.errors) expect(["SERVICE_UNAVAILABLE", "SERVICE_ERROR", "TIMEOUT", "NETWORK_ERROR", "THROTTLED"]).toContain(code);
    await proxy.setMode("ok");
    proxy.lifetimeMs = 60_000;
    let recovered: Credentials | undefined;
    for (let i = 0; i < 100 && !recovered; i++) {
      recovered = await src.get().catch(() => undefined);
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    expect(recovered).toBeDefined();
    assertUsable(recovered!);
    expect(recovered!.accessKeyId).not.toBe(first.accessKeyId);
    expect(src.status().state).toBe("fresh");
  });
});

describe("certificate renewal", () => {
  it("uses a renewed certificate (same token key) at the next refresh, without a restart", async () => {
    await proxy.setMode("ok");
    proxy.lifetimeMs = 3_000; // refresh due 0.6–1.7 s in
    const src = source("renewal", hybrid());
    src.start();
    await src.get();
    const oldSerial = proxy.serials.at(-1)!;
    const publicKey = join(dir, "hsm-pub.pem");
    writeFileSync(publicKey, openssl(["pkey", "-in", token.keyPath, "-pubout"]));
    const renewed = issueLeaf(ca, join(dir, "renewed"), { name: "hsm-device", publicKeyPath: publicKey });
    copyFileSync(renewed.certPath, join(dir, "hsm-cert.pem"));
    for (let i = 0; i < 100 && proxy.serials.at(-1) === oldSerial; i++) {
      await src.get();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(proxy.serials.at(-1)).toBe(renewed.serialDecimal);
    expect(renewed.serialDecimal).not.toBe(oldSerial);
  });
});

describe("agent over its socket (in-process)", () => {
  it("answers 1,000 concurrent socket clients from one CreateSession through the SoftHSM key", async () => {
    await proxy.setMode("ok");
    proxy.lifetimeMs = undefined;
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec }));
    const before = proxy.forwarded;
    await registry.apply([{ name: "hsm", settings: patient(hybrid()) }]);
    const socketPath = join(dir, "run", "agent.sock");
    await prepareSocketPath(socketPath);
    const server = await startAgentServer(registry, { path: socketPath });
    try {
      const all = await Promise.all(Array.from({ length: 1000 }, () => fetchFromAgent(socketPath, "hsm")));
      expect(all.every((c) => c && c.accessKeyId === all[0]!.accessKeyId)).toBe(true);
      expect(proxy.forwarded - before).toBe(1);
    } finally {
      await server.close();
      await registry.closeAll();
    }
  });
});

describe("credential-process (dist/cli.js) and an agent listening on the config's agent.socket", () => {
  it("gets the agent's credentials without --agent-socket: no CreateSession of its own (it signed on every call)", async () => {
    await proxy.setMode("ok");
    proxy.lifetimeMs = undefined;
    const runDir = join(dir, "config-socket-run");
    const emptyRuntime = join(dir, "config-socket-xdg"); // the default socket's directory, where no agent listens
    for (const d of [runDir, emptyRuntime]) mkdirSync(d, { mode: 0o700 });
    const socket = join(runDir, "custom.sock");
    const leaf = issueLeaf(ca, join(dir, "config-socket"), { name: "config-socket-device" });
    const config = join(dir, "config-socket.json");
    const profile = { certificate: leaf.certPath, "private-key": leaf.keyPath, "trust-anchor-arn": ARNS.trustAnchorArn, "profile-arn": ARNS.profileArn, "role-arn": ARNS.roleArn, endpoint: proxy.url };
    writeFileSync(config, JSON.stringify({ profiles: { gw: profile }, agent: { socket } }), { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: emptyRuntime };
    delete env["ROLES_ANYWHERE_AGENT_SOCKET"];
    const cli = join(process.cwd(), "dist", "cli.js");
    const agent = spawn(process.execPath, [cli, "agent", "--config", config], { env, stdio: ["ignore", "ignore", "pipe"] });
    try {
      await untilLogLine(agent, /agent listening on/);
      const cached = await fetchFromAgent(socket, "gw");
      const before = proxy.forwarded;
      for (const required of [[], ["--agent"]]) {
        const { stdout, stderr } = await run(process.execPath, [cli, "credential-process", "--config", config, "--profile", "gw", ...required], { env });
        expect(stderr).toBe("");
        expect(JSON.parse(stdout)).toMatchObject({ AccessKeyId: cached?.accessKeyId });
      }
      expect(proxy.forwarded - before).toBe(0);
    } finally {
      agent.kill("SIGTERM");
      if (agent.exitCode === null) await once(agent, "exit");
    }
  });
});

/** `dist/cli.js agent` serving profile gw on a file key, with a config and a private socket of its own under `dir`. */
async function startCliAgent(name: string, leaf: { certPath: string; keyPath: string }) {
  const runDir = join(dir, `${name}-run`);
  mkdirSync(runDir, { mode: 0o700 });
  const socket = join(runDir, "agent.sock");
  const config = join(dir, `${name}.json`);
  const profile = { certificate: leaf.certPath, "private-key": leaf.keyPath, "trust-anchor-arn": ARNS.trustAnchorArn, "profile-arn": ARNS.profileArn, "role-arn": ARNS.roleArn, endpoint: proxy.url };
  writeFileSync(config, JSON.stringify({ profiles: { gw: profile } }), { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env["ROLES_ANYWHERE_AGENT_SOCKET"];
  const cli = join(process.cwd(), "dist", "cli.js");
  const agent = spawn(process.execPath, [cli, "agent", "--config", config, "--socket", socket], { env, stdio: ["ignore", "ignore", "pipe"] });
  const stop = async () => {
    agent.kill("SIGCONT");
    agent.kill("SIGTERM");
    if (agent.exitCode === null) await once(agent, "exit");
  };
  try {
    await untilLogLine(agent, /agent listening on/);
  } catch (error) {
    await stop();
    throw error;
  }
  return { socket, config, env, cli, agent, stop };
}

describe("credential-process (dist/cli.js) asking for something else than the agent's profile", () => {
  it("signs directly for another certificate, duration or endpoint (it got the agent's credentials); a matching Go-style line uses the agent", async () => {
    await proxy.setMode("ok");
    proxy.lifetimeMs = undefined;
    const served = issueLeaf(ca, join(dir, "conditions-served"), { name: "conditions-served" });
    const renewed = issueLeaf(ca, join(dir, "conditions-renewed"), { name: "conditions-renewed" });
    const arnFlags = ["--trust-anchor-arn", ARNS.trustAnchorArn, "--profile-arn", ARNS.profileArn, "--role-arn", ARNS.roleArn];
    const { socket, config, env, cli, stop } = await startCliAgent("conditions", served);
    try {
      const cached = (await fetchFromAgent(socket, "gw"))!.accessKeyId;
      const credentialProcess = async (...flags: string[]) => {
        const before = proxy.forwarded;
        const { stdout } = await run(process.execPath, [cli, "credential-process", "--config", config, "--agent-socket", socket, ...flags], { env, cwd: dir });
        return { accessKeyId: JSON.parse(stdout).AccessKeyId as string, createSessions: proxy.forwarded - before };
      };
      const renewedFlags = ["--certificate", renewed.certPath, "--private-key", renewed.keyPath];
      const other = [
        ["--profile", "gw", ...renewedFlags],
        ["--profile", "gw", "--session-duration", "1800"],
        ["--profile", "gw", "--endpoint", endpoint.url],
        [...renewedFlags, ...arnFlags, "--endpoint", proxy.url],
      ];
      for (const flags of other) {
        const answer = await credentialProcess(...flags);
        expect({ flags, ...answer }).toMatchObject({ createSessions: flags.includes(endpoint.url) ? 0 : 1 });
        expect({ flags, ...answer }).not.toMatchObject({ accessKeyId: cached });
      }
      // Go-style lines (relative paths, the duration and endpoint written out) that ask for what the agent serves.
      const same = [
        ["--certificate", served.certPath, "--private-key", served.keyPath, ...arnFlags, "--endpoint", proxy.url],
        ["--certificate", relative(dir, served.certPath), "--private-key", relative(dir, served.keyPath), ...arnFlags, "--endpoint", `${proxy.url}/`, "--session-duration", "3600"],
        ["--profile", "gw", "--certificate", served.certPath, "--agent"],
      ];
      for (const flags of same) expect({ flags, ...(await credentialProcess(...flags)) }).toEqual({ flags, accessKeyId: cached, createSessions: 0 });
      // With --agent, the difference in one line.
      const failed = await run(process.execPath, [cli, "credential-process", "--config", config, "--agent-socket", socket, "--agent", "--profile", "gw", ...renewedFlags], { env }).catch((e: { code: number; stderr: string }) => e);
      expect(failed).toMatchObject({ code: 7 });
      expect((failed as { stderr: string }).stderr).toContain(`has these ARNs but another certificate: ${JSON.stringify(served.certPath)}, not ${JSON.stringify(renewed.certPath)}`);
      // The same name in another config file (its gw: the renewed certificate), through the launcher's fast path and
      // the full CLI: signed directly (before: the agent's gw); the agent's own file, named relatively, is the agent's.
      const otherConfig = join(dir, "conditions-other.json");
      writeFileSync(otherConfig, readFileSync(config, "utf8").replaceAll(served.certPath, renewed.certPath).replaceAll(served.keyPath, renewed.keyPath), { mode: 0o600 });
      for (const flags of [["--config", otherConfig, "--profile", "gw"], ["--config", otherConfig, "--profile", "gw", "--debug"]]) {
        const before = proxy.forwarded;
        const { stdout } = await run(process.execPath, [cli, "credential-process", "--agent-socket", socket, ...flags], { env });
        expect({ flags, accessKeyId: JSON.parse(stdout).AccessKeyId, createSessions: proxy.forwarded - before }).toMatchObject({ flags, createSessions: 1 });
      }
      const own = await run(process.execPath, [cli, "credential-process", "--config", relative(dir, config), "--agent-socket", socket, "--profile", "gw"], { env, cwd: dir });
      expect(JSON.parse(own.stdout).AccessKeyId).toBe(cached);
      const refused = await run(process.execPath, [cli, "credential-process", "--config", otherConfig, "--agent-socket", socket, "--agent", "--profile", "gw"], { env }).catch((e: { code: number; stderr: string }) => e);
      expect(refused).toMatchObject({ code: 7 });
      expect((refused as { stderr: string }).stderr).toContain(`the agent's profile "gw" comes from ${JSON.stringify(config)}, not ${JSON.stringify(otherConfig)}`);
    } finally {
      await stop();
    }
  });
});

describe("credential-process (dist/cli.js) and an agent that does not take the request (SIGSTOP)", () => {
  it("signs directly after a short wait with one warning line (it waited 35 s, then failed)", async () => {
    await proxy.setMode("ok");
    proxy.lifetimeMs = undefined;
    const leaf = issueLeaf(ca, join(dir, "stopped"), { name: "stopped-device" });
    const { socket, config, env, cli, agent, stop } = await startCliAgent("stopped", leaf);
    try {
      const cached = (await fetchFromAgent(socket, "gw"))!.accessKeyId;
      agent.kill("SIGSTOP");
      // The launcher's fast path (--profile alone), then the full CLI (a flag that shapes the request).
      for (const extra of [[], ["--session-duration", "3600"]]) {
        const before = proxy.forwarded;
        const { stdout, stderr } = await run(process.execPath, [cli, "credential-process", "--config", config, "--profile", "gw", "--agent-socket", socket, ...extra], { env });
        expect(JSON.parse(stdout).AccessKeyId).not.toBe(cached);
        expect(proxy.forwarded - before).toBe(1);
        expect(stderr).toBe(`roles-anywhere-agent: warning: the agent at ${socket} did not take the request within 10 s (a stopped process, or a socket unit whose service cannot start); signing directly instead\n`);
      }
    } finally {
      await stop();
    }
  }, 120_000);
});

describe("agent as a process", () => {
  let cli: { cli: string; cleanup: () => void };
  let agent: ChildProcess | undefined;
  beforeAll(async () => {
    cli = await bundleCli();
  });
  afterAll(() => {
    agent?.kill("SIGKILL");
    cli?.cleanup();
  });

  it("serves curl and credential_process from the config file, reloads on SIGHUP, exits cleanly on SIGTERM", async () => {
    await proxy.setMode("ok");
    proxy.lifetimeMs = undefined;
    const runDir = join(dir, "proc-run");
    mkdirSync(runDir, { mode: 0o700 });
    const socket = join(runDir, "agent.sock");
    const config = join(dir, "agent-config.json");
    const profile = {
      certificate: join(dir, "hsm-cert.pem"),
      "private-key": token.keyUri,
      "pkcs11-pin": `file:${token.pinFile}`,
      "trust-anchor-arn": ARNS.trustAnchorArn,
      "profile-arn": ARNS.profileArn,
      "role-arn": ARNS.roleArn,
      endpoint: proxy.url,
    };
    writeFileSync(config, JSON.stringify({ profiles: { hsm: profile } }), { mode: 0o600 });
    agent = spawn(process.execPath, [cli.cli, "agent", "--config", config, "--socket", socket], {
      env: { ...process.env, SOFTHSM2_CONF: token.conf },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const lines = createInterface({ input: agent.stderr! });
    const log: string[] = [];
    const seen = (pattern: RegExp) =>
      new Promise<void>((resolveSeen, reject) => {
        if (log.some((l) => pattern.test(l))) return resolveSeen();
        const onLine = (l: string) => pattern.test(l) && (lines.off("line", onLine), resolveSeen());
        lines.on("line", onLine);
        agent!.once("exit", () => reject(new Error(`agent exited; log:\n${log.join("\n")}`)));
        setTimeout(() => reject(new Error(`no ${pattern} within 60 s; log:\n${log.join("\n")}`)), 60_000).unref();
      });
    lines.on("line", (l) => log.push(l));
    await seen(/agent listening on/);

    const { stdout } = await run("curl", ["-sf", "--unix-socket", socket, "http://agent/v1/credentials/hsm"]);
    expect(JSON.parse(stdout)).toMatchObject({ Version: 1 });
    expect(stdout).not.toMatch(/\n$/);
    const viaClient = await fetchFromAgent(socket, "hsm");
    expect(viaClient?.accessKeyId).toBe(JSON.parse(stdout).AccessKeyId);

    // SIGHUP: a second profile appears; the first keeps its cached credentials.
    writeFileSync(config, JSON.stringify({ profiles: { hsm: profile, again: { ...profile, "session-duration": 1800 } } }), { mode: 0o600 });
    agent.kill("SIGHUP");
    await seen(/configuration reloaded: kept 1, added 1/);
    expect((await fetchFromAgent(socket, "hsm"))?.accessKeyId).toBe(viaClient?.accessKeyId);
    expect(await fetchFromAgent(socket, "again")).toBeDefined();

    // SIGHUP replacing the token profile while clients keep asking: the old session logs out before the new one
    // logs in (same token), and no request fails in between (before: 503 "hsm was closed (reloaded or removed)").
    const replaced = { hsm: { ...profile, "session-duration": 2700 }, again: { ...profile, "session-duration": 1800 } };
    writeFileSync(config, JSON.stringify({ profiles: replaced }), { mode: 0o600 });
    let asking = true;
    const answers: unknown[] = [];
    const ask = async () => {
      while (asking) answers.push(await fetchFromAgent(socket, "hsm").catch((error: unknown) => String(error)));
    };
    const clients = [ask(), ask(), ask()];
    agent.kill("SIGHUP");
    await seen(/configuration reloaded: kept 1, added 0, replaced 1/);
    asking = false;
    await Promise.all(clients);
    expect(answers.filter((a) => typeof (a as Credentials | undefined)?.accessKeyId !== "string")).toEqual([]);
    expect((await fetchFromAgent(socket, "hsm"))?.accessKeyId).not.toBe(viaClient?.accessKeyId); // the new session's

    // A broken config on reload is refused and the running one kept.
    writeFileSync(config, "{ not json", { mode: 0o600 });
    agent.kill("SIGHUP");
    await seen(/reload failed, keeping the previous configuration/);
    expect(await fetchFromAgent(socket, "again")).toBeDefined();

    agent.kill("SIGTERM");
    const [code] = (await once(agent, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(log.join("\n")).not.toMatch(new RegExp(viaClient!.secretAccessKey.replace(/[^A-Za-z0-9]/g, ".")));
    expect(() => readFileSync(socket)).toThrow(); // socket removed
    agent = undefined;
  });
});
