/**
 * A foreground agent whose TPM key password is typed at the terminal (script(1), real swtpm, the verifying local
 * endpoint): swtpm killed and restarted under it, the source re-opens its signer with the password typed at
 * start-up — asked once, not again at the re-open (before round 31: at every re-open after a device error). A wrong
 * one typed is presented once: neither presented again from the kept copy nor asked for again.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli, startFaultProxy, type FaultProxy } from "./agent-support.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { lockoutCounter, persistSrk } from "./helpers/tpm-keys.js";
import { fetchFromAgent } from "../src/agent/client.js";

const PROMPT = "Please enter your TPM key password:";
const PASSWORD = "typed-password";
const { dir, cleanup } = makeTempDir("raa-native-tpm-reopen-");
let cli: { cli: string; cleanup: () => void };
let endpoint: LocalEndpoint;
let proxy: FaultProxy;
let tpm: Swtpm;
let ca: CaHandle;

beforeAll(async () => {
  cli = await bundleCli();
  ca = createCa(join(dir, "ca"), { name: "Reopen CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  proxy = await startFaultProxy(endpoint.url);
  tpm = await startSwtpm();
  await persistSrk(tpm, 0x81000001);
}, 120_000);
afterAll(async () => {
  await tpm?.stop();
  await proxy?.close();
  await endpoint?.close();
  cli?.cleanup();
  cleanup();
});

/**
 * An agent on a terminal (script(1)) for the key at `handle`, whose password is `PASSWORD`; each prompt is answered
 * `typed`, as a user would. `out`: all the terminal showed (prompts and log lines).
 */
async function agentOnTerminal(name: string, handle: string, typed: string) {
  const home = join(dir, name);
  mkdirSync(home, { mode: 0o700 });
  const leaf = issueLeaf(ca, join(home, "leaf"), { name });
  const [pub, priv, ctx] = ["pub", "priv", "ctx"].map((x) => join(tpm.dir, `${name}.${x}`));
  await tpm.run("tpm2_import", ["-C", "0x81000001", "-G", "ecc", "-i", leaf.keyPath, "-u", pub!, "-r", priv!, "-p", PASSWORD, "-a", "userwithauth|sign", "-Q"]);
  await tpm.run("tpm2_load", ["-C", "0x81000001", "-u", pub!, "-r", priv!, "-c", ctx!, "-Q"]);
  await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx!, handle, "-Q"]);
  await tpm.flushAll();
  const config = join(home, "config.json");
  // No tpm-key-password: the Go helper's prompt.
  writeFileSync(config, JSON.stringify({ version: 1, profiles: { tpm: {
    certificate: leaf.certPath, "private-key": `handle:${handle}`, "tpm-device": tpm.device, endpoint: proxy.url,
    "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/reopen",
    "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/reopen",
    "role-arn": "arn:aws:iam::000000000000:role/reopen",
  } } }), { mode: 0o600 });
  const socket = join(home, "agent.sock");
  // `exec`: the shell's pid ($$) becomes the agent's, to stop it with SIGTERM (TPM objects flushed).
  const agent = [process.execPath, cli.cli, "agent", "--config", config, "--socket", socket].map((a) => `'${a}'`).join(" ");
  const env = { ...process.env, CI: "", TERM: "dumb", HOME: home, XDG_RUNTIME_DIR: "/nonexistent" };
  const child = spawn("script", ["-qec", `echo "pid $$"; exec ${agent}`, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
  const run = { out: "", socket, prompts: () => run.out.split(PROMPT).length - 1 };
  let answered = 0;
  child.stdout.on("data", (d: Buffer) => {
    run.out += d.toString();
    for (; answered < run.prompts(); answered++) child.stdin.write(`${typed}\n`);
  });
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  const pid = () => Number(/^pid (\d+)/m.exec(run.out)?.[1]);
  return {
    run,
    count: (pattern: RegExp) => run.out.split("\n").filter((l) => pattern.test(l)).length,
    stop: async () => {
      process.kill(pid(), "SIGTERM");
      return exited;
    },
    kill: () => {
      if (child.exitCode !== null) return;
      if (pid()) process.kill(pid(), "SIGKILL");
      child.kill("SIGKILL");
    },
  };
}

describe("agent on a terminal, TPM key password typed at start-up", () => {
  it("swtpm restarted under it: the signer re-opens with the typed password, asked once", async () => {
    // Credentials that expire 30 s after they came: a refresh within 6-17 s, while swtpm is down.
    proxy.lifetimeMs = 30_000;
    const agent = await agentOnTerminal("reopen", "0x81000010", PASSWORD);
    try {
      await expect.poll(() => agent.count(/tpm: new credentials/), { timeout: 60_000, interval: 100 }).toBe(1);
      await tpm.kill();
      await expect.poll(() => agent.count(/tpm: refresh failed \((TPM_UNAVAILABLE|TPM_ERROR)\)/), { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
      await tpm.restart();
      await expect.poll(() => agent.count(/tpm: new credentials/), { timeout: 60_000, interval: 100 }).toBe(2);
      expect(agent.run.prompts(), agent.run.out).toBe(1); // before: 2, asked again at the re-open
      expect(agent.run.out).not.toContain(PASSWORD);
      expect(await agent.stop(), agent.run.out).toBe(0);
    } finally {
      agent.kill();
      proxy.lifetimeMs = undefined;
    }
  }, 180_000);

  it("a wrong one typed: presented once, then neither presented again (kept) nor asked for again", async () => {
    const before = await lockoutCounter(tpm);
    const agent = await agentOnTerminal("wrong", "0x81000011", "wrong-password");
    try {
      await expect.poll(() => agent.count(/tpm: refresh failed \(TPM_AUTH_FAILED\).*not retried/), { timeout: 60_000, interval: 100 }).toBe(1);
      // Callers keep asking: nothing opens the key again.
      for (let i = 0; i < 3; i++) await expect(fetchFromAgent(agent.run.socket, "tpm")).rejects.toMatchObject({ code: "TPM_AUTH_FAILED" });
      await new Promise((r) => setTimeout(r, 3000));
      expect(agent.run.prompts(), agent.run.out).toBe(1);
      expect(agent.count(/TPM_AUTH_FAILED/), agent.run.out).toBe(1);
      expect(await agent.stop(), agent.run.out).toBe(0);
      expect(await lockoutCounter(tpm)).toBe(before + 1);
    } finally {
      agent.kill();
    }
  }, 180_000);
});
