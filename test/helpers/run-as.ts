import { onTestFinished, vi } from "vitest";

/** For the running test, this process reports `uid` as its user and `gid` as its only group; restored when it ends. */
export function seemToRunAs(uid: number, gid: number): void {
  const spies = [
    vi.spyOn(process, "getuid").mockReturnValue(uid),
    vi.spyOn(process, "geteuid").mockReturnValue(uid),
    vi.spyOn(process, "getgid").mockReturnValue(gid),
    vi.spyOn(process, "getgroups").mockReturnValue([gid]),
  ];
  onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
}
