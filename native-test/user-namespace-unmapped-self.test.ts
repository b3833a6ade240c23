/**
 * Round 35 (R24): `unshare --user` with no map written. The process's own uid is then unmapped too: it runs as the
 * overflow uid 65534, and every host file shows as 65534, its user's and every other user's alike. The owner rule took
 * "65534 === this process's uid" as ours, so another user's link in /tmp, which the rule refuses as hers under
 * `--map-current-user`, passed as this user's own, and her config was used (its PKCS#11 module would be dlopen()ed).
 * Now such an owner is judged as root's is (ownedByOrRoot): used in the user's home and in root's directories, as
 * before; refused where others made it, with a line that says why and what to do.
 */
import { execFileSync } from "node:child_process";
import { chownSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canCreateUsers, type LocalUser } from "./helpers/local-user.js";
import { asUser, canUnshare, unreachableConfig, userNamespaceAccounts } from "./helpers/user-namespace.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const canUnshareUnmapped = canUnshare("no map");
// root's 0755 directory, not in /tmp
const accounts = userNamespaceAccounts("raa-userns-self-", { bob: "r35r24b", mal: "r35r24m" }, { usable: canCreateUsers() && canUnshareUnmapped, leaf: { ca: "Unmapped CA", name: "unmapped-device" } });
const { dir, users: { bob, mal } } = accounts;

const configFor = (key: string) => unreachableConfig(accounts.leaf.certPath, key);
/** `user`'s key and config (endpoint 127.0.0.1:1: a config that is used ends in "cannot connect", exit 7) in `where`. */
const configIn = (where: string, user: LocalUser, mode: number) => {
  const key = accounts.keyAt(join(where, "key.pem"), user, mode);
  const config = join(where, "config.json");
  writeFileSync(config, configFor(key), { mode });
  chownSync(config, user.uid, user.gid);
  return config;
};
const unmapped = () => asUser(bob, "no map");
const credentials = (config: string) =>
  runCli(DIST_CLI, ["credential-process", "--config", config, "--profile", "p"], { PATH: process.env["PATH"], HOME: bob.home }, 90_000, unmapped());
const USED = "cannot connect to endpoint http://127.0.0.1:1";
const CANNOT_TELL = "may be another user's: this process runs as an unmapped user in a user namespace (uid 65534): whose files these are cannot be told; map your user (unshare --user --map-current-user)";

describe.runIf(canCreateUsers() && canUnshareUnmapped)("this process's own uid unmapped (unshare --user, no map; real accounts)", () => {
  it("there it runs as 65534 with an empty uid_map, and every host file shows as 65534", () => {
    const [cmd, ...args] = unmapped();
    const seen = execFileSync(cmd!, [...args, "sh", "-c", `id -u; wc -c < /proc/self/uid_map; stat -c %u / ${bob.home} ${dir}`], { encoding: "utf8" });
    expect(seen.split(/\s+/).filter(Boolean)).toEqual(["65534", "0", "65534", "65534", "65534"]);
  });

  it("bob's own config in his home is used, as before", async () => {
    const r = await credentials(configIn(bob.home, bob, 0o600));
    expect(r.stderr).toContain(USED);
    expect(r.code).toBe(7);
  });

  it("mal's link in /tmp to her config is refused, saying why and what to do (was: her config used as bob's own)", async () => {
    const evil = mal.mkdir(join(dir, "mal-evil"), 0o755);
    const planted = accounts.inTmp(join(tmpdir(), `${mal.name}-config.json`));
    expect((await mal.run("ln", ["-s", configIn(evil, mal, 0o644), planted])).code).toBe(0);
    const r = await credentials(planted);
    // Was: exit 7, "cannot connect to endpoint …": the link's owner (65534) equalled this process's uid (65534).
    expect(r.stderr).toContain(`symbolic link ${planted} ${CANNOT_TELL}`);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("mal's directory in /tmp holding her config is refused too", async () => {
    const malsTmp = mal.mkdir(accounts.inTmp(join(tmpdir(), `${mal.name}-dir`)), 0o755);
    const r = await credentials(configIn(malsTmp, mal, 0o644));
    expect(r.stderr).toContain(`directory ${malsTmp} ${CANNOT_TELL}`);
    expect(r.code).toBe(3);
  });
});
