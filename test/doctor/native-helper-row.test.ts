/**
 * Round 34 (D10): doctor had no row for the native helper. Without it secret files' ACLs are not read, the agent's
 * peer check and readiness fall back and the daemons stay dumpable; since round 34 it is also refused when another
 * user could have put it there. The row says which, why, what it costs and what to do.
 */
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";

const state = vi.hoisted(() => ({ dist: "" }));
vi.mock("../../src/os/module-file.js", () => ({ distDirectory: () => state.dist, thisModuleFile: () => join(state.dist, "cli.js") }));

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-native-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FILE = join("native", `${process.platform}-${process.arch}`, "raa_native.node");
const BUILT = join(process.cwd(), "dist", FILE);
const COST = "without it secret files' POSIX ACLs are not read";
const RISK = "a core dump, or another process of this user, could read PINs, passwords and credentials from its memory";

/** doctor's row for the helper of a dist/ named `name`, holding `helper` (a file's text, or the built helper) at `mode`. */
async function helperRow(name: string, helper?: { from?: string; text?: string; mode: number; uid?: number }) {
  state.dist = join(dir, name);
  mkdirSync(join(state.dist, "native", `${process.platform}-${process.arch}`), { recursive: true, mode: 0o755 });
  writeFileSync(join(state.dist, "cli.js"), "");
  if (helper?.from) copyFileSync(helper.from, join(state.dist, FILE));
  else if (helper) writeFileSync(join(state.dist, FILE), helper.text ?? "");
  if (helper) chmodSync(join(state.dist, FILE), helper.mode);
  if (helper?.uid !== undefined) chownSync(join(state.dist, FILE), helper.uid, 0);
  const { runChecks } = await import("../../src/doctor/checks.js");
  const { AgentError } = await import("../../src/errors.js"); // the fresh modules' class: runChecks tells settings from errors by it
  const input = { signer: new AgentError("INPUT_MISSING", "none"), session: new AgentError("INPUT_MISSING", "none"), endpoint: {}, agentSocket: join(dir, "no.sock"), createSession: false, warningDays: 30, env: {} };
  const rows = await runChecks(input, () => undefined);
  return rows.filter((r) => r.name === "native helper");
}

describe("doctor's native helper row", () => {
  beforeEach(() => void vi.resetModules()); // the loader keeps its answer per process

  it("absent from this installation: a – row with the reason, what it costs and how to build it (was: no row)", async () => {
    expect(await helperRow("absent")).toEqual([{
      name: "native helper", outcome: "skip",
      detail: `not loaded: ${FILE} is not part of this installation; ${COST}, the agent judges its clients by its socket's directories, not their uid, Type=notify units cannot report readiness, and the daemons stay dumpable: ${RISK}`,
      hint: "build the package where a C compiler is available (npm run build)",
    }]);
  });

  it.runIf(process.platform !== "win32")("refused as planted (writable by others): a ✘ row naming the file and the chown/chmod", async () => {
    const rows = await helperRow("planted", { text: "not the helper\n", mode: 0o666 });
    const path = join(dir, "planted", FILE);
    expect(rows).toMatchObject([{ outcome: "fail", detail: expect.stringContaining(`${path} is not loaded: another user could have put it there`) }]);
    expect(rows[0]!.detail).toContain(RISK);
    expect(rows[0]!.hint).toBe(`check what is in it, then run: chmod o-w ${path}`); // round 35: was "chown root FILE; chmod go-w FILE"
    expect(rows[0]!.detail).toContain(`${path} is writable by others (mode 666`);
    expect(rows[0]!.detail).not.toContain("chmod"); // round 35 (S30): the detail gave the fix too, in the loader's words
  });

  // Round 35 (D12): the hint was one generic text (chown root FILE; chmod go-w FILE) whatever was at fault; it is now
  // othersCouldPlant's fix for the path at fault, as the refusal's own message gives it: a directory above the helper,
  // its owner, and no `go-w` (group-writable is allowed).
  it.runIf(process.platform !== "win32")("refused for a directory above it: the hint's fix names that directory", async () => {
    const platform = join(dir, "dir-planted", "native", `${process.platform}-${process.arch}`);
    mkdirSync(platform, { recursive: true });
    chmodSync(platform, 0o777);
    const rows = await helperRow("dir-planted", { text: "not the helper\n", mode: 0o644 });
    expect(rows).toMatchObject([{ outcome: "fail", hint: `check what is in it, then run: chmod o-w ${platform}` }]);
  });

  it.runIf(process.getuid?.() === 0)("refused for its owner (another user's file): the hint's fix is its chown", async () => {
    const rows = await helperRow("owned", { text: "not the helper\n", mode: 0o644, uid: 4242 });
    expect(rows).toMatchObject([{ outcome: "fail", hint: `check what is in it, then run: chown -R root ${join(dir, "owned", FILE)}` }]);
  });

  it.runIf(existsSync(BUILT))("loaded: a ✔ row with its path", async () => {
    expect(await helperRow("loaded", { from: BUILT, mode: 0o755 })).toEqual([
      { name: "native helper", outcome: "pass", detail: `loaded (${join(dir, "loaded", FILE)})` },
    ]);
  });
});
