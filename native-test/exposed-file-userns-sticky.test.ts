/**
 * Round 34 (S28): the secret-file warnings' owner rules in a user namespace that does not map the host's root
 * (`--map-current-user` run by a real account): every other host user's file and directory shows as the overflow uid
 * 65534 there, as root's do. R21 made `rootsOwner(uid, within)` tell them apart in a sticky directory others can write
 * to (/tmp: root plants nothing there), and the config file's walk passes that directory; the warnings
 * (src/os/exposed-file.ts) did not, so another user's key in /tmp, or a key in her directory in /tmp, got no word
 * about its owner in there, though the same user is told outside.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canCreateUsers } from "./helpers/local-user.js";
import { asUser, canUnshare as canUnshareWith, userNamespaceAccounts } from "./helpers/user-namespace.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const canUnshare = canUnshareWith();
// root's 0755 directory, not in /tmp
const accounts = userNamespaceAccounts("raa-userns-sticky-", { bob: "raa28b", mal: "raa28m" }, { usable: canCreateUsers() && canUnshare, leaf: { ca: "Sticky CA", name: "sticky-device" } });
const { users: { bob, mal }, keyAt } = accounts;

const WARNING = "roles-anywhere-agent: warning: ";
const OUTSIDE = "a user outside this user namespace";

describe.runIf(canCreateUsers() && canUnshare)("secret-file warnings in a user namespace without the host's root, in /tmp (real accounts)", () => {
  const asBob = () => asUser(bob, "--map-current-user");
  const sign = (key: string) =>
    runCli(DIST_CLI, ["sign-string", "--certificate", accounts.leaf.certPath, "--private-key", key, "abc"], { PATH: process.env["PATH"], HOME: bob.home }, 90_000, asBob());

  it("mal's key in /tmp itself: told as hers, outside the namespace (was: only its mode)", async () => {
    const key = keyAt(accounts.inTmp(join(tmpdir(), `${mal.name}-key.pem`)), mal, 0o644);
    const r = await sign(key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${WARNING}private key file ${key} belongs to another user (uid 65534, ${OUTSIDE}), who can change it: copy it to a file of your own\n`);
  });

  it("bob's own key in mal's directory in /tmp: told as in her directory (was: nothing)", async () => {
    const malsDir = mal.mkdir(accounts.inTmp(join(tmpdir(), `${mal.name}-dir`)), 0o755);
    const key = keyAt(join(malsDir, "key.pem"), bob, 0o600);
    const r = await sign(key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`${WARNING}private key file ${key} is in a directory owned by another user (uid 65534, ${OUTSIDE}, ${malsDir}), who can replace it: move it to a directory of your own\n`);
    // Which she can: her key in its place, signed with as bob's.
    expect((await mal.run("mv", [key, join(malsDir, "taken.pem")])).code).toBe(0);
  });

  it("bob's own key in his own directory under the worktree: no word (root's 0755 directories show 65534, not in a sticky one)", async () => {
    const key = keyAt(join(bob.home, "key.pem"), bob, 0o600);
    const r = await sign(key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
  });
});
