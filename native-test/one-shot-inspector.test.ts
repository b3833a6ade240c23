/**
 * No Node.js inspector while a one-shot command (credential-process, sign-string) holds a key password: whoever
 * connects to its TCP port (any local user) runs code in the process and takes the password. One opened by
 * NODE_OPTIONS is refused before the first secret is read; SIGUSR1, by which any process of the same user would
 * open one while the command waits for its password, opens none. A command that reads no secret runs as before.
 */
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../test/helpers/pki.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { createSoftHsmFixture } from "./helpers/softhsm-fixture.js";

const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/device",
];
const PASSWORD = "Pw-inspector-3b8e51d0";
const env = { ...process.env, CI: "true", NODE_EXTRA_CA_CERTS: "", AWS_CA_BUNDLE: "", XDG_RUNTIME_DIR: "/nonexistent" };
const REFUSAL = /^roles-anywhere-agent: the Node\.js inspector is open on 127\.0\.0\.1:\d+: any local user could connect and take the PINs, keys and credentials in this process \(remove --inspect/;

const { dir, cleanup } = makeTempDir("raa-one-shot-inspector-");
let local: LocalEndpoint;
let leaf: ReturnType<typeof issueLeaf>;
let encrypted: string;

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Inspector CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "inspector-leaf", keyType: "p256" });
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
  encrypted = join(dir, "encrypted.pem");
  openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", `file:${passwordFile}`, "-out", encrypted]);
  local = await startLocalEndpoint({ trustAnchors: ca.certPath, port: 0 });
});
afterAll(async () => {
  await local?.close();
  cleanup();
});

/** A FIFO as password file: reading it blocks until the test writes (never, or when it chooses). */
function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync("mkfifo", ["-m", "600", path]);
  return path;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 60_000; !condition(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > deadline) throw new Error(`still not: ${what}`);
  }
}

function opened(pid: number, path: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** SIGUSR1 (10) neither pending for the process nor for one of its threads: a handler has taken it. */
function sigusr1Taken(pid: number): boolean {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const pending = [...status.matchAll(/^(?:SigPnd|ShdPnd):\s*([0-9a-f]+)$/gm)].map((m) => BigInt(`0x${m[1]}`));
  return pending.length === 2 && pending.every((mask) => (mask & (1n << 9n)) === 0n);
}

describe("one-shot commands and the Node.js inspector", () => {
  it("credential-process and sign-string with an encrypted key under NODE_OPTIONS=--inspect: exit 2, one line, password not read", async () => {
    // Before: the command opened the password file (here a FIFO nobody writes to) with the inspector listening.
    const password = fifo("never-written");
    const commands = [
      ["credential-process", "--certificate", leaf.certPath, "--private-key", encrypted, "--pkcs8-password-file", password, ...ARNS, "--endpoint", local.url],
      ["sign-string", "--private-key", encrypted, "--pkcs8-password-file", password],
    ];
    for (const command of commands) {
      const r = await runCli(DIST_CLI, command, { ...env, NODE_OPTIONS: "--inspect=127.0.0.1:0" }, 60_000);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.split("\n").filter((l) => l.startsWith("roles-anywhere-agent:"))).toEqual([expect.stringMatching(REFUSAL)]);
    }
  });

  it("sign-string with a token's PIN as the URI's pin-value under NODE_OPTIONS=--inspect: exit 2, one line", async () => {
    // Before: the PIN was presented to the token (C_Login) and the key used with the inspector listening; a PIN file
    // or variable was refused.
    const hsm = createSoftHsmFixture("raa-one-shot-inspector-hsm-");
    try {
      const key = `pkcs11:token=${hsm.token};object=ec-key?pin-value=${hsm.pin}`;
      const inspect = { ...env, SOFTHSM2_CONF: hsm.conf, NODE_OPTIONS: "--inspect=127.0.0.1:0" };
      const r = await runCli(DIST_CLI, ["sign-string", "--private-key", key, "--pkcs11-lib", hsm.module], inspect, 60_000);
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr.split("\n").filter((l) => l.startsWith("roles-anywhere-agent:"))).toEqual([expect.stringMatching(REFUSAL)]);
    } finally {
      hsm.cleanup();
    }
  });

  it("credential-process with a plain key under NODE_OPTIONS=--inspect: no secret to protect, runs as before", async () => {
    const r = await runCli(DIST_CLI, ["credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARNS, "--endpoint", local.url], { ...env, NODE_OPTIONS: "--inspect=127.0.0.1:0" }, 60_000);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
  });

  it("SIGUSR1 while credential-process waits for its password opens no inspector, and the command completes", async () => {
    const password = fifo("written-late");
    const args = ["credential-process", "--certificate", leaf.certPath, "--private-key", encrypted, "--pkcs8-password-file", password, ...ARNS, "--endpoint", local.url];
    // --inspect-port=0: an inspector opened by the signal listens on a free port. Before: 'Debugger listening on ws://…'.
    const child = spawn(process.execPath, [DIST_CLI, ...args], { env: { ...env, NODE_OPTIONS: "--inspect-port=127.0.0.1:0" }, stdio: ["ignore", "pipe", "pipe"] });
    let [stdout, stderr] = ["", ""];
    child.stdout.on("data", (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const pid = child.pid!;
      await until(() => opened(pid, password), "the password FIFO is open");
      process.kill(pid, "SIGUSR1");
      await until(() => sigusr1Taken(pid), "SIGUSR1 taken");
      writeFileSync(password, PASSWORD);
      expect(await exited).toBe(0);
      expect(stderr).not.toMatch(/Debugger listening/);
      expect(JSON.parse(stdout).AccessKeyId).toMatch(/^ASIA/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
