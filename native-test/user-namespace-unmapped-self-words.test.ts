/**
 * Round 37 (S34): the words of two owner checks inside a user namespace, with real accounts.
 * - `unshare --user` with no map: the process runs as 65534, and so does every host file, its own user's too. The
 *   secret-file warnings (src/os/exposed-file.ts) told bob that his own key in /tmp, or his key in his own directory
 *   there, "belongs to another user … copy it to a file of your own" / "… move it to a directory of your own": a copy he
 *   makes there shows as 65534 as well, and is told the same. They now say that whose it is cannot be told, and what
 *   does: mapping the user, or a directory others cannot write to.
 * - `--map-current-user`: the agent's socket directory of another host user (65534 in there) was refused as
 *   `belongs to uid 65534, not to this user (N)`, without saying that 65534 stands for a user outside the namespace.
 *   With no map, the same directory passes the uid check (65534 is this process's uid too) and the kernel refuses the
 *   listen (0700: only its owner enters it): that is pinned here.
 */
import { execFileSync } from "node:child_process";
import { chownSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canCreateUsers } from "./helpers/local-user.js";
import { asUser, canUnshare, unreachableConfig, userNamespaceAccounts } from "./helpers/user-namespace.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const usable = canCreateUsers() && canUnshare("no map") && canUnshare("--map-current-user");
// root's 0755 directory, not in /tmp
const accounts = userNamespaceAccounts("raa-userns-s34-", { bob: "s34b", mal: "s34m" }, { usable, leaf: { ca: "S34 CA", name: "s34-device" } });
const { dir, users: { bob, mal } } = accounts;

const WARNING = "roles-anywhere-agent: warning: ";
const CANNOT_TELL = "this process runs as an unmapped user in a user namespace (uid 65534): whose files these are cannot be told";
const HINT = "map your user (unshare --user --map-current-user), or keep it out of directories others can write to (/tmp)";
const env = () => ({ PATH: process.env["PATH"], HOME: bob.home });
const sign = (key: string) =>
  runCli(DIST_CLI, ["sign-string", "--certificate", accounts.leaf.certPath, "--private-key", key, "abc"], env(), 90_000, asUser(bob, "no map"));

describe.runIf(usable)("owner words in a user namespace (real unshare, real accounts)", () => {
  it("no map: bob's own key in /tmp is not told as another user's with a copy as its fix (a copy there is told the same)", async () => {
    const key = accounts.keyAt(accounts.inTmp(join(tmpdir(), `${bob.name}-key.pem`)), bob, 0o600);
    const copy = accounts.inTmp(join(tmpdir(), `${bob.name}-copy.pem`));
    // The fix the line gave, made as told: in there, bob's copy shows as 65534 too.
    const [cmd, ...args] = asUser(bob, "no map");
    expect(execFileSync(cmd!, [...args, "sh", "-c", `cp "$0" "$1" && stat -c %u "$1"`, key, copy], { encoding: "utf8" }).trim()).toBe("65534");
    for (const path of [key, copy]) {
      const r = await sign(path);
      expect(r.code, r.stderr).toBe(0);
      // Was: `… belongs to another user (uid 65534, a user outside this user namespace), who can change it: copy it to a file of your own`
      expect(r.stderr).toBe(`${WARNING}private key file ${path} may be another user's, who could change it: ${CANNOT_TELL}: ${HINT}\n`);
    }
  });

  it("no map: bob's key in his own directory in /tmp: whose the directory is cannot be told either", async () => {
    const own = bob.mkdir(accounts.inTmp(join(tmpdir(), `${bob.name}-dir`)), 0o700);
    const key = accounts.keyAt(join(own, "key.pem"), bob, 0o600);
    const r = await sign(key);
    expect(r.code, r.stderr).toBe(0);
    // Was: `… is in a directory owned by another user (uid 65534, a user outside this user namespace, DIR), who can replace it: move it to a directory of your own`
    expect(r.stderr).toBe(`${WARNING}private key file ${key} is in a directory that may be another user's (${own}), who could replace it: ${CANNOT_TELL}: ${HINT}\n`);
  });

  it("no map: bob's key in his home (root's 0755 directory above it): no word, as before", async () => {
    const r = await sign(accounts.keyAt(join(bob.home, "key.pem"), bob, 0o600));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });

  describe("the agent's socket directory of mal's (0700, in root's 0755 directory)", () => {
    const agent = (map: "no map" | "--map-current-user", socket: string) => {
      const config = join(bob.home, "config.json");
      writeFileSync(config, unreachableConfig(accounts.leaf.certPath, accounts.keyAt(join(bob.home, "agent-key.pem"), bob, 0o600)), { mode: 0o600 });
      chownSync(config, bob.uid, bob.gid);
      return runCli(DIST_CLI, ["agent", "--config", config, "--socket", socket], env(), 30_000, asUser(bob, map));
    };

    it("--map-current-user: refused, naming 65534 as a user outside the namespace", async () => {
      const malsDir = mal.mkdir(join(dir, "mal-sockets"), 0o700);
      const r = await agent("--map-current-user", join(malsDir, "agent.sock"));
      // Was: `socket directory DIR belongs to uid 65534, not to this user (N)`
      expect(r.stderr).toContain(`socket directory ${malsDir} belongs to uid 65534, a user outside this user namespace, not to this user (${bob.uid})`);
      expect(r.code).toBe(3);
    });

    it("no map: its uid is this process's too, and the kernel refuses the listen (nothing listens there)", async () => {
      const malsDir = mal.mkdir(join(dir, "mal-sockets-2"), 0o700);
      const r = await agent("no map", join(malsDir, "agent.sock"));
      expect(r.stderr).toContain(`cannot listen on ${join(malsDir, "agent.sock")}: EACCES`);
      expect(r.code).not.toBe(0);
    });
  });
});
