/**
 * Round 35 (P10): code loaded by name (own-package.ts, othersCouldPlant) inside a user namespace that does not map the
 * host's root (`unshare --user --map-current-user`, run by a real account, bob): root's installation shows as the
 * overflow uid 65534 there, and so does every other host user's directory (mal's, a second real account), so "root's or
 * the code's owner's" let mal's yargs through where, outside, it is refused. Where the directory tells them apart it
 * now decides, as for the trusted paths (rootsOwner): in a node_modules with the sticky bit that others can write
 * (whose packages are judged by their owner alone), an entry of 65534 is another user's, who made it there. Elsewhere
 * in root's tree the two cannot be told apart in there: the limit SECURITY.md names, pinned here as it is.
 */
import { chmodSync, chownSync, copyFileSync, cpSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canCreateUsers, type LocalUser } from "./helpers/local-user.js";
import { runCli } from "./helpers/run-cli.js";
import { asUser, canUnshare as canUnshareWith, userNamespaceAccounts } from "./helpers/user-namespace.js";

const REPO = process.cwd();
const usable = canCreateUsers() && canUnshareWith("--map-current-user");
// root's 0755 directory, on no sticky shared path
const { dir, users: { bob, mal } } = userNamespaceAccounts("raa-userns-planted-", { bob: "r35p10b", mal: "r35p10m" }, { usable });

/** dir/<name>: root's package (dist, package.json) with a node_modules of links to the checkout's, and mal's real yargs. */
function installation(name: string, modulesMode: number): { modules: string; cli: string } {
  const pkg = join(dir, name);
  const modules = join(pkg, "node_modules");
  mkdirSync(modules, { recursive: true });
  copyFileSync(join(REPO, "package.json"), join(pkg, "package.json"));
  cpSync(join(REPO, "dist"), join(pkg, "dist"), { recursive: true });
  for (const entry of readdirSync(join(REPO, "node_modules"))) {
    if (!entry.startsWith(".") && entry !== "yargs") symlinkSync(join(REPO, "node_modules", entry), join(modules, entry));
  }
  const yargs = join(modules, "yargs");
  cpSync(join(REPO, "node_modules", "yargs"), yargs, { recursive: true, dereference: true });
  chownTree(yargs, mal);
  chmodSync(modules, modulesMode);
  return { modules, cli: join(pkg, "dist", "cli.js") };
}

function chownTree(path: string, user: LocalUser): void {
  chownSync(path, user.uid, user.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) chownTree(join(path, entry.name), user);
    else chownSync(join(path, entry.name), user.uid, user.gid);
  }
}

const asBob = () => asUser(bob);
const inside = () => asUser(bob, "--map-current-user");
const help = (cli: string, launcher: string[]) => runCli(cli, ["--help"], { PATH: process.env["PATH"], HOME: bob.home }, 90_000, launcher);


describe.skipIf(!usable)("another host user's yargs in root's installation, run inside --map-current-user", () => {
  it("in a node_modules with the sticky bit others can write (1777): refused inside as outside (was: loaded inside)", async () => {
    const { modules, cli } = installation("sticky", 0o1777);
    const yargs = join(modules, "yargs");
    // Before: exit 0 and the commands listed — mal's yargs ran in bob's process.
    expect(await help(cli, inside())).toMatchObject({
      code: 3,
      stdout: "",
      stderr: `roles-anywhere-agent: yargs in ${yargs} is not loaded: another user could have put it there: ${yargs} is owned by uid 65534, a user outside this user namespace, in a sticky directory others can write to (check what is in it, then: outside this user namespace: chmod go-w ${modules} && chown -R root ${yargs} (or to the code's owner))\n`,
    });
    expect(await help(cli, asBob())).toMatchObject({ code: 3, stderr: expect.stringContaining(`${yargs} is owned by uid ${mal.uid}, neither root nor this code's owner`) });
  });

  it("in root's node_modules its group can write (0775, mal's group), no sticky bit: refused inside as outside (was: loaded inside)", async () => {
    const { modules, cli } = installation("group", 0o775);
    chownSync(modules, 0, mal.gid); // mal may add, rename or replace any entry there: more than in a sticky one
    const yargs = join(modules, "yargs");
    expect((await help(cli, asBob())).stderr).toContain(`${yargs} is owned by uid ${mal.uid}, neither root nor this code's owner`);
    // Before: exit 0 and the commands listed, as with the sticky bit before round 35.
    expect(await help(cli, inside())).toMatchObject({ code: 3, stdout: "", stderr: expect.stringContaining(`${yargs} is owned by uid 65534, a user outside this user namespace, in a directory its group can write to`) });
  });

  it("root's own yargs in root's node_modules its group can write (0775 root:root): the hint, run outside, ends the refusal inside (round 36, S32; before: chown -R root alone, which changed nothing)", async () => {
    const { modules, cli } = installation("root-group", 0o775);
    const yargs = join(modules, "yargs");
    chownTree(yargs, { uid: 0, gid: 0 } as LocalUser);
    expect((await help(cli, asBob())).code).toBe(0); // outside: root's, in a directory of root's group
    const refused = await help(cli, inside()); // inside: root and a group member both show as 65534
    expect(refused).toMatchObject({ code: 3, stdout: "", stderr: expect.stringContaining(`${yargs} is owned by uid 65534, a user outside this user namespace, in a directory its group can write to`) });
    const fix = /then: outside this user namespace: (.*) \(or to the code's owner\)\)$/.exec(refused.stderr.trim())?.[1];
    expect(fix).toBe(`chmod g-w ${modules} && chown -R root ${yargs}`);
    execFileSync("sh", ["-c", fix!]); // pasted into root's shell, outside the namespace
    expect(await help(cli, inside())).toMatchObject({ code: 0, stdout: expect.stringContaining("Commands:") });
  });

  it("root's own yargs in a sticky node_modules others can write (1777 root:root): the hint, run outside, ends the refusal inside (round 37, S34; before: chown -R root alone, which changed nothing)", async () => {
    const { modules, cli } = installation("root-sticky", 0o1777);
    const yargs = join(modules, "yargs");
    chownTree(yargs, { uid: 0, gid: 0 } as LocalUser);
    expect((await help(cli, asBob())).code).toBe(0); // outside: root's, in a sticky directory (judged by its owner)
    const refused = await help(cli, inside()); // inside: root and anyone who could write there both show as 65534
    expect(refused).toMatchObject({ code: 3, stdout: "", stderr: expect.stringContaining(`${yargs} is owned by uid 65534, a user outside this user namespace, in a sticky directory others can write to`) });
    const fix = /then: outside this user namespace: (.*) \(or to the code's owner\)\)$/.exec(refused.stderr.trim())?.[1];
    // Before: `chown -R root YARGS` alone: already root's, and the refusal stayed (the same line again).
    expect(fix).toBe(`chmod go-w ${modules} && chown -R root ${yargs}`);
    execFileSync("sh", ["-c", fix!]); // pasted into root's shell, outside the namespace
    expect(await help(cli, inside())).toMatchObject({ code: 0, stdout: expect.stringContaining("Commands:") });
  });

  it("in root's 0755 node_modules: refused outside, loaded inside (the limit: root and mal both show as 65534 there)", async () => {
    const { cli } = installation("closed", 0o755);
    expect((await help(cli, asBob())).code).toBe(3);
    expect(await help(cli, inside())).toMatchObject({ code: 0, stdout: expect.stringContaining("Commands:") });
  });
});
