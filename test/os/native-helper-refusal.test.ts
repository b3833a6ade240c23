/**
 * Round 36 (H2): the native helper's refusal (loadNativeHelper's reason) carried its fix after the helper's path and
 * the path at fault, both raw: callers put it in messages of their own, cut at MAX_ERROR_TEXT, so under an install
 * path of ~650 characters the cut fell inside the fix's quoted path (pasted: the shell waits for the closing quote).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const state = vi.hoisted(() => ({ dist: "" }));
vi.mock("../../src/os/module-file.js", () => ({ distDirectory: () => state.dist, thisModuleFile: () => join(state.dist, "cli.js") }));

const dir = mkdtempSync(join(tmpdir(), "raa-native-refusal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FILE = join("native", `${process.platform}-${process.arch}`, "raa_native.node");

/** A dist/ at `dist` whose helper is a file others can write to. */
function plantedAt(dist: string): string {
  state.dist = dist;
  mkdirSync(join(dist, "native", `${process.platform}-${process.arch}`), { recursive: true, mode: 0o755 });
  writeFileSync(join(dist, "cli.js"), "");
  writeFileSync(join(dist, FILE), "not the helper\n");
  chmodSync(join(dist, FILE), 0o646);
  return join(dist, FILE);
}

describe.runIf(process.platform !== "win32")("the native helper's refusal", () => {
  const saved = process.env["NOTIFY_SOCKET"];
  beforeEach(() => void vi.resetModules()); // the loader keeps its answer per process
  afterEach(() => (saved === undefined ? delete process.env["NOTIFY_SOCKET"] : (process.env["NOTIFY_SOCKET"] = saved)));

  it("short: the fix, as before", async () => {
    const helper = plantedAt(join(dir, "short dist"));
    const { loadNativeHelper } = await import("../../src/os/native-helper.js");
    expect(loadNativeHelper().reason).toBe(
      `${helper} is not loaded: another user could have put it there: ${helper} is writable by others (mode 646) (check what is in it, then: chmod o-w '${helper}')`,
    );
  });

  it("under a long install path: no fix cut inside its quote, in the reason nor in a message around it; doctor gives it", async () => {
    let dist = join(dir, "long dist");
    while (dist.length < 650) dist = join(dist, "d".repeat(99));
    const helper = plantedAt(dist);
    const { loadNativeHelper } = await import("../../src/os/native-helper.js");
    const { checkReadinessReporting } = await import("../../src/os/service-manager.js");
    const { reason } = loadNativeHelper();
    expect(reason).toBe(
      `${helper} is not loaded: another user could have put it there: ${helper} is writable by others (mode 646) (check what is in it; roles-anywhere-agent doctor gives the command that fixes it)`,
    );
    process.env["NOTIFY_SOCKET"] = "/run/systemd/notify";
    let line = "";
    try {
      checkReadinessReporting();
    } catch (error) {
      line = (error as { toOneLine(): string }).toOneLine();
    }
    expect(line).toContain(reason!);
    expect(line).not.toContain("chmod o-w '"); // was: "… then: chmod o-w '/tmp/…/dddd…" cut there, the quote open
  });
});
