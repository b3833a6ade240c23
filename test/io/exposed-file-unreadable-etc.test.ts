/**
 * An /etc/passwd or /etc/group that cannot be read (EACCES for a sandboxed service, EISDIR in a broken image) is
 * "no other account known", never an exception out of a warning (round 32: this catch had no test).
 */
import { describe, expect, it, onTestFinished, vi } from "vitest";

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const readFileSync = ((path: unknown, ...rest: unknown[]) => {
    if (path === "/etc/passwd" || path === "/etc/group") throw Object.assign(new Error(`EISDIR: ${path}`), { code: "EISDIR" });
    return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.readFileSync;
  return { ...fs, readFileSync, default: { ...fs, readFileSync } };
});

const { exposedFileWarnings, groupShared } = await import("../../src/os/exposed-file.js");

describe("groupShared without a readable /etc/passwd or /etc/group", () => {
  it("knows no other account: nogroup is not shared, root's 0640 file of this process's group is read through it", () => {
    expect(groupShared(65_534, 61_000)).toBe(false);
    const spies = [vi.spyOn(process, "getuid").mockReturnValue(61_000), vi.spyOn(process, "getgroups").mockReturnValue([65_534])];
    onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
    expect(exposedFileWarnings({ mode: 0o100640, owner: 0, gid: 65_534 }, "/etc/r/pin", "PIN file")).toEqual([]);
  });
});
