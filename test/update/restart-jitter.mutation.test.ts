/**
 * `update --once`'s restart jitter is on under systemd only (INVOCATION_ID set, standard error not a terminal): the
 * command's choice, seen in what it hands the real runUpdate (recorded, then run as it is).
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import { RESTART_JITTER_MS } from "../../src/update/run-update.js";
import { makeTempDir } from "../helpers/pki.js";

const given: Array<{ restartJitterMs?: number | undefined; clockWaitMs?: number | undefined }> = [];
vi.mock("../../src/update/run-update.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/update/run-update.js")>();
  return {
    ...original,
    runUpdate: (run: Parameters<typeof original.runUpdate>[0]) => {
      given.push({ restartJitterMs: run.restartJitterMs, clockWaitMs: run.clockWaitMs });
      return original.runUpdate(run);
    },
  };
});

describe("update --once: the restart jitter under systemd only", () => {
  const { dir, cleanup } = makeTempDir("raa-update-jitter-");
  afterAll(cleanup);
  const arn = "arn:aws:rolesanywhere:us-east-1:111122223333";
  const arns = ["--trust-anchor-arn", `${arn}:trust-anchor/t`, "--profile-arn", `${arn}:profile/p`, "--role-arn", "arn:aws:iam::111122223333:role/r"];
  // A missing certificate: exit 3 at once, a failure no restart fixes, so no wait even where the jitter is on.
  const key = ["--certificate", join(dir, "none.pem"), "--private-key", join(dir, "none.key")];

  async function update(env: NodeJS.ProcessEnv, isTTY: boolean | undefined) {
    given.length = 0;
    let stderr = "";
    const write = (t: string | Uint8Array) => ((stderr += String(t)), true);
    const io = { stdout: { write: () => true }, stderr: { write, ...(isTTY === undefined ? {} : { isTTY }) }, env: { CI: "true", ...env } };
    const code = await main(["update", "--once", "--credentials-file", join(dir, "credentials"), ...key, ...arns], io);
    expect(code, stderr).toBe(3);
    expect(given).toHaveLength(1);
    return given[0]!;
  }

  it("systemd (INVOCATION_ID) with standard error to the journal: the default jitter", async () => {
    expect(RESTART_JITTER_MS).toBe(10_000);
    expect(await update({ INVOCATION_ID: "0f3a" }, false)).toEqual({ restartJitterMs: undefined, clockWaitMs: undefined });
    expect(await update({ INVOCATION_ID: "0f3a" }, undefined)).toEqual({ restartJitterMs: undefined, clockWaitMs: undefined });
  });

  it("off systemd, or at a terminal (a person reads the error at once): none", async () => {
    expect((await update({}, false)).restartJitterMs).toBe(0);
    expect((await update({ INVOCATION_ID: "" }, false)).restartJitterMs).toBe(0);
    // A terminal under a systemd user service (GNOME Terminal's) has INVOCATION_ID too.
    expect(await update({ INVOCATION_ID: "0f3a" }, true)).toEqual({ restartJitterMs: 0, clockWaitMs: 0 });
    expect(await update({}, true)).toEqual({ restartJitterMs: 0, clockWaitMs: 0 });
  });
});
