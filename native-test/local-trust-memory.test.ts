/**
 * Issue 13, item 4: secrets in the memory of the long-running commands. `agent`, `serve` and `update` run as a
 * real second account (`raa13a-…`, created with useradd and removed afterwards); another process of that same
 * account then tries what any program the user runs could do: read the daemon's memory through
 * /proc/PID/mem and look for the secret access key it holds. The daemons make themselves non-dumpable at
 * start (PR_SET_DUMPABLE 0 through the native helper), so the kernel refuses; and they write no core file
 * (RLIMIT_CORE 0). Without the native helper the agent says in one line that it stays dumpable, and the
 * memory is then readable (what SECURITY.md states).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { distCopy } from "./helpers/local-trust.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI } from "./helpers/run-cli.js";

const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/memory",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/memory",
  "role-arn": "arn:aws:iam::000000000000:role/memory",
};

const { dir, cleanup } = makeTempDir("raa-local-trust-memory-");
let user: LocalUser;
let local: LocalEndpoint;
/** The user's private directory: key, certificate, config, socket, credentials file. */
let home: string;
let config: string;
let cliWithoutNative: string;
/** dist/cli.js where the user can reach it (a checkout under /root cannot be). */
let cli: string;
const daemons: ChildProcess[] = [];

beforeAll(async () => {
  chmodSync(dir, 0o755);
  user = createLocalUser("raa13a", dir);
  home = user.home;
  const ca = createCa(join(dir, "ca"), { name: "Memory Trust CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "memory-device" });
  for (const [from, to] of [[leaf.certPath, "cert.pem"], [leaf.keyPath, "key.pem"]] as const) {
    copyFileSync(from, join(home, to));
    chownSync(join(home, to), user.uid, user.gid);
    chmodSync(join(home, to), 0o600);
  }
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  config = join(home, "config.json");
  writeFileSync(config, JSON.stringify({ profiles: { P: { certificate: join(home, "cert.pem"), "private-key": join(home, "key.pem"), ...ARNS, endpoint: local.url } } }), { mode: 0o600 });
  chownSync(config, user.uid, user.gid);
  cli = distCopy(resolve("."), join(dir, "installed"));
  cliWithoutNative = distCopy(resolve("."), join(dir, "without-native"), { withoutNativeHelper: true });
}, 120_000);

afterAll(async () => {
  for (const d of daemons) d.kill("SIGKILL");
  user?.remove();
  await local?.close();
  cleanup();
});

interface Daemon {
  readonly child: ChildProcess;
  readonly log: string[];
}

/** Starts `cli args` as the user; resolves once a log line matches `ready`. */
async function startAsUser(cli: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const environment = { PATH: process.env["PATH"], HOME: home, NODE_EXTRA_CA_CERTS: "", ...env };
  const child = user.spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "ignore", "pipe"], env: environment });
  daemons.push(child);
  return { child, log: await untilLogLine(child, ready) };
}

async function stop(d: Daemon): Promise<void> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const exited = new Promise((r) => d.child.once("exit", r));
  d.child.kill("SIGTERM");
  await exited;
}

/** The secret access key the endpoint issued most recently (the daemon holds it in its cache). */
async function latestSecretAfter(count: number): Promise<string> {
  for (let i = 0; i < 200 && local.issued.length <= count; i++) await new Promise((r) => setTimeout(r, 25));
  expect(local.issued.length).toBeGreaterThan(count);
  return local.issued[local.issued.length - 1]!.credentials.secretAccessKey;
}

/**
 * Another process of the same user reads the daemon's memory looking for `secret`: "found", "not found", or
 * the error that stopped it (EACCES / EPERM when the daemon is non-dumpable).
 */
async function readMemoryAsSameUser(pid: number, secret: string): Promise<string> {
  const r = await user.run("/usr/bin/python3", ["-c", MEMORY_READER, String(pid), secret], { timeoutMs: 60_000 });
  return (r.stdout.trim() || r.stderr.trim()).split("\n").pop()!;
}

/** Core files are off: soft and hard RLIMIT_CORE 0 (read from /proc/PID/limits, which everyone can read). */
function coreLimit(pid: number): string {
  return /^Max core file size\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))!.slice(1, 3).join(" ");
}

describe("one-shot commands: no core file once they read a PIN or password", () => {
  it("sign-string with an encrypted key, its password from a FIFO, under ulimit -c unlimited: RLIMIT_CORE 0 0 before the read", async () => {
    // Before: a one-shot command kept the parent's limit (unlimited): a crash in a PKCS#11 module left a core with the PIN.
    const ca = createCa(join(dir, "one-shot-ca"), { name: "One-shot CA" });
    const leaf = issueLeaf(ca, join(dir, "one-shot"), { name: "one-shot" });
    const key = join(dir, "one-shot", "key.enc.pem");
    openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", key, "-v2", "aes-256-cbc", "-passout", "pass:Pw-core-4b1e"]);
    const fifo = join(dir, "one-shot", "password");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    const args = ["sign-string", "--certificate", leaf.certPath, "--private-key", key, "--pkcs8-password-file", fifo];
    const child = spawn("bash", ["-c", 'ulimit -c unlimited && exec "$@"', "bash", process.execPath, DIST_CLI, ...args], { stdio: "ignore" });
    const closed = new Promise<number | null>((done) => child.on("close", done));
    // Until the limit is set, within the test's time (a fixed 10 s of polling could run out on a loaded 2-core machine).
    let limit = "";
    for (const deadline = Date.now() + 45_000; limit !== "0 0" && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      limit = coreLimit(child.pid!);
    }
    spawn("sh", ["-c", 'echo Pw-core-4b1e > "$1"', "sh", fifo], { stdio: "ignore" }); // not writeFileSync: it would block
    expect([limit, await closed]).toEqual(["0 0", 0]);
  }, 60_000);
});

describe.runIf(canCreateUsers())("long-running commands are non-dumpable: another process of the same user cannot read their memory", () => {
  it("agent", async () => {
    const before = local.issued.length;
    const agent = await startAsUser(cli, ["agent", "--config", config, "--socket", join(home, "agent.sock")], /agent listening on/);
    try {
      const curl = await user.run("curl", ["-sf", "--unix-socket", join(home, "agent.sock"), "http://agent/v1/credentials/P"]);
      expect(curl.code).toBe(0);
      const secret = await latestSecretAfter(before);
      expect(JSON.parse(curl.stdout).SecretAccessKey).toBe(secret);
      const pid = agent.child.pid!;
      expect(await readMemoryAsSameUser(pid, secret)).toBe("denied: EACCES");
      expect(statSync(`/proc/${pid}/mem`).uid).toBe(0); // the kernel hands a non-dumpable process's /proc files to root
      expect(coreLimit(pid)).toBe("0 0");
      expect(agent.log.join("\n")).not.toMatch(/dumpable/);
    } finally {
      await stop(agent);
    }
  });

  it("serve", async () => {
    const before = local.issued.length;
    const serve = await startAsUser(cli, ["serve", "--config", config, "--profile", "P", "--port", "0"], /Local server started on port: \d+/);
    try {
      const port = /port: (\d+)/.exec(serve.log.join("\n"))![1];
      const token = await (await fetch(`http://127.0.0.1:${port}/latest/api/token`, { method: "PUT", headers: { "x-aws-ec2-metadata-token-ttl-seconds": "60" } })).text();
      const answer = await fetch(`http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/P`, { headers: { "x-aws-ec2-metadata-token": token } });
      const secret = await latestSecretAfter(before);
      expect(((await answer.json()) as { SecretAccessKey: string }).SecretAccessKey).toBe(secret);
      const pid = serve.child.pid!;
      expect(await readMemoryAsSameUser(pid, secret)).toBe("denied: EACCES");
      expect(coreLimit(pid)).toBe("0 0");
    } finally {
      await stop(serve);
    }
  });

  it("update", async () => {
    const before = local.issued.length;
    const credentials = join(home, "credentials");
    const update = await startAsUser(cli, ["update", "--config", config, "--config-profile", "P", "--credentials-file", credentials], /updating profile \[P\]/);
    try {
      const secret = await latestSecretAfter(before);
      for (let i = 0; i < 200 && !readFileSyncOrEmpty(credentials).includes(secret); i++) await new Promise((r) => setTimeout(r, 25));
      expect(readFileSyncOrEmpty(credentials)).toContain(secret);
      const pid = update.child.pid!;
      expect(await readMemoryAsSameUser(pid, secret)).toBe("denied: EACCES");
      expect(coreLimit(pid)).toBe("0 0");
    } finally {
      await stop(update);
    }
  });

  it("no Node.js inspector: SIGUSR1 from another process of the user opens none, and one opened by NODE_OPTIONS is refused", async () => {
    // --inspect-port=0: an inspector opened by SIGUSR1 would listen on a free port (before: 'Debugger listening on
    // ws://127.0.0.1:…', and whoever connected ran code in the agent, its credentials and PINs in reach).
    const socket = join(home, "agent-inspector.sock");
    const agent = await startAsUser(cli, ["agent", "--config", config, "--socket", socket], /agent listening on/, { NODE_OPTIONS: "--inspect-port=0" });
    // The control, a plain Node.js of the user's given the same signal: once its inspector is open, the agent has had
    // as long to open one (a fixed wait could end first under load, and the test pass on broken code).
    const control = await startAsUser("-e", ["console.error('ready'); setInterval(() => {}, 1000)"], /^ready$/, { NODE_OPTIONS: "--inspect-port=0" });
    try {
      expect((await user.run("kill", ["-USR1", String(agent.child.pid), String(control.child.pid)])).code).toBe(0);
      for (let i = 0; i < 2400 && !control.log.some((l) => /Debugger listening/.test(l)); i++) await new Promise((r) => setTimeout(r, 25));
      expect(control.log.join("\n")).toMatch(/Debugger listening/);
      expect((await user.run("curl", ["-sf", "--unix-socket", socket, "http://agent/v1/credentials/P"])).code).toBe(0);
      expect(agent.log.join("\n")).not.toMatch(/Debugger listening/);
    } finally {
      await stop(control);
      await stop(agent);
    }
    // Before: the agent ran with the inspector open on 127.0.0.1, which every local user can reach.
    for (const command of [["agent", "--config", config, "--socket", join(home, "agent-inspect.sock")], ["update", "--config", config, "--once"]]) {
      const r = await user.run(process.execPath, [cli, ...command], { env: { HOME: home, NODE_OPTIONS: "--inspect=127.0.0.1:0" }, timeoutMs: 30_000 });
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n").filter((l) => l.startsWith("roles-anywhere-agent:"))).toEqual([
        expect.stringMatching(/^roles-anywhere-agent: the Node\.js inspector is open on 127\.0\.0\.1:\d+: any local user could connect and take the PINs, keys and credentials in this process \(remove --inspect/),
      ]);
    }
  });

  it("without the native helper the agent says in one line that it stays dumpable (its memory is then readable, as SECURITY.md states)", async () => {
    const before = local.issued.length;
    const agent = await startAsUser(cliWithoutNative, ["agent", "--config", config, "--socket", join(home, "agent-fallback.sock")], /agent listening on/);
    try {
      const warnings = agent.log.filter((l) => /dumpable/.test(l));
      expect(warnings).toEqual([
        expect.stringMatching(/^roles-anywhere-agent: warning: the process stays dumpable: the native helper is not available \(native\/linux-x64\/raa_native\.node is not part of this installation\); a core dump, or another process of this user, could read PINs, passwords and credentials from its memory \(see SECURITY\.md\)$/),
      ]);
      expect((await user.run("curl", ["-sf", "--unix-socket", join(home, "agent-fallback.sock"), "http://agent/v1/credentials/P"])).code).toBe(0);
      const secret = await latestSecretAfter(before);
      expect(await readMemoryAsSameUser(agent.child.pid!, secret)).toBe("found");
    } finally {
      await stop(agent);
    }
  });
});

function readFileSyncOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** Reads every readable mapping of /proc/PID/mem and looks for argv[2]. */
const MEMORY_READER = `
import errno, re, sys
pid, secret = sys.argv[1], sys.argv[2].encode()
try:
    maps = open(f"/proc/{pid}/maps").read().splitlines()
    mem = open(f"/proc/{pid}/mem", "rb", 0)
except OSError as e:
    print("denied: " + errno.errorcode.get(e.errno, str(e.errno)))
    sys.exit(0)
for line in maps:
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\\S+)", line)
    start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
    if perms[0] != "r" or end - start > (1 << 30):
        continue
    try:
        mem.seek(start)
        if secret in mem.read(end - start):
            print("found")
            sys.exit(0)
    except OSError:
        pass
print("not found")
`;
