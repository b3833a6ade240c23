/**
 * serve's start-up refusals that depend on where its output goes. The key and certificate paths do not exist: a
 * run that is not refused gets as far as opening the signer and fails there (FILE_NOT_FOUND, exit 3).
 */
import { spawn } from "node:child_process";
import { existsSync, fstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runMain } from "../helpers/run-main.js";

const dir = mkdtempSync(join(tmpdir(), "raa-run-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/device",
];
const KEY = ["--certificate", join(dir, "missing.pem"), "--private-key", join(dir, "missing.key")];
const SERVE = ["serve", ...KEY, ...ARNS, "--port", "0"];

const run = (argv: readonly string[], journalStream: string) =>
  runMain(argv, { XDG_RUNTIME_DIR: "/nonexistent", CI: "true", JOURNAL_STREAM: journalStream });

/** JOURNAL_STREAM as systemd sets it for a file: "device:inode". */
function streamOf(stat: { dev: number | bigint; ino: number | bigint }): string {
  return `${stat.dev}:${stat.ino}`;
}

describe("serve --ecs under systemd: the consumers' tokens never go to the journal", () => {
  it("refuses at start when stdout is the journal (JOURNAL_STREAM names fd 1): exit 2, --ecs-env-dir", async () => {
    // Before: serve started and printed each consumer's AWS_CONTAINER_AUTHORIZATION_TOKEN on stdout, i.e. into the
    // journal, which members of adm and systemd-journal read.
    const journal = streamOf(fstatSync(1, { bigint: true }));
    const r = await run([...SERVE, "--ecs"], journal);
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(
      "roles-anywhere-agent: serve --ecs would print the consumers' tokens on standard output, which is the " +
        "journal here: members of groups adm and systemd-journal can read it (add --ecs-env-dir DIR: each " +
        "consumer's NAME.env and NAME.token are written there (0600) instead)\n",
    );
  });

  it("nothing changes on a terminal or a pipe, nor when the tokens do not go to stdout", async () => {
    const elsewhere = join(dir, "not-stdout");
    writeFileSync(elsewhere, "");
    const missingKey = /^roles-anywhere-agent: .*missing\.(pem|key)/;
    for (const stream of [streamOf(statSync(elsewhere, { bigint: true })), "", "garbage", "1:2:3"]) {
      const r = await run([...SERVE, "--ecs"], stream);
      expect([r.code, r.stderr]).toEqual([3, expect.stringMatching(missingKey)]);
    }
    const journal = streamOf(fstatSync(1, { bigint: true }));
    for (const flags of [["--ecs", "--ecs-env-dir", join(dir, "env")], ["--ecs", "--ecs-token-dir", dir], ["--imds"]]) {
      const r = await run([...SERVE, ...flags], journal); // --ecs-token-dir: no token file there (exit 3 as well)
      const why = flags[1] === "--ecs-token-dir" ? /token file/ : missingKey;
      expect([r.code, r.stderr]).toEqual([3, expect.stringMatching(why)]);
    }
  });
});

describe("serve --ecs --ecs-env-dir: one serve per directory", () => {
  it("refuses a directory a live serve writes in, naming it, before any signer; takes over a dead one's", async () => {
    // Before: the second serve replaced the first one's NAME.env and NAME.token without a word; the first kept
    // running for nobody, and a consumer could read one serve's URL with the other's token.
    const envDir = join(dir, "shared-env");
    mkdirSync(envDir, { mode: 0o700 });
    const lock = join(envDir, ".serve.lock");
    const live = spawn("sleep", ["30"]);
    const scope = `${hostname()}/${readlinkSync("/proc/self/ns/pid")}`;
    const missingKey = /^roles-anywhere-agent: .*missing\.(pem|key)/;
    try {
      writeFileSync(lock, `${live.pid} ${scope} ${Date.now()} abcd\n`, { mode: 0o600 });
      const r = await run([...SERVE, "--ecs", "--ecs-env-dir", envDir], "");
      expect([r.code, r.stdout]).toEqual([3, ""]);
      expect(r.stderr).toBe(`roles-anywhere-agent: --ecs-env-dir ${envDir} is in use by serve process ${live.pid} (lock ${lock}): `
        + "its consumers read their files there (stop that serve, or give this one another --ecs-env-dir)\n");
      expect(existsSync(lock)).toBe(true);
      // A lock not renewed for over a minute is a dead serve's whose pid was reused: taken over.
      utimesSync(lock, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
      const stale = await run([...SERVE, "--ecs", "--ecs-env-dir", envDir], "");
      expect([stale.code, stale.stderr]).toEqual([3, expect.stringMatching(missingKey)]);
    } finally {
      live.kill();
    }
    await new Promise((r) => live.once("exit", r));
    writeFileSync(lock, `${live.pid} ${scope} ${Date.now()} abcd\n`, { mode: 0o600 }); // its holder is gone
    const r = await run([...SERVE, "--ecs", "--ecs-env-dir", envDir], "");
    expect([r.code, r.stderr]).toEqual([3, expect.stringMatching(missingKey)]);
    expect(existsSync(lock)).toBe(false); // given back when serve stops
  });
});
