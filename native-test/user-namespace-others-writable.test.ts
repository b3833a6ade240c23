/**
 * Round 35 (R23, S29's report): inside a user namespace that does not map the host's root (`unshare --user
 * --map-current-user`, run by a real account, bob), another host user's entry shows as the overflow uid 65534, as root's
 * do. rootsOwner took it for another user's only in a sticky directory others can write to, so mal's symbolic link in a
 * root-owned 0777 directory without the sticky bit passed as root's: `update --credentials-file DIR/credentials` wrote
 * through it to bob's ~/victim inside (exit 0, the file rewritten, mode 640) where, outside, it is refused (exit 3). An
 * entry of 65534 in a directory others can write to, sticky or not, is another user's now.
 * And where the host's root is mapped (root running `unshare --user --map-root-user`) while the code belongs to another
 * host user (bob): every other host user shows as 65534 too, the code owner's id there, so othersCouldPlant takes mal's
 * directory in bob's node_modules for bob's. Nothing in there tells them apart: pinned as it is (SECURITY.md).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { canCreateUsers } from "./helpers/local-user.js";
import { asUser, canUnshare, userNamespaceAccounts } from "./helpers/user-namespace.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const usable = canCreateUsers() && canUnshare("--map-current-user");
// root's 0755 directory, on no sticky shared path
const accounts = userNamespaceAccounts("raa-userns-writable-", { bob: "r35r23b", mal: "r35r23m" }, { usable, leaf: { ca: "R23 CA", name: "r23" } });
const { dir, users: { bob, mal } } = accounts;
let endpoint: LocalEndpoint;
const ARN_FLAGS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/userns",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/userns",
  "--role-arn", "arn:aws:iam::000000000000:role/R",
];
const asBob = () => asUser(bob);
const inside = () => asUser(bob, "--map-current-user");

beforeAll(async () => {
  if (!usable) return;
  endpoint = await startLocalEndpoint({ trustAnchors: [accounts.ca.certPath], port: 0, region: "us-east-1" });
  copyFileSync(accounts.leaf.keyPath, join(bob.home, "key.pem"));
  chownSync(join(bob.home, "key.pem"), bob.uid, bob.gid);
}, 120_000);

afterAll(async () => {
  await endpoint?.close();
});

describe.skipIf(!usable)("another host user's symbolic link in root's directory others can write to, run inside --map-current-user", () => {
  it("0777 without the sticky bit: refused inside as outside, bob's file untouched (was: exit 0, written through)", async () => {
    const victim = join(bob.home, "victim");
    const drop = join(dir, "drop");
    mkdirSync(drop);
    chmodSync(drop, 0o777);
    const link = join(drop, "credentials");
    writeFileSync(victim, "[keep]\nx = 1\n", { mode: 0o644 });
    chownSync(victim, bob.uid, bob.gid);
    expect((await mal.run("ln", ["-s", victim, link])).code).toBe(0);
    const update = (launcher: string[]) => runCli(DIST_CLI, [
      "update", "--once", "--certificate", accounts.leaf.certPath, "--private-key", join(bob.home, "key.pem"), ...ARN_FLAGS,
      "--endpoint", endpoint.url, "--credentials-file", link, "--profile", "p",
    ], { PATH: process.env["PATH"], HOME: bob.home }, 90_000, launcher);
    expect(await update(asBob())).toMatchObject({ code: 3, stderr: expect.stringContaining(`symbolic link ${link} belongs to uid ${mal.uid}, not to this user (${bob.uid}) or root`) });
    const r = await update(inside());
    expect(r).toMatchObject({ code: 3, stderr: expect.stringContaining(`symbolic link ${link} belongs to uid 65534, a user outside this user namespace, not to this user (${bob.uid}) or root`) });
    expect([readFileSync(victim, "utf8"), statSync(victim).mode & 0o777]).toEqual(["[keep]\nx = 1\n", 0o644]);
  }, 180_000);
});

describe.runIf(usable && process.getuid?.() === 0 && canUnshare("--map-root-user"))("host's root mapped, the code another host user's (the limit)", () => {
  /** othersCouldPlant(path, top, owner of `owned`) run by root, outside or inside `unshare --user --map-root-user`. */
  const plant = (path: string, top: string, owned: string, launcher: string[]) => {
    const module = join(process.cwd(), "dist", "lib", "os", "planted-code.js");
    const script = `const { statSync } = await import("node:fs"); const m = await import(${JSON.stringify(module)});
      process.stdout.write(JSON.stringify(m.othersCouldPlant(${JSON.stringify(path)}, ${JSON.stringify(top)}, statSync(${JSON.stringify(owned)}).uid) ?? null));`;
    return JSON.parse(execFileSync(launcher[0] ?? process.execPath, [...launcher.slice(1), ...(launcher.length ? [process.execPath] : []), "--input-type=module", "-e", script], { encoding: "utf8" }));
  };

  it("mal's directory in bob's 0755 node_modules: refused outside, passes inside (both show as 65534); in a sticky 1777 one refused", () => {
    const app = bob.mkdir(join(dir, "app"), 0o755);
    const modules = bob.mkdir(join(app, "node_modules"), 0o755);
    const yargs = mal.mkdir(join(modules, "yargs"), 0o755);
    const rootMapped = ["unshare", "--user", "--map-root-user"];
    expect(plant(yargs, modules, app, [])).toMatchObject({ path: yargs, why: `owned by uid ${mal.uid}, neither root nor this code's owner` });
    expect(plant(yargs, modules, app, rootMapped)).toBeNull();
    chmodSync(modules, 0o1777);
    expect(plant(yargs, modules, app, rootMapped)).toMatchObject({ path: yargs, why: "owned by uid 65534, a user outside this user namespace, in a sticky directory others can write to" });
  });
});
