/** credential-process asking the agent: by profile name, or by ARNs when a flag changes the role (credential-process.ts). */
import { createServer } from "node:http";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const TA = "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/0a1b2c3d-0000-0000-0000-000000000000";
const PA = "arn:aws:rolesanywhere:us-east-1:111122223333:profile/0a1b2c3d-0000-0000-0000-000000000001";
const dir = mkdtempSync(join(tmpdir(), "raa-cp-agent-"));
const socket = join(dir, "agent.sock");
const config = join(dir, "config.json");
const runtime = join(dir, "runtime");
const defaultSocket = join(runtime, "roles-anywhere-agent.sock");
const asked: string[] = [];
const server = createServer((req, res) => {
  asked.push(req.url!);
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ Version: 1, AccessKeyId: "ASIAAGENT", SecretAccessKey: "s", SessionToken: "t", Expiration: "2099-01-01T00:00:00Z" }));
});

const profileOf = () => ({ certificate: join(dir, "c.pem"), "private-key": join(dir, "k.pem"), "trust-anchor-arn": TA, "profile-arn": PA, "role-arn": "arn:aws:iam::111122223333:role/Profile" });

beforeAll(async () => {
  chmodSync(dir, 0o700);
  const profile = profileOf();
  writeFileSync(config, JSON.stringify({ profiles: { gw: profile } }), { mode: 0o600 });
  // Configs whose agent listens on `socket` (all profiles, or only another one), or on a socket where none listens.
  const configs = { served: { socket }, notServed: { socket, profiles: ["other"] }, gone: { socket: join(dir, "gone.sock") } };
  for (const [name, agent] of Object.entries(configs)) {
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({ profiles: { gw: profile, other: profile }, agent }), { mode: 0o600 });
  }
  mkdirSync(runtime, { mode: 0o700 });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function credentialProcess(...flags: string[]): Promise<[number, string, string | undefined]> {
  return (await run(["--config", config, "--agent", "--agent-socket", socket, ...flags])).slice(0, 3) as [number, string, string];
}

/** credential-process --profile gw with these flags; the default socket is in a runtime directory without an agent. */
async function run(flags: string[]): Promise<[number, string, string | undefined, string]> {
  let [stdout, stderr] = ["", ""];
  const write = (to: "out" | "err") => (t: string | Uint8Array) => (to === "out" ? (stdout += String(t)) : (stderr += String(t)), true);
  const io = { stdout: { write: write("out") }, stderr: { write: write("err") }, env: { CI: "true", XDG_RUNTIME_DIR: runtime } };
  asked.length = 0;
  const code = await main(["credential-process", "--profile", "gw", ...flags], io);
  return [code, stderr, asked.join(" "), stdout];
}

describe("credential-process with a running agent", () => {
  it("asks for the profile by name when it is used as it is, from the same config file when --config names one", async () => {
    // Before: asked for "gw" alone, and got the agent's "gw" from its own config (maybe another certificate or role).
    expect(await credentialProcess()).toEqual([0, "", `/v1/credentials/gw?config=${encodeURIComponent(config)}`]);
    expect((await run(["--agent", "--agent-socket", socket]))[2]).toBe("/v1/credentials/gw");
  });

  it("asks by ARNs, never for the profile's own role, when a flag changes the role or its session name", async () => {
    const other = "arn:aws:iam::111122223333:role/Other";
    const query = (role: string, extra = "") => `/v1/credentials?trust-anchor-arn=${encodeURIComponent(TA)}&profile-arn=${encodeURIComponent(PA)}&role-arn=${encodeURIComponent(role)}${extra}${conditions()}`;
    expect(await credentialProcess("--role-arn", other)).toEqual([0, "", query(other)]);
    expect(await credentialProcess("--role-session-name", "audit")).toEqual([0, "", query("arn:aws:iam::111122223333:role/Profile", "&role-session-name=audit")]);
    const otherPa = PA.replace("0001", "0002");
    expect((await credentialProcess("--profile-arn", otherPa))[2]).toContain(`profile-arn=${encodeURIComponent(otherPa)}`);
    const otherTa = TA.replace("0000-000000000000", "0000-000000000009");
    expect((await credentialProcess("--trust-anchor-arn", otherTa))[2]).toContain(`trust-anchor-arn=${encodeURIComponent(otherTa)}`);
  });
});

describe("credential-process --profile with a flag that shapes the request", () => {
  it("asks by ARNs with the certificate, key, duration and endpoint it would use, never for the profile by name", async () => {
    // Before: any flag but an ARN or session name still asked for the profile by name, and got the agent's credentials
    // (its certificate, duration, endpoint) for a renewed certificate or another duration.
    const role = encodeURIComponent("arn:aws:iam::111122223333:role/Profile");
    const arns = `/v1/credentials?trust-anchor-arn=${encodeURIComponent(TA)}&profile-arn=${encodeURIComponent(PA)}&role-arn=${role}`;
    expect(await credentialProcess("--certificate", join(dir, "renewed.pem"))).toEqual([0, "", `${arns}${conditions({ certificate: join(dir, "renewed.pem") })}`]);
    expect(await credentialProcess("--session-duration", "900")).toEqual([0, "", `${arns}${conditions({ "session-duration": "900" })}`]);
    const endpoint = "http://127.0.0.1:1/prefix";
    expect(await credentialProcess("--endpoint", `${endpoint}/`)).toEqual([0, "", `${arns}${conditions({ endpoint })}`]);
    expect(await credentialProcess("--region", "eu-west-1")).toEqual([0, "", `${arns}${conditions({ region: "eu-west-1", endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com" })}`]);
  });

  it("does not ask the agent for a certificate read from standard input or env: (--agent: one line why)", async () => {
    const [code, stderr, path] = await credentialProcess("--certificate", "env:SOME_CERT");
    expect([code, path]).toEqual([7, ""]);
    expect(stderr).toMatch(/^roles-anywhere-agent: the agent cannot be asked for a certificate or key read from standard input or env:/);
  });
});

/** The conditions credential-process sends for profile gw, with some replaced (request-conditions.ts). */
function conditions(changes: Record<string, string> = {}): string {
  const all = {
    certificate: join(dir, "c.pem"), "private-key": join(dir, "k.pem"), "pkcs11-lib": "", "tpm-device": "", "session-duration": "3600",
    region: "us-east-1", endpoint: "https://rolesanywhere.us-east-1.amazonaws.com", ...changes,
  };
  return `&${new URLSearchParams(all).toString()}`;
}

describe("credential-process --profile without --agent-socket, the agent on the config's agent.socket", () => {
  it("asks the config's socket when none answers at the default one (it signed directly on every call)", async () => {
    const [code, stderr, path, stdout] = await run(["--config", join(dir, "served.json")]);
    const asked = `/v1/credentials/gw?config=${encodeURIComponent(join(dir, "served.json"))}`;
    expect([code, stderr, path]).toEqual([0, "", asked]);
    expect(JSON.parse(stdout)).toMatchObject({ AccessKeyId: "ASIAAGENT" });
    expect((await run(["--config", join(dir, "served.json"), "--agent"])).slice(0, 3)).toEqual([0, "", asked]);
  });

  it("with --agent, names every socket it asked when no agent answers", async () => {
    const [code, stderr, path] = await run(["--config", join(dir, "gone.json"), "--agent"]);
    expect([code, path]).toEqual([7, ""]); // AGENT_UNAVAILABLE
    expect(stderr).toContain(`no agent at ${defaultSocket} or ${join(dir, "gone.sock")} serves this role`);
  });

  it("an agent on the config's socket that serves fewer profiles (agent --profile other) answers 404: signed directly, or --agent's error", async () => {
    const partial = join(dir, "partial.sock");
    const agent = createServer((req, res) => {
      asked.push(req.url!);
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ Code: "ProfileNotFound", Message: 'the agent has no profile named "gw"' }));
    });
    await new Promise<void>((resolve) => agent.listen(partial, resolve));
    try {
      writeFileSync(join(dir, "partial.json"), JSON.stringify({ profiles: { gw: profileOf(), other: profileOf() }, agent: { socket: partial } }), { mode: 0o600 });
      const [code, stderr, path] = await run(["--config", join(dir, "partial.json")]);
      const asked = `/v1/credentials/gw?config=${encodeURIComponent(join(dir, "partial.json"))}`;
      // Asked, then signed directly: this test's certificate file does not exist (exit 3), as with no agent at all.
      expect([code, path]).toEqual([3, asked]);
      expect(stderr).toBe(`roles-anywhere-agent: certificate file ${join(dir, "c.pem")} does not exist (check the path)\n`);
      // --debug names each socket asked and what came of it (before: not a word), never the credentials.
      const debug = await run(["--config", join(dir, "partial.json"), "--debug"]);
      expect(debug[1]).toMatch(new RegExp(`^debug: agent: no socket at ${defaultSocket}\ndebug: agent: the agent at ${partial} does not serve this role \\(HTTP 404\\)\n`));
      const served = await run(["--config", join(dir, "served.json"), "--debug"]);
      expect([served[0], served[1]]).toEqual([0, `debug: agent: no socket at ${defaultSocket}\ndebug: agent: credentials from the agent at ${socket}\n`]);
      const required = await run(["--config", join(dir, "partial.json"), "--agent"]);
      expect(required.slice(0, 3)).toEqual([7, `roles-anywhere-agent: no agent at ${defaultSocket} or ${partial} serves this role (start it with 'roles-anywhere-agent agent', or drop --agent to sign directly)\n`, asked]);
    } finally {
      await new Promise((resolve) => agent.close(resolve));
    }
  });

  it("leaves the config's socket alone when its agent does not serve the profile (agent.profiles)", async () => {
    const [code, stderr, path] = await run(["--config", join(dir, "notServed.json"), "--agent"]);
    expect([code, path]).toEqual([7, ""]); // AGENT_UNAVAILABLE
    expect(stderr).toContain(`no agent at ${defaultSocket} serves this role`);
  });
});
