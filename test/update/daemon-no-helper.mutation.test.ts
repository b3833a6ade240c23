/**
 * Round 41 (M45): `update` (the daemon) under a Type=notify unit (NOTIFY_SOCKET set) whose native helper is not there
 * (an install cut short before dist/native/) ends at once, before any CreateSession: with TimeoutStartSec=infinity the
 * unit would wait for ever for a READY=1 it cannot send. Dropping that check (run-update.ts l.161) survived Stryker.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it, vi } from "vitest";
import { makeTempDir } from "../helpers/pki.js";

const tmp = makeTempDir("raa-update-no-helper-");
afterAll(() => tmp.cleanup());
const dist = vi.hoisted(() => ({ dir: "" }));
vi.mock("../../src/os/module-file.js", () => ({ distDirectory: () => dist.dir, thisModuleFile: () => join(dist.dir, "cli.js") }));

it("with NOTIFY_SOCKET set and no native helper: INTERNAL, saying the unit would wait for ever; settings never read", async () => {
  dist.dir = join(tmp.dir, "dist"); // a dist/ without native/
  mkdirSync(dist.dir);
  writeFileSync(join(dist.dir, "cli.js"), "");
  vi.stubEnv("NOTIFY_SOCKET", join(tmp.dir, "notify"));
  const { runUpdate } = await import("../../src/update/run-update.js");
  let read = 0;
  const lines: string[] = [];
  try {
    const outcome = await runUpdate({
      settings: async () => { read++; throw new Error("settings read"); },
      path: join(tmp.dir, "credentials"), section: "gw", once: false, log: (l) => lines.push(l),
    }).then(() => "ran", (error: unknown) => error);
    expect(outcome).toMatchObject({
      code: "INTERNAL",
      message: expect.stringMatching(/^cannot tell systemd that the service is ready \(.+\): its Type=notify unit would wait for ever$/),
    });
    expect([read, lines]).toEqual([0, []]);
  } finally {
    vi.unstubAllEnvs();
  }
});
