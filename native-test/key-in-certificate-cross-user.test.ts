/**
 * A private key inside a certificate file (`cat key.pem crt.pem > crt.pem`), as a real second account (`t3rd-…`, made
 * with useradd, removed after) finds it: where that account can read the key in the file — its mode, an ACL entry
 * naming it — the built CLI warns, with both fixes; where it cannot, nothing is said. Before round 38 (T3) no reader
 * of a certificate file said a word (S34 showed it live); the key file given beside it was the only one checked.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, issueLeaf, makeTempDir, type IssuedCertificate } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";

const { dir, cleanup } = makeTempDir("raa-t3-key-in-cert-");
let reader: LocalUser;
let leaf: IssuedCertificate;
let combined: string;

beforeAll(() => {
  chmodSync(dir, 0o755);
  reader = createLocalUser("t3rd", dir);
  leaf = issueLeaf(createCa(join(dir, "ca"), { name: "T3 Cross-user CA" }), dir, { name: "t3-key-in-cert" });
  chmodSync(leaf.keyPath, 0o600);
  combined = join(dir, "combined.pem");
  writeFileSync(combined, `${readFileSync(leaf.keyPath, "utf8")}${leaf.certPem}`);
});
afterAll(() => {
  reader?.remove();
  cleanup();
});

const keyLine = () => readFileSync(leaf.keyPath, "utf8").split("\n")[1]!;
/** What the other account reads of the certificate file: whether the key's base64 is in it. */
const readsKey = async () => (await reader.run("cat", [combined])).stdout.includes(keyLine());
/** sign-string as root with the certificate file beside the separate key file: its warning lines about the file. */
async function warned(): Promise<string[]> {
  const run = await runCli(DIST_CLI, ["sign-string", "--certificate", combined, "--private-key", leaf.keyPath], { PATH: process.env["PATH"] });
  expect(run.code).toBe(0);
  expect(run.stderr).not.toContain(keyLine());
  return run.stderr.split("\n").filter((line) => line.includes(combined));
}
const FIXES = "keep the private key in a file of its own, or run";

describe.runIf(canCreateUsers())("a private key in a certificate file, and another local user", () => {
  it("mode 644: the other user reads the key; warned, with both fixes", async () => {
    chmodSync(combined, 0o644);
    expect(await readsKey()).toBe(true);
    expect(await warned()).toEqual([expect.stringContaining(`certificate file ${combined} holds a private key and can be read or changed by other users (mode 644): ${FIXES} chmod 600 ${combined}`)]);
  });

  it("mode 600 and an ACL entry naming the other user (its mask makes the mode 640): they read the key; warned", async () => {
    // As for a key file: a file whose group bits (the ACL's mask) let any entry read it is told by its mode (the ACL's
    // own line is for root's 0640 file that a service reads through its group: the next case).
    chmodSync(combined, 0o600);
    execFileSync("setfacl", ["-m", `u:${reader.uid}:r`, combined]);
    try {
      expect(await readsKey()).toBe(true);
      expect(await warned()).toEqual([expect.stringContaining(`certificate file ${combined} holds a private key and can be read or changed by other users (mode 640): ${FIXES} chmod 600 ${combined}`)]);
    } finally {
      execFileSync("setfacl", ["-b", combined]);
    }
  });

  it("root's 0640 file a service reads through its own group, with an ACL entry naming the other user: they read the key; warned, naming the entry", async () => {
    const service = createLocalUser("t3sv", dir);
    try {
      for (const file of [combined, leaf.keyPath]) {
        execFileSync("chown", [`0:${service.gid}`, file]);
        chmodSync(file, 0o640);
      }
      execFileSync("setfacl", ["-m", `u:${reader.uid}:r`, combined]);
      expect(await readsKey()).toBe(true);
      const run = await service.run(process.execPath, [DIST_CLI, "sign-string", "--certificate", combined, "--private-key", leaf.keyPath], { groups: [service.gid] });
      expect([run.code, run.stderr.split("\n").filter((line) => line.includes(combined))]).toEqual([
        0,
        [expect.stringContaining(`certificate file ${combined} holds a private key and can be read by other users through its ACL (entry u:${reader.uid}): ${FIXES} setfacl -x u:${reader.uid} ${combined}`)],
      ]);
    } finally {
      execFileSync("setfacl", ["-b", combined]);
      for (const file of [combined, leaf.keyPath]) execFileSync("chown", ["0:0", file]);
      chmodSync(leaf.keyPath, 0o600);
      service.remove();
    }
  });

  it("mode 600, no ACL: the other user cannot read it; nothing said", async () => {
    chmodSync(combined, 0o600);
    expect(await readsKey()).toBe(false);
    expect(await warned()).toEqual([]);
  });
});
