import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateKey, makeTempDir } from "../helpers/pki.js";
import { runCli } from "./helpers/run-cli.js";

const tmp = makeTempDir("raa-csr-cli-");
afterAll(() => tmp.cleanup());
const key = join(tmp.dir, "device.key");
generateKey(key, "p256");

describe("csr command", () => {
  it("prints a request openssl accepts", async () => {
    const r = await runCli(["csr", "--private-key", key, "--subject", "CN=dev-1,O=Acme", "--san", "DNS:dev-1.example.com"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n-----END CERTIFICATE REQUEST-----\n$/);
    const text = execFileSync("openssl", ["req", "-verify", "-noout", "-subject", "-nameopt", "RFC2253"], { input: r.out, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
    expect(text.trim()).toBe("subject=CN=dev-1,O=Acme");
  });

  it("writes --out and will not replace it without --force", async () => {
    const out = join(tmp.dir, "dev.csr");
    writeFileSync(out, "keep me");
    const refused = await runCli(["csr", "--private-key", key, "--subject", "/CN=a", "--out", out]);
    expect(refused.code).toBe(3);
    expect(refused.err).toContain("already exists");
    expect(readFileSync(out, "utf8")).toBe("keep me");
    const forced = await runCli(["csr", "--private-key", key, "--subject", "/CN=a", "--out", out, "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(out, "utf8")).toContain("BEGIN CERTIFICATE REQUEST");
  });

  it("checks the subject and SANs before opening the key", async () => {
    const missingKey = join(tmp.dir, "absent.key");
    const bad = await runCli(["csr", "--private-key", missingKey, "--subject", "/XX=1"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown attribute type "XX"');
    const badSan = await runCli(["csr", "--private-key", missingKey, "--subject", "/CN=a", "--san", "IP:nope"]);
    expect(badSan.code).toBe(2);
    expect((await runCli(["csr", "--private-key", key])).code).toBe(2);
  });

  it("refuses SANs it could not encode as typed: an email without @, an IP with a zone id (it was dropped)", async () => {
    const noAt = await runCli(["csr", "--private-key", key, "--subject", "/CN=a", "--san", "email:ops"]);
    expect([noAt.code, noAt.out, noAt.err]).toEqual([2, "", expect.stringContaining('invalid --san "email:ops": an email')]);
    const zone = await runCli(["csr", "--private-key", key, "--subject", "/CN=a", "--san", "IP:fe80::1%eth0"]);
    expect([zone.code, zone.out, zone.err]).toEqual([2, "", expect.stringContaining('invalid --san "IP:fe80::1%eth0": ')]);
    expect(zone.err.trim().split("\n")).toHaveLength(1);
  });
});
