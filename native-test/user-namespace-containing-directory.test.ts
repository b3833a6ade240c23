/**
 * Round 34 (R22): the owner checks that judged an entry without the directory it sits in, inside a user namespace that
 * does not map the host's root (`unshare --user --map-current-user`): there every other host user's path shows as the
 * overflow uid 65534, as root's do, and only the directory tells them apart (an entry in a sticky directory others can
 * write to, /tmp, is another user's: rootsOwner). user-namespace-trust.test.ts has the walk's own cases.
 * - `serve --ecs-env-dir` in another user's directory in /tmp took it for root's: passed on to the lock it could not
 *   make (EACCES), a directory whose owner can make it writable (chmod) and replace the consumers' files in it.
 * - A TPM simulator socket another user made in /tmp, without the native helper: counted as root's, so the key
 *   password's HMAC and every command went to her relay. With the helper the peer (SO_PEERCRED: 65534) is refused.
 * - The agent socket (checked here, no change): its directory may not be writable, so /tmp is refused, and another
 *   user's directory there by the walk; with the helper the peer is.
 * - `update --credentials-file` walks checking links only: her directory in /tmp was never judged, so her link in it
 *   was followed as root's, and the user's update rewrote (and chmodded) the file of his it named. A directory of 65534
 *   in /tmp, and one of 65534 below it, now count as hers (trusted-path's `theirs`), and so do the links in them.
 * The accounts' directories are under the worktree's tmp/ (root's, 0755, not sticky).
 */
import { chmodSync, chownSync, copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { canCreateUsers } from "./helpers/local-user.js";
import { asUser, canUnshare as canUnshareWith, userNamespaceAccounts } from "./helpers/user-namespace.js";
import { distCopy, startFakeAgent, type FakeAgent } from "./helpers/local-trust.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey } from "./helpers/tpm-keys.js";

const canUnshare = canUnshareWith("--map-current-user");
const usable = canCreateUsers() && canUnshare;
// root's 0755 directory, not in /tmp; what is made in /tmp: accounts.inTmp
const accounts = userNamespaceAccounts("raa-userns-within-", { bob: "raa22b", mal: "raa22m" }, { usable, leaf: { ca: "Userns Sockets CA", name: "userns-sockets" } });
const { dir, users: { bob, mal } } = accounts;
let cliWithoutNative: string;
let endpoint: LocalEndpoint;

const OUTSIDE = "a user outside this user namespace";
const ARN_FLAGS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/userns",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/userns",
  "--role-arn", "arn:aws:iam::000000000000:role/R",
];
/** bob, in a user namespace that maps only him: the host's root, and mal, show as 65534. */
const inside = () => asUser(bob, "--map-current-user");
const ENV = () => ({ PATH: process.env["PATH"], HOME: bob.home });

beforeAll(async () => {
  if (!usable) return;
  endpoint = await startLocalEndpoint({ trustAnchors: [accounts.ca.certPath], port: 0, region: "us-east-1" });
  copyFileSync(accounts.leaf.keyPath, join(bob.home, "key.pem"));
  chownSync(join(bob.home, "key.pem"), bob.uid, bob.gid);
  cliWithoutNative = distCopy(process.cwd(), join(dir, "without-native"), { withoutNativeHelper: true });
}, 120_000);
afterAll(async () => {
  await endpoint?.close();
});

/** A name of mal's in /tmp (removed after the file). */
const malsTmpName = (what: string) => {
  return accounts.inTmp(join(tmpdir(), `${mal.name}-${what}`));
};

/** mal's relay on a UNIX socket to swtpm's TCP port; `received()`: the bytes its clients wrote. */
async function startRelay(path: string, swtpmPort: number): Promise<{ received: () => number; stop: () => void }> {
  const script = `
const net = require("net"), fs = require("fs");
const s = net.createServer((c) => {
  const up = net.createConnection({ host: "127.0.0.1", port: ${swtpmPort} });
  c.on("data", (d) => { console.log("BYTES " + d.length); up.write(d); });
  up.on("data", (d) => c.write(d));
  const end = () => { c.destroy(); up.destroy(); };
  c.on("close", end); up.on("close", end); c.on("error", end); up.on("error", end);
});
s.listen(${JSON.stringify(path)}, () => { fs.chmodSync(${JSON.stringify(path)}, 0o666); console.log("READY"); });`;
  const child = mal.spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`relay exited (${code})`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line === "READY") resolve();
      else if (line.startsWith("BYTES ")) bytes += Number(line.slice(6));
    });
  });
  return { received: () => bytes, stop: () => child.kill("SIGKILL") };
}

describe.runIf(usable)("owner checks of sockets and directories in /tmp inside a user namespace (real unshare, real accounts)", () => {
  it("serve --ecs-env-dir in mal's directory in /tmp: refused as hers, not taken for root's", async () => {
    const malsDir = mal.mkdir(malsTmpName("ecs"), 0o755);
    const run = (envDir: string) => runCli(DIST_CLI, [
      "serve", "--certificate", accounts.leaf.certPath, "--private-key", join(bob.home, "key.pem"), ...ARN_FLAGS, "--endpoint", "http://127.0.0.1:1",
      "--port", "0", "--ecs", "--ecs-consumer", "app=R", "--ecs-env-dir", envDir, "--fail-fast",
    ], ENV(), 90_000, inside());
    let r = await run(malsDir);
    // Was: accepted as root's, then "cannot create lock file …/.serve.lock: EACCES" (its owner can chmod it writable).
    expect(r.stderr).toContain(`--ecs-env-dir ${malsDir} was not used: directory ${malsDir} belongs to uid 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`);
    expect(r.code).toBe(3);
    expect(existsSync(join(malsDir, ".serve.lock"))).toBe(false);
    // Control: bob's own directory in /tmp (his id is mapped) passes; serve then fails at the endpoint (--fail-fast).
    const own = join(tmpdir(), `${bob.name}-ecs`);
    accounts.inTmp(own);
    r = await run(own);
    expect(r.stderr).not.toContain("was not used");
    expect(r.stderr).toContain("http://127.0.0.1:1");
  });

  describe("a TPM simulator socket mal made in /tmp", () => {
    let tpm: Swtpm;
    let key: string;
    beforeAll(async () => {
      tpm = await startSwtpm({ transport: "tcp" });
      const { keyPath } = await genpkey(tpm, "userns", { algorithm: "EC", userAuth: "userns-Key-pw" });
      key = join(bob.home, "tpm-key.pem");
      copyFileSync(keyPath, key);
      chownSync(key, bob.uid, bob.gid);
    }, 60_000);
    afterAll(async () => {
      await tpm?.stop();
    });
    const sign = (cli: string, device: string) => runCli(cli, ["sign-string", "--private-key", key, "--tpm-device", device, "--tpm-key-password-env", "KEY_PW", "--format", "text", "abc"], { ...ENV(), KEY_PW: "userns-Key-pw" }, 90_000, inside());

    it("without the native helper: refused as hers, her relay receives no byte (was: signed through it)", async () => {
      const socket = malsTmpName("swtpm.sock");
      const relay = await startRelay(socket, tpm.port!);
      try {
        const r = await sign(cliWithoutNative, `unix:${socket}`);
        expect(r.stderr).toContain(`refusing the TPM at unix:${socket}: the socket belongs to uid 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`);
        expect(r.code).toBe(3);
        expect(relay.received()).toBe(0);
      } finally {
        relay.stop();
      }
    });

    it("with the native helper: its peer (SO_PEERCRED: 65534) is refused, no byte sent (no change needed)", async () => {
      const socket = malsTmpName("swtpm2.sock");
      const relay = await startRelay(socket, tpm.port!);
      try {
        const r = await sign(DIST_CLI, `unix:${socket}`);
        expect(r.stderr).toMatch(new RegExp(`refusing the TPM at unix:${socket}: it is served by uid 65534( \\(pid \\d+\\))?, not by this user \\(${bob.uid}\\) or root`));
        expect(r.code).toBe(3);
        expect(relay.received()).toBe(0);
      } finally {
        relay.stop();
      }
    });
  });

  it("the agent socket mal made in /tmp, or in her directory there: refused with and without the helper, signed directly (no change needed)", async () => {
    const config = join(bob.home, "config.json");
    writeFileSync(config, JSON.stringify({
      version: 1,
      profiles: { p: { certificate: accounts.leaf.certPath, "private-key": join(bob.home, "key.pem"), "trust-anchor-arn": ARN_FLAGS[1], "profile-arn": ARN_FLAGS[3], "role-arn": ARN_FLAGS[5], endpoint: "http://127.0.0.1:1" } },
    }), { mode: 0o600 });
    chownSync(config, bob.uid, bob.gid);
    const direct = malsTmpName("agent.sock");
    const malsDir = mal.mkdir(malsTmpName("agent"), 0o755);
    const fakes: FakeAgent[] = [];
    try {
      for (const [socket, walk] of [
        [direct, `its directory ${tmpdir()} can be written by other users (mode 1777)`],
        [join(malsDir, "agent.sock"), `directory ${malsDir} belongs to uid 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`],
      ] as const) {
        const fake = await startFakeAgent(mal, socket);
        fakes.push(fake);
        for (const [cli, why] of [[cliWithoutNative, walk], [DIST_CLI, `it is served by uid 65534 (pid`]] as const) {
          const r = await runCli(cli, ["credential-process", "--config", config, "--profile", "p"], { ...ENV(), ROLES_ANYWHERE_AGENT_SOCKET: socket }, 90_000, inside());
          // Refused, then signed directly (at an endpoint that is not there: 7), never the agent's answer.
          expect(r.stderr).toContain(`warning: refusing to use the agent socket ${socket}: ${why}`);
          expect(r.stderr).toContain("cannot connect to endpoint http://127.0.0.1:1");
          expect(r.code).toBe(7);
        }
        expect(fake.requests).toEqual([]);
      }
    } finally {
      for (const fake of fakes) fake.stop();
    }
  });
  it("update --credentials-file through mal's link in her directory in /tmp, or one below it: refused, bob's file untouched (was: rewritten)", async () => {
    const victim = join(bob.home, "victim");
    const malsDir = mal.mkdir(malsTmpName("aws"), 0o755);
    mal.mkdir(join(malsDir, "sub"), 0o755);
    const update = (file: string, launcher: string[]) => runCli(DIST_CLI, [
      "update", "--once", "--certificate", accounts.leaf.certPath, "--private-key", join(bob.home, "key.pem"), ...ARN_FLAGS,
      "--endpoint", endpoint.url, "--credentials-file", file, "--profile", "p",
    ], { ...ENV(), NODE_EXTRA_CA_CERTS: "" }, 90_000, launcher);
    for (const link of [join(malsDir, "credentials"), join(malsDir, "sub", "credentials")]) {
      writeFileSync(victim, "[keep]\nx = 1\n", { mode: 0o644 });
      chownSync(victim, bob.uid, bob.gid);
      expect((await mal.run("ln", ["-s", victim, link])).code).toBe(0);
      const why = `not writing ${link}: symbolic link ${link} belongs to uid`;
      let r = await update(link, asUser(bob)); // outside: refused as mal's, as before
      expect(r.stderr).toContain(`${why} ${mal.uid}, not to this user (${bob.uid}) or root`);
      r = await update(link, inside());
      // Was: exit 0, "wrote profile [p] to …", bob's file rewritten with the credentials and made 0640.
      expect(r.stderr).toContain(`${why} 65534, ${OUTSIDE}, not to this user (${bob.uid}) or root`);
      expect(r.code).toBe(3);
      expect({ text: readFileSync(victim, "utf8"), mode: statSync(victim).mode & 0o777 }).toEqual({ text: "[keep]\nx = 1\n", mode: 0o644 });
    }
    // Control: bob's own link in /tmp is followed in there (his id is mapped).
    const own = join(tmpdir(), `${bob.name}-credentials`);
    accounts.inTmp(own);
    expect((await bob.run("ln", ["-s", victim, own])).code).toBe(0);
    const r = await update(own, inside());
    expect(r.stderr).toContain(`wrote profile [p] to ${own}`);
    expect(r.code).toBe(0);
    expect(readFileSync(victim, "utf8")).toContain("[p]\naws_access_key_id = ASIA");
  }, 120_000);
});
