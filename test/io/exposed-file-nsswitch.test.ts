/**
 * groupShared and a group /etc/group does not have (round 32): asked of the name service (`getent group`, LDAP, sssd,
 * systemd's userdb) only where /etc/nsswitch.conf names one besides files for groups, as a process costs ~7 ms at
 * every read of a file a Kubernetes fsGroup shares (no such group in a container's /etc/group).
 */
import { beforeEach, describe, expect, it, vi } from "vitest";

const etc = vi.hoisted(() => ({ nsswitch: "", getent: [] as string[][], absent: [] as string[] }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const files: Record<string, () => string> = {
    "/etc/nsswitch.conf": () => etc.nsswitch,
    "/etc/passwd": () => "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": () => "root:x:0:\n",
  };
  const readFileSync = ((path: unknown, ...rest: unknown[]) =>
    typeof path === "string" && path in files ? files[path]!() : (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest)) as typeof fs.readFileSync;
  const existsSync = ((path: string) => !etc.absent.includes(path) && fs.existsSync(path)) as typeof fs.existsSync;
  return { ...fs, readFileSync, existsSync, default: { ...fs, readFileSync, existsSync } };
});
vi.mock("node:child_process", async (importOriginal) => {
  const cp = await importOriginal<typeof import("node:child_process")>();
  const execFileSync = ((cmd: string, args: string[]) => {
    etc.getent.push([cmd, ...args]);
    if (args[0] === "group") return "ldapgroup:x:61999:svc,mallory\n";
    if (args[0] === "passwd" && args[1] === "61000") return "svc:*:61000:61999::/home/svc:/bin/sh\n";
    throw Object.assign(new Error("exit 2"), { status: 2 });
  }) as typeof cp.execFileSync;
  return { ...cp, execFileSync, default: { ...cp, execFileSync } };
});

const { groupShared } = await import("../../src/os/exposed-file.js");

describe("groupShared for a group only the name service may have", () => {
  beforeEach(() => {
    etc.getent = [];
    etc.absent = [];
  });

  it("asks getent where nsswitch.conf names another service for groups: its members, this account's name by getent passwd", () => {
    etc.nsswitch = "passwd: files sss\ngroup:          files sss\n";
    expect(groupShared(61_999, 61_000)).toBe(true); // mallory
    expect(etc.getent).toEqual([["/usr/bin/getent", "group", "61999"], ["/usr/bin/getent", "passwd", "61000"]]); // by its fixed path (round 33)
  });

  it("takes /bin/getent where /usr/bin has none (round 33)", () => {
    etc.nsswitch = "group: files sss\n";
    etc.absent = ["/usr/bin/getent"];
    groupShared(61_999, 61_000);
    expect(etc.getent.map(([cmd]) => cmd)).toEqual(["/bin/getent", "/bin/getent"]);
  });

  it("asks nothing with files alone (an action in brackets is no service), nor for a group /etc/group has", () => {
    for (const nsswitch of ["group: files\n", "group: files [NOTFOUND=return] \n", "# group: sss\n", ""]) {
      etc.nsswitch = nsswitch;
      expect(groupShared(61_999, 61_000), nsswitch).toBe(false);
    }
    etc.nsswitch = "group: files systemd\n";
    expect(groupShared(0, 61_000)).toBe(false);
    expect(etc.getent).toEqual([]);
  });
});
