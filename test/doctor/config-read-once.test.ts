/**
 * doctor reads the config file once (by descriptor): its "config file" row, the pin-value judgement and the settings
 * (the PIN used) all come from that read. Before round 33 it was read by doctor, read again by settingsFromArgs, and
 * stat()ed by name for the row: a file renamed over it between gave a ✔ row about a 0600 file beside settings taken
 * from a 0644 one holding a pin-value.
 */
import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { runMain } from "../helpers/run-main.js";

const { reads, afterRead } = vi.hoisted(() => ({ reads: [] as string[], afterRead: new Map<string, () => void>() }));
vi.mock("../../src/io/input-file.js", async (actual) => {
  const real = await actual<typeof import("../../src/io/input-file.js")>();
  const readCheckedText = (path: string, ...rest: Parameters<typeof real.readCheckedText> extends [string, ...infer R] ? R : never) => {
    reads.push(path);
    const read = real.readCheckedText(path, ...rest);
    afterRead.get(path)?.(); // what another process does to the file just after this read
    return read;
  };
  return { ...real, readCheckedText };
});

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-config-once-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const profile = (pin: string) => ({
  certificate: join(dir, "no-cert.pem"),
  "private-key": `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}&pin-value=${pin}`,
  "trust-anchor-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa",
  "profile-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb",
  "role-arn": "arn:aws:iam::123456789012:role/r",
});
const version = (name: string, pin: string, mode: number): string => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ version: 1, profiles: { gw: profile(pin) } }));
  chmodSync(path, mode);
  return path;
};

describe("doctor reads the config file once", () => {
  it("a 0644 file holding a pin-value, a 0600 one renamed over it after a read: one read, and the row is about the file used", async () => {
    const config = version("config.json", "1111", 0o644);
    // Each 0600: a row that stat()s the name after any read (round 33 mutant: `file` from a stat, not the read) says ✔.
    const next = [version("v2.json", "2222", 0o600), version("v3.json", "3333", 0o600)];
    afterRead.set(config, () => {
      const swap = next.shift();
      if (swap) renameSync(swap, config);
    });
    const run = await runMain(["doctor", "--config", config, "--profile", "gw", "--agent-socket", join(dir, "no.sock")]);
    expect(run.stdout).toMatch(/^✘ config file .* \(mode 644\)/m);
    expect(reads.filter((p) => p === config)).toHaveLength(1);
  });
});
