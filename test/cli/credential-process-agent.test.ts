/** credential-process asking the agent: by profile name, or by ARNs when a flag changes the role (credential-process.ts). */
import { createServer } from "node:http";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const TA = "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/0a1b2c3d-0000-0000-0000-000000000000";
const PA = "arn:aws:rolesanywhere:us-east-1:111122223333:profile/0a1b2c3d-0000-0000-0000-000000000001";
const dir = mkdtempSync(join(tmpdir(), "raa-cp-agent-"));
const socket = join(dir, "agent.sock");
const config = join(dir, "config.json");
const asked: string[] = [];
const server = createServer((req, res) => {
  asked.push(req.url!);
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ Version: 1, AccessKeyId: "ASIAAGENT", SecretAccessKey: "s", SessionToken: "t", Expiration: "2099-01-01T00:00:00Z" }));
});

beforeAll(async () => {
  chmodSync(dir, 0o700);
  const profile = { certificate: join(dir, "c.pem"), "private-key": join(dir, "k.pem"), "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": "arn:aws:iam::111122223333:role/Profile" };
  writeFileSync(config, JSON.stringify({ profiles: { gw: profile } }), { mode: 0o600 });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function credentialProcess(...flags: string[]): Promise<[number, string, string | undefined]> {
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
  asked.length = 0;
  const code = await main(["credential-process", "--profile", "gw", "--config", config, "--agent", "--agent-socket", socket, ...flags], io);
  return [code, stderr, asked.join(" ")];
}

describe("credential-process with a running agent", () => {
  it("asks for the profile by name when it is used as it is", async () => {
    expect(await credentialProcess()).toEqual([0, "", "/v1/credentials/gw"]);
  });

  it("asks by ARNs, never for the profile's own role, when a flag changes the role or its session name", async () => {
    const other = "arn:aws:iam::111122223333:role/Other";
    const query = (role: string, extra = "") => `/v1/credentials?trust-anchor-arn=${encodeURIComponent(TA)}&profile-arn=${encodeURIComponent(PA)}&role-arn=${encodeURIComponent(role)}${extra}`;
    expect(await credentialProcess("--role-arn", other)).toEqual([0, "", query(other)]);
    expect(await credentialProcess("--role-session-name", "audit")).toEqual([0, "", query("arn:aws:iam::111122223333:role/Profile", "&role-session-name=audit")]);
    const otherPa = PA.replace("0001", "0002");
    expect((await credentialProcess("--profile-arn", otherPa))[2]).toContain(`profile-arn=${encodeURIComponent(otherPa)}`);
    const otherTa = TA.replace("0000-000000000000", "0000-000000000009");
    expect((await credentialProcess("--trust-anchor-arn", otherTa))[2]).toContain(`trust-anchor-arn=${encodeURIComponent(otherTa)}`);
  });
});
