/**
 * src/user-namespace.ts fed /proc/self/uid_map and /proc/sys/kernel/overflowuid as the kernel writes them (the module
 * reads /proc itself, once per process: each case imports a fresh copy). native-test/user-namespace-trust.test.ts runs
 * the same rules in real `unshare` namespaces; this file pins the parsing's edges it cannot reach (round 33 mutation).
 */
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished, vi } from "vitest";

const proc = new Map<string, string>();
const reads: string[] = [];

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const readFileSync = ((path: unknown, ...rest: unknown[]) => {
    if (path === "/proc/self/uid_map" || path === "/proc/sys/kernel/overflowuid") {
      reads.push(path);
      const text = proc.get(path);
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return rest[0] === "utf8" ? text : Buffer.from(text); // as node:fs: text only when asked for
    }
    return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, readFileSync, default: { ...fs, readFileSync } };
});

/** The module as a process in a namespace with this uid_map (undefined: no such file) would see it. */
async function inNamespace(uidMap: string | undefined, overflowuid: string | undefined = "65534\n") {
  proc.clear();
  reads.length = 0;
  if (uidMap !== undefined) proc.set("/proc/self/uid_map", uidMap);
  if (overflowuid !== undefined) proc.set("/proc/sys/kernel/overflowuid", overflowuid);
  vi.resetModules();
  return import("../src/user-namespace.js");
}

const line = (inside: number, outside: number, count: number) => `${String(inside).padStart(10)} ${String(outside).padStart(10)} ${String(count).padStart(10)}\n`;
const OUTSIDE = "a user outside this user namespace";

describe("rootsOwner, unmappedOwner, ownerText from the namespace's uid_map", () => {
  it("the initial namespace (every id mapped): 65534 is nobody, another user; only 0 is root", async () => {
    const ns = await inNamespace(line(0, 0, 4294967295));
    expect([ns.rootsOwner(0), ns.rootsOwner(65534), ns.unmappedOwner(65534)]).toEqual([true, false, false]);
    expect(ns.ownerText(65534)).toBe("uid 65534");
  });

  it("no /proc/self/uid_map (no procfs): as the initial namespace", async () => {
    const ns = await inNamespace(undefined, undefined);
    expect([ns.rootsOwner(0), ns.rootsOwner(65534), ns.unmappedOwner(65534), ns.ownerText(65534)]).toEqual([true, false, false, "uid 65534"]);
  });

  it("--map-current-user (host root not mapped): the overflow uid counts as root, told as outside; other ids do not", async () => {
    const ns = await inNamespace(line(1000, 1000, 1));
    expect([ns.rootsOwner(65534), ns.unmappedOwner(65534), ns.rootsOwner(0)]).toEqual([true, true, true]);
    expect([ns.rootsOwner(1000), ns.unmappedOwner(1000), ns.rootsOwner(65533), ns.rootsOwner(65535)]).toEqual([false, false, false, false]);
    expect(ns.ownerText(65534)).toBe(`uid 65534, ${OUTSIDE}`);
    expect(ns.ownerText(1000)).toBe("uid 1000");
  });

  it("--map-root-user run by root (host root mapped): the overflow uid is another host user's, told as outside", async () => {
    const ns = await inNamespace(line(0, 0, 1));
    expect([ns.rootsOwner(65534), ns.unmappedOwner(65534), ns.ownerText(65534)]).toEqual([false, true, `uid 65534, ${OUTSIDE}`]);
  });

  it("which side is which: inside 0 as host 1000 maps no host root; inside 1000 as host 0 does", async () => {
    let ns = await inNamespace(line(0, 1000, 1));
    expect([ns.unmappedOwner(65534), ns.rootsOwner(65534)]).toEqual([true, true]);
    ns = await inNamespace(line(1000, 0, 1));
    expect([ns.unmappedOwner(65534), ns.rootsOwner(65534)]).toEqual([true, false]);
  });

  it("a range's ends: the first id and the one before first+count are mapped, first+count is not", async () => {
    // Rootless container: ids 0..65535 inside are the host's 100000..165535; the overflow uid is one of its users.
    let ns = await inNamespace(line(0, 100000, 65535));
    expect([ns.unmappedOwner(65534), ns.rootsOwner(65534)]).toEqual([false, false]);
    ns = await inNamespace(line(0, 100000, 65534));
    expect([ns.unmappedOwner(65534), ns.rootsOwner(65534)]).toEqual([true, true]);
    ns = await inNamespace(line(65534, 100000, 1));
    expect(ns.unmappedOwner(65534)).toBe(false);
    ns = await inNamespace(line(65535, 100000, 1));
    expect(ns.unmappedOwner(65534)).toBe(true);
    // The host side's ends: root is mapped by a range starting at 0 and by none starting at 1.
    ns = await inNamespace(line(5000, 0, 1));
    expect(ns.rootsOwner(65534)).toBe(false);
    ns = await inNamespace(line(5000, 1, 1));
    expect(ns.rootsOwner(65534)).toBe(true);
  });

  it("every line of uid_map counts: root mapped on the second line, the overflow uid on the third", async () => {
    let ns = await inNamespace(line(0, 1000, 1) + line(1, 0, 1));
    expect([ns.unmappedOwner(65534), ns.rootsOwner(65534)]).toEqual([true, false]);
    ns = await inNamespace(line(0, 1000, 1) + line(1, 100000, 10) + line(65534, 200000, 1));
    expect(ns.unmappedOwner(65534)).toBe(false);
  });

  it("the kernel's overflowuid is the id that stands for unmapped owners (65534 only without the file)", async () => {
    let ns = await inNamespace(line(1000, 1000, 1), "4000\n");
    expect([ns.unmappedOwner(4000), ns.rootsOwner(4000), ns.unmappedOwner(65534), ns.rootsOwner(65534)]).toEqual([true, true, false, false]);
    ns = await inNamespace(line(1000, 1000, 1), undefined);
    expect([ns.unmappedOwner(65534), ns.rootsOwner(65534)]).toEqual([true, true]);
  });

  it("reads /proc once per process", async () => {
    const ns = await inNamespace(line(1000, 1000, 1));
    ns.rootsOwner(65534);
    ns.unmappedOwner(65534);
    ns.ownerText(7);
    expect(reads.sort()).toEqual(["/proc/self/uid_map", "/proc/sys/kernel/overflowuid"]);
  });
});

// Round 34 (M39): the warning's owner rule (foreignOwnerText) and the directory-owner rule with the namespace's owners;
// only native-test/user-namespace-trust.test.ts told the copy hint before (dropping it survived the unit tests).
describe("exposedFileWarnings with the namespace's owners", () => {
  async function exposedFile(uidMap: string, uid: number) {
    await inNamespace(uidMap);
    const getuid = vi.spyOn(process, "getuid").mockReturnValue(uid);
    onTestFinished(() => getuid.mockRestore());
    return import("../src/os/exposed-file.js");
  }

  it("a file of the overflow uid: copied where the host's root is mapped (chown fails there); root's where it is not", async () => {
    let m = await exposedFile(line(0, 0, 1), 0);
    expect(m.foreignOwnerText({ mode: 0o100600, owner: 65534 }, "/k/pin")).toEqual({
      problem: `/k/pin belongs to another user (uid 65534, ${OUTSIDE}), who can change it`, hint: "copy it to a file of your own",
    });
    expect(m.foreignOwnerText({ mode: 0o100600, owner: 1000 }, "/k/pin")).toEqual({
      problem: "/k/pin belongs to another user (uid 1000), who can change it", hint: "run chown 0 /k/pin",
    });
    m = await exposedFile(line(1000, 1000, 1), 1000);
    expect(m.foreignOwnerText({ mode: 0o100600, owner: 65534 }, "/k/pin")).toBeUndefined();
    expect(m.foreignOwnerText({ mode: 0o100600, owner: 1000 }, "/k/pin")).toBeUndefined();
  });

  it.runIf(process.getuid?.() === 0)("a directory of the overflow uid, sticky 1777: told where the host's root is mapped, before the sticky bit; root's where not", async () => {
    const root = mkdtempSync(join(tmpdir(), "raa-ns-owner-"));
    onTestFinished(() => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, "d");
    mkdirSync(dir, { mode: 0o1777 });
    const path = join(dir, "pin");
    writeFileSync(path, "1234\n", { mode: 0o600 });
    chownSync(root, 0, 0);
    chownSync(dir, 65534, 65534);
    let m = await exposedFile(line(0, 0, 1), 0);
    expect(m.exposedFileWarnings({ mode: 0o100600, owner: 0 }, path, "PIN file")).toEqual([
      `PIN file ${path} is in a directory owned by another user (uid 65534, ${OUTSIDE}, ${dir}), who can replace it: move it to a directory of your own`,
    ]);
    m = await exposedFile(line(1000, 1000, 1), 1000);
    expect(m.changeableDirectory(path)).toBeUndefined(); // sticky: others' renames are barred, and its owner counts as root
  });
});

