/**
 * A TPM reached over a socket (`tcp:127.0.0.1:PORT`, `unix:/…/swtpm.sock`) is only as trustworthy as whoever
 * listens there. Any local user can bind a loopback port swtpm is not holding (before it starts, while it
 * restarts), or a socket path in a directory they can write. Their "TPM" gets every command: with a salted
 * session to a primary key it made itself, the key password's HMAC to guess offline. The attacker here is a real
 * second account running a relay in front of a real swtpm that counts the bytes it receives; the victim is the
 * built CLI (root). The control: swtpm itself, run by root, and the same relay run by root.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { createConnection, createServer, type Server } from "node:net";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey, lockoutCounter } from "./helpers/tpm-keys.js";
import { urlHost } from "../src/io/listen-tcp.js";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../src/arn.js";
import type { RefreshEvent } from "../src/credentials/credential-cache.js";
import { createCredentialSource } from "../src/credentials/credential-source.js";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf } from "../test/helpers/pki.js";
import { expectUsable, until, untilNewCredentials } from "./helpers/credential-waits.js";

const KEY_PASSWORD = "peer-Check-secret";
const maybe = canCreateUsers() ? describe : describe.skip;

/** A relay to swtpm's TCP port that prints how many bytes each client wrote; `listen`: an address (any port) or a path. */
const RELAY = `
const net = require("net"), fs = require("fs");
const [listen, port, listenPort, mode] = process.argv.slice(1);
const s = net.createServer({ allowHalfOpen: mode === "half-closed" }, (c) => {
  // "half-closed": it sends its FIN at once (its socket leaves ESTABLISHED) and still reads what comes.
  if (mode === "half-closed") return c.on("data", (d) => console.log("BYTES " + d.length)).end();
  const up = net.createConnection({ host: "127.0.0.1", port: Number(port) });
  c.on("data", (d) => { console.log("BYTES " + d.length); up.write(d); });
  up.on("data", (d) => c.write(d));
  const end = () => { c.destroy(); up.destroy(); };
  c.on("close", end); up.on("close", end); c.on("error", end); up.on("error", end);
});
const tcp = net.isIP(listen) > 0;
s.listen(tcp ? { port: Number(listenPort), host: listen } : { path: listen }, () => {
  if (!tcp) fs.chmodSync(listen, 0o666);
  console.log("READY " + (tcp ? s.address().port : listen));
});
`;

interface Relay {
  readonly device: string;
  readonly received: () => number;
  /** Resolves once the relay has exited, its ports free again (swtpm restarts on one of them). */
  stop(): Promise<void>;
}

/** `netns`: the relay runs in that network namespace (made by the test). */
async function startRelay(user: LocalUser, listen: string, swtpmPort: number, scheme: "tcp" | "unix", listenPort = 0, mode = "relay", netns?: string): Promise<Relay> {
  const args = ["-e", RELAY, listen, String(swtpmPort), String(listenPort), mode];
  const as = ["setpriv", "--reuid", String(user.uid), "--regid", String(user.gid), "--clear-groups"];
  const child = netns === undefined
    ? user.spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] })
    : spawn("ip", ["netns", "exec", netns, ...as, process.execPath, ...args], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: process.env["PATH"] } });
  // The relay's stdout lines, READY first, then one BYTES line per chunk relayed (the array keeps growing).
  const out = await untilLogLine(child, /^READY /, 60_000, child.stdout!).catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });
  const where = out.find((line) => line.startsWith("READY "))!.slice(6);
  const received = () => out.filter((line) => line.startsWith("BYTES ")).reduce((sum, line) => sum + Number(line.slice(6)), 0);
  const host = listen === "::" ? "127.0.0.1" : urlHost(listen);
  return { device: scheme === "tcp" ? `tcp:${host}:${where}` : `unix:${where}`, received, stop: async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, "exit");
    child.kill("SIGKILL");
    await gone;
  } };
}

/** The same relay as the test's own process (root): the control for "served by root". */
async function rootRelay(swtpmPort: number): Promise<{ server: Server; device: string }> {
  const server = createServer((c) => {
    const up = createConnection({ host: "127.0.0.1", port: swtpmPort });
    c.pipe(up).pipe(c);
    const end = () => (c.destroy(), up.destroy());
    c.on("close", end).on("error", end);
    up.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, device: `tcp:127.0.0.1:${(server.address() as { port: number }).port}` };
}

maybe("a TPM socket served by another local user", () => {
  let tpm: Swtpm;
  let attacker: LocalUser;
  let dir: string;
  let keyPath: string;
  let publicKeyPath: string;

  beforeAll(async () => {
    tpm = await startSwtpm({ transport: "tcp" });
    ({ keyPath, publicKeyPath } = await genpkey(tpm, "peer", { algorithm: "EC", userAuth: KEY_PASSWORD }));
    dir = mkdtempSync(join(tmpdir(), "raa-tpm-peer-"));
    chmodSync(dir, 0o755); // the attacker reaches its home below
    attacker = createLocalUser("raar3tpm", dir);
  }, 60_000);

  afterAll(async () => {
    attacker?.remove();
    await tpm?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const signString = (device: string, launcher: readonly string[] = []) =>
    runCli(DIST_CLI, ["sign-string", "--private-key", keyPath, "--tpm-device", device, "--tpm-key-password-env", "KEY_PW", "--format", "text"], {
      PATH: process.env["PATH"],
      KEY_PW: KEY_PASSWORD,
    }, 90_000, launcher);

  it("swtpm itself (root) and a relay run by root: signed (control)", async () => {
    const direct = await signString(tpm.device);
    expect(direct.code, direct.stderr).toBe(0);
    const relay = await rootRelay(tpm.port!);
    try {
      const r = await signString(relay.device);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      relay.server.close();
    }
  });

  // "::" takes IPv4 connections too: the attacker's end of one is then in /proc/net/tcp6, as ::ffff:127.0.0.1.
  it.each([
    ["tcp", "127.0.0.1", "relay"],
    ["tcp", "::", "relay"],
    ["tcp", "::1", "relay"],
    ["unix", "swtpm.sock", "relay"],
    ["tcp", "127.0.0.1", "half-closed"],
  ] as const)("%s (%s, %s): refused in one line, the attacker's listener receives no byte, no dictionary-attack try", async (scheme, listen, mode) => {
    const relay = await startRelay(attacker, scheme === "tcp" ? listen : join(attacker.home, listen), tpm.port!, scheme, 0, mode);
    try {
      const strikes = await lockoutCounter(tpm);
      const r = await signString(relay.device);
      expect(r.stderr).toMatch(new RegExp(`^roles-anywhere-agent: refusing the TPM at ${relay.device.replace(/[.[\]]/g, "\\$&")}: it is served by uid ${attacker.uid}( \\(pid \\d+\\))?, not by this user \\(0\\) or root \\(another user may be listening`));
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toContain(KEY_PASSWORD);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe("");
      expect(relay.received()).toBe(0);
      expect(await lockoutCounter(tpm)).toBe(strikes);
    } finally {
      await relay.stop();
    }
  });

  // An address of this host that is not loopback, IPv6 (before: not looked up in /proc/net/tcp6, so its listener was
  // trusted as if on another host). In a network namespace of the test's own, that address on its loopback device.
  it("tcp on an IPv6 address of this host, not ::1: refused in one line, the attacker's listener receives no byte", async () => {
    const ns = `raa-tpmpeer-${process.pid}`;
    const address = "fd00:5a5a::1";
    execFileSync("ip", ["netns", "add", ns]);
    let relay: Relay | undefined;
    try {
      execFileSync("ip", ["-n", ns, "link", "set", "lo", "up"]);
      execFileSync("ip", ["-n", ns, "addr", "add", `${address}/128`, "dev", "lo", "nodad"]);
      relay = await startRelay(attacker, address, tpm.port!, "tcp", 0, "half-closed", ns);
      const r = await signString(relay.device, ["ip", "netns", "exec", ns]);
      expect(relay.received()).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^roles-anywhere-agent: refusing the TPM at ${relay.device.replace(/[.[\]]/g, "\\$&")}: it is served by uid ${attacker.uid}( \\(pid \\d+\\))?, not by this user \\(0\\) or root`));
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.code).toBe(3);
    } finally {
      await relay?.stop();
      execFileSync("ip", ["netns", "del", ns]);
    }
  });

  it("swtpm restarting under a long-running source: the attacker on its port meanwhile gets no byte; swtpm back, it signs again", async () => {
    const ca = createCa(join(dir, "ca"), { name: "TPM Peer CA" });
    const certPath = issueLeaf(ca, join(dir, "certs"), { name: "peer", publicKeyPath }).certPath;
    const endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
    let offsetMs = 0;
    const now = () => Date.now() + offsetMs;
    const events: RefreshEvent[] = [];
    const src = createCredentialSource({
      name: "tpm-peer",
      settings: {
        signer: { certificate: certPath, privateKey: keyPath, tpm: { device: tpm.device, keyPassword: { kind: "value", value: KEY_PASSWORD } } },
        session: {
          trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/peer"),
          profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:000000000000:profile/peer"),
          roleArn: parseRoleArn("arn:aws:iam::000000000000:role/peer"),
          durationSeconds: 900,
        },
        endpoint: { endpoint: endpoint.url, connectTimeoutMs: 1_000, timeoutMs: 5_000, maxAttempts: 1 },
      },
      now,
      policy: { expiryMarginMs: 1_000, retryBaseMs: 100, retryMaxMs: 200, minRetryIntervalMs: 100 },
      onEvent: (_name, event) => events.push(event),
    });
    let relay: Relay | undefined;
    try {
      const first = expectUsable(await src.get(), now());
      await tpm.kill();
      // The attacker takes swtpm's port while it is down (its relay leads nowhere: swtpm's control port is down too).
      relay = await startRelay(attacker, "127.0.0.1", tpm.port! + 1, "tcp", tpm.port!);
      offsetMs = 800_000; // the refresh is due
      expect(expectUsable(await src.get(), now()).accessKeyId).toBe(first.accessKeyId);
      // The first try may fail on the connection swtpm's death broke; the signer then connects again, to the attacker.
      const codes = () => events.flatMap((e) => (e.type === "refresh-failed" ? [e.error.code] : []));
      await until("a refresh refused for the attacker's port", () => {
        void src.get().catch(() => undefined); // asking drives the retries
        return codes().includes("SOCKET_UNSAFE") ? true : undefined;
      });
      expect(relay.received()).toBe(0);
      await relay.stop();
      relay = undefined;
      await tpm.restart();
      expect(expectUsable(await untilNewCredentials(src, first), now()).accessKeyId).not.toBe(first.accessKeyId);
    } finally {
      await relay?.stop();
      await src.close();
      await endpoint.close();
    }
  });
});
