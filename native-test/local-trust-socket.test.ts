/**
 * Issue 13, item 1: the agent socket as a local trust boundary, attacked by a real second account
 * (`raa13a-…`, created with useradd and removed afterwards). The victim is root running
 * `credential-process --profile P` the way cron or a system service does: no XDG_RUNTIME_DIR.
 *
 * - The old fallback path `<tmpdir>/roles-anywhere-agent-UID/agent.sock` is predictable: the attacker
 *   squats it with a fake agent. The victim must neither print the attacker's credentials nor fail: it signs.
 * - A shared path the victim chose (`ROLES_ANYWHERE_AGENT_SOCKET` in a sticky directory) whose symbolic link
 *   the attacker flips between the victim's real agent and a fake one, to win the race between a check by
 *   name and connect(2): never the attacker's credentials, never a request to the fake agent.
 * - A fake agent behind a path that looks entirely safe (its socket file moved into the victim's private
 *   directory and given to the victim): only the peer credentials of the connection tell; refused.
 * The flip race runs both with the native helper (SO_PEERCRED) and without it (the directory walk).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { distCopy, FAKE_ACCESS_KEY_ID, startFakeAgent, type FakeAgent } from "./helpers/local-trust.js";
import { DIST_CLI, runCli, type CliRun } from "./helpers/run-cli.js";

const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/trust",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/trust",
  "role-arn": "arn:aws:iam::000000000000:role/trust",
};
const FLIPS = 24;

const { dir, cleanup } = makeTempDir("raa-local-trust-socket-");
let attacker: LocalUser;
let local: LocalEndpoint;
let config: string;
/** The victim's home (root's, 0700) and a world-writable sticky directory standing for /tmp. */
let home: string;
let sharedTmp: string;
let cliWithoutNative: string;
const children: ChildProcess[] = [];
const fakes: FakeAgent[] = [];

beforeAll(async () => {
  chmodSync(dir, 0o755);
  attacker = createLocalUser("raa13a", dir);
  home = join(dir, "victim-home");
  mkdirSync(home, { mode: 0o700 });
  sharedTmp = join(dir, "tmp");
  mkdirSync(sharedTmp);
  chmodSync(sharedTmp, 0o1777);
  const ca = createCa(join(home, "ca"), { name: "Local Trust CA" });
  const leaf = issueLeaf(ca, join(home, "leaf"), { name: "victim-device" });
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  config = join(home, "config.json");
  writeFileSync(config, JSON.stringify({ profiles: { P: { certificate: leaf.certPath, "private-key": leaf.keyPath, ...ARNS, endpoint: local.url } } }), { mode: 0o600 });
  cliWithoutNative = distCopy(resolve("."), join(dir, "without-native"), { withoutNativeHelper: true });
}, 120_000);

afterAll(async () => {
  for (const f of fakes) f.stop();
  for (const c of children) c.kill("SIGKILL");
  attacker?.remove();
  await local?.close();
  cleanup();
});

/** The victim's environment: what cron or `su -` gives root (no XDG_RUNTIME_DIR), /tmp being `sharedTmp`. */
function victimEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"], HOME: home, TMPDIR: sharedTmp, NODE_EXTRA_CA_CERTS: "", ...extra };
}

const victim = (args: string[], env: NodeJS.ProcessEnv = victimEnv(), cli = DIST_CLI) =>
  runCli(cli, ["credential-process", "--profile", "P", "--config", config, ...args], env, 60_000);

/** Credentials this endpoint really issued (from the agent or signed directly), never the attacker's. */
function expectGenuineCredentials(r: CliRun): string {
  // The fake's key id, not "FAKE": issued ids (ASIA + 16 base32) and keys (base64) hold "FAKE" by chance.
  expect(r.stdout).not.toContain(FAKE_ACCESS_KEY_ID);
  expect(r.code, r.stderr).toBe(0);
  const id = JSON.parse(r.stdout).AccessKeyId as string;
  expect(local.issued.map((s) => s.credentials.accessKeyId)).toContain(id);
  return id;
}

/** The victim's own agent (root), on a private socket. */
async function startVictimAgent(socket: string): Promise<ChildProcess> {
  const agent = spawn(process.execPath, [DIST_CLI, "agent", "--config", config, "--socket", socket], { env: victimEnv(), stdio: ["ignore", "ignore", "pipe"] });
  children.push(agent);
  await untilLogLine(agent, /agent listening on/);
  return agent;
}

describe.runIf(canCreateUsers())("agent socket: another user cannot feed credential-process (real second account)", () => {
  it("a fake agent squatting the old predictable /tmp path is never asked; credential-process signs directly", async () => {
    const squatted = attacker.mkdir(join(sharedTmp, "roles-anywhere-agent-0"), 0o755);
    const fake = await startFakeAgent(attacker, join(squatted, "agent.sock"));
    fakes.push(fake);
    const before = local.issued.length;
    const r = await victim([]);
    expectGenuineCredentials(r);
    expect(r.stderr).toBe("");
    expect(local.issued.length).toBe(before + 1); // signed directly
    expect(fake.requests).toEqual([]);
    fake.stop();
  });

  describe.each([
    ["with the native helper (peer credentials)", () => DIST_CLI],
    ["without the native helper (directory walk)", () => cliWithoutNative],
  ])("a symbolic link the attacker flips between the victim's agent and a fake one, %s", (_, cli) => {
    it(`${FLIPS} calls: never the attacker's credentials, never a request to the fake agent`, async () => {
      const tag = cli() === DIST_CLI ? "native" : "walk";
      const realDir = join(home, `agent-${tag}`);
      mkdirSync(realDir, { mode: 0o700 });
      const agent = await startVictimAgent(join(realDir, "agent.sock"));
      const fakeDir = attacker.mkdir(join(dir, `attacker-${tag}`), 0o755);
      const fake = await startFakeAgent(attacker, join(fakeDir, "agent.sock"));
      fakes.push(fake);
      // The victim pointed its agent path into a shared sticky directory; the attacker owns the name there.
      const link = join(sharedTmp, `shared-agent-${tag}`);
      const flipper = attacker.spawn("/usr/bin/python3", ["-c", FLIPPER, link, realDir, fakeDir], { stdio: "ignore" });
      await waitFor(() => existsSync(link) || lstatExists(link));
      const env = victimEnv({ ROLES_ANYWHERE_AGENT_SOCKET: join(link, "agent.sock") });
      const outcomes = { agent: 0, direct: 0 };
      try {
        const runs: { r: CliRun; signed: boolean }[] = [];
        for (let i = 0; i < FLIPS; i++) {
          const before = local.issued.length;
          runs.push({ r: await victim([], env, cli()), signed: false });
          runs[i]!.signed = local.issued.length > before;
        }
        // First the whole picture (on the unfixed code: how often the attacker won the race), then each run.
        const attackerWon = runs.filter(({ r }) => r.stdout.includes(FAKE_ACCESS_KEY_ID)).length;
        const failed = runs.filter(({ r }) => r.code !== 0).map(({ r }) => r.stderr.trim());
        expect({ attackerWon, failed }).toEqual({ attackerWon: 0, failed: [] });
        const agentIds = new Set<string>();
        for (const { r, signed } of runs) {
          const id = expectGenuineCredentials(r);
          if (signed) outcomes.direct++;
          else (outcomes.agent++, agentIds.add(id));
          // Either silent (the victim's own agent answered) or one warning, then signed directly.
          if (r.stderr !== "") expect(r.stderr).toMatch(/^roles-anywhere-agent: warning: refusing to use the agent socket .*: .*; signing directly instead\n$/);
        }
        expect(flipper.exitCode, "the flipper kept running").toBeNull();
        expect(agentIds.size).toBeLessThanOrEqual(1);
        expect(fake.requests).toEqual([]);
        if (cli() !== DIST_CLI) expect(fake.connections).toBe(0); // the walk refuses the attacker's link before connect(2)
        console.log(`local-trust-socket (${tag}): ${outcomes.agent} answered by the victim's agent, ${outcomes.direct} signed directly, ${fake.connections} connections to the fake agent, 0 requests`);
      } finally {
        flipper.kill("SIGKILL");
        fake.stop();
        agent.kill("SIGTERM");
      }
    });
  });

  it("a fake agent behind a path that looks safe (socket moved into the victim's private directory, owned by the victim) is refused by its peer credentials", async () => {
    const fakeDir = attacker.mkdir(join(dir, "attacker-moved"), 0o755);
    const fake = await startFakeAgent(attacker, join(fakeDir, "agent.sock"));
    fakes.push(fake);
    // A careless `mv` (or a restored backup) puts the attacker's bound socket where the victim's agent lives;
    // the socket file and every directory now look like the victim's own: only the listener is not.
    const privateDir = join(home, "moved");
    mkdirSync(privateDir, { mode: 0o700 });
    const socket = join(privateDir, "agent.sock");
    renameSync(join(fakeDir, "agent.sock"), socket);
    chownSync(socket, 0, 0);
    chmodSync(socket, 0o600);
    const refusal = new RegExp(`refusing to use the agent socket ${socket}: it is served by uid ${attacker.uid} \\(pid \\d+\\), not by this user \\(0\\)`);
    const required = await victim(["--agent-socket", socket, "--agent"]);
    expect({ code: required.code, stdout: required.stdout }).toEqual({ code: 3, stdout: "" });
    expect(required.stderr).toMatch(new RegExp(`^roles-anywhere-agent: ${refusal.source} \\(another user may be impersonating the agent.*\\)\\n$`));
    const optional = await victim(["--agent-socket", socket]);
    expectGenuineCredentials(optional);
    expect(optional.stderr).toMatch(new RegExp(`^roles-anywhere-agent: warning: ${refusal.source}; signing directly instead\\n$`));
    expect(fake.requests).toEqual([]);
    fake.stop();
  });
});

const lstatExists = (path: string) => lstatSync(path, { throwIfNoEntry: false }) !== undefined;

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Replaces `link` with a symbolic link to argv[2], then argv[3], and so on, as fast as it can (rename is atomic). */
const FLIPPER = `
import os, sys, time
link, a, b = sys.argv[1:4]
tmp = link + ".next"
i = 0
while True:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(a if i % 2 == 0 else b, tmp)
    os.rename(tmp, link)
    i += 1
    if i % 64 == 0:
        time.sleep(0.0002)
`;
