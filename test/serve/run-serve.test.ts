/**
 * serve's start-up refusals that depend on where its output goes. The key and certificate paths do not exist: a
 * run that is not refused gets as far as opening the signer and fails there (FILE_NOT_FOUND, exit 3).
 */
import { fstatSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const dir = mkdtempSync(join(tmpdir(), "raa-run-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/device",
];
const KEY = ["--certificate", join(dir, "missing.pem"), "--private-key", join(dir, "missing.key")];
const SERVE = ["serve", ...KEY, ...ARNS, "--port", "0"];

async function run(argv: readonly string[], journalStream: string) {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) },
    stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) },
    env: { XDG_RUNTIME_DIR: "/nonexistent", CI: "true", JOURNAL_STREAM: journalStream },
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

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
