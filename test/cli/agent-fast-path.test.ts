import { describe, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { agentRequestOf, answerFromAgentAndExit } from "../../src/cli/launcher/agent-fast-path.js";
import { makeTempDir } from "../helpers/pki.js";
import { mayNameProfile } from "../../src/cli/launcher/may-name-profile.js";

const env = { XDG_RUNTIME_DIR: "/run/user/1000" };

describe("agentRequestOf: which command lines the launcher may answer from the agent", () => {
  it("takes credential-process with a profile and only the agent's own flags", () => {
    // No --agent-socket: the agent client asks the default socket (socket-path.ts), as credential-process does.
    const socket = "/run/user/1000/roles-anywhere-agent.sock";
    expect(agentRequestOf(["credential-process", "--profile", "gw"], env)).toEqual({ profile: "gw", socket, agent: false, required: false, env });
    expect(agentRequestOf(["credential-process", "--profile=gw", "--agent", "--agent-socket=/tmp/a.sock", "--config", "/etc/c.json", "--debug"], env)).toEqual({
      profile: "gw",
      socket: "/tmp/a.sock",
      agent: true,
      required: true,
      env,
      config: "/etc/c.json",
    });
    // A relative --config is asked as the absolute, normalised path (the agent compares it with its own config's).
    const config = resolve("sub/../c.json");
    expect(agentRequestOf(["credential-process", "--profile", "gw", "--config", "sub/../c.json"], env)).toMatchObject({ profile: "gw", config });
    // --agent without --agent-socket: no answer at the default socket is the full CLI's to report, which reads the
    // config and asks its agent.socket too (the launcher never reads the config).
    expect(agentRequestOf(["credential-process", "-profile", "gw", "-agent=true"], env)).toMatchObject({ profile: "gw", agent: true, required: false });
  });

  it("leaves everything else to the full CLI", () => {
    const declined = [
      ["credential-process"],
      ["credential-process", "--agent"],
      ["sign-string", "--profile", "gw"],
      ["credential-process", "--profile", "gw", "--role-arn", "arn:aws:iam::1:role/x"],
      ["credential-process", "--profile", "gw", "--no-agent"],
      ["credential-process", "--profile", "gw", "--agent=false"],
      ["credential-process", "--profile"],
      ["credential-process", "--profile", ""],
      ["credential-process", "--profile", "gw", "extra"],
      ["credential-process", "--profile", "gw", "--help"],
      ["credential-process", "--profile", "gw", "--pkcs8-password", "x"],
      ["credential-process", "--profile", "gw", "--agent-socket", ""],
      // A relative socket is refused by the full CLI (one usage line), like `agent --socket rel.sock`.
      ["credential-process", "--profile", "gw", "--agent-socket", "rel.sock"],
      ["credential-process", "--profile", "gw", "--agent", "--agent-socket=./a.sock"],
      ["credential-process", "--profile", "gw", "--config", ""],
    ];
    for (const argv of declined) expect(agentRequestOf(argv, env), argv.join(" ")).toBeUndefined();
    // The full CLI refuses a relative socket in the environment (one usage line): the fast path leaves it to it.
    for (const agent of [[], ["--agent"]]) {
      const relative = { ROLES_ANYWHERE_AGENT_SOCKET: "rel.sock" };
      expect(agentRequestOf(["credential-process", "--profile", "gw", ...agent], relative)).toBeUndefined();
    }
  });

  it("reads flags exactly as credential-process does (its option declaration): the last --profile wins, Go's bool forms", () => {
    expect(agentRequestOf(["credential-process", "--profile", "a", "--profile", "b"], env)).toMatchObject({ profile: "b" });
    expect(agentRequestOf(["credential-process", "--profile", "gw", "--agent=t", "--agent-socket=/a.sock", "--debug=1"], env)).toMatchObject({ required: true });
    expect(agentRequestOf(["credential-process", "--profile", "gw", "--agent=maybe"], env)).toBeUndefined();
  });

  it("is never skipped by the launcher's pre-check (mayNameProfile) for a line it would take", () => {
    const lines = [
      ["credential-process", "--profile", "gw"],
      ["credential-process", "--profile=gw", "--agent"],
      ["credential-process", "-profile", "gw", "-agent=true"],
      ["credential-process", "--agent", "-profile=gw", "--debug"],
      ["credential-process", "--config", "--profile", "--profile", "gw"],
    ];
    for (const argv of lines) {
      expect(agentRequestOf(argv, env), argv.join(" ")).toBeDefined();
      expect(mayNameProfile(argv), argv.join(" ")).toBe(true);
    }
    for (const argv of [["credential-process", "--certificate", "c.pem"], ["credential-process", "--profiles", "gw"], ["serve", "--profile", "gw"]]) {
      expect(mayNameProfile(argv), argv.join(" ")).toBe(false);
    }
  });
});

describe("answerFromAgentAndExit and an agent that does not take the request", () => {
  it("with --agent, leaves it to the full CLI instead of having it sign directly (was: --no-agent added to --agent)", async () => {
    // Before: true after 10 s (a warning 'signing directly instead'), and the launcher's '--agent --no-agent' was a usage error.
    const { dir, cleanup } = makeTempDir("raa-fast-stalled-");
    const runDir = join(dir, "run");
    mkdirSync(runDir, { mode: 0o700 });
    const socket = join(runDir, "agent.sock");
    const stopped = createServer(() => {}); // connected, never read: what the backlog of a stopped agent does
    await new Promise<void>((resolve) => stopped.listen(socket, resolve));
    try {
      const env = { ROLES_ANYWHERE_AGENT_SOCKET: socket };
      expect(await answerFromAgentAndExit(["credential-process", "--profile", "gw", "--agent"], env)).toBe(false);
    } finally {
      stopped.close();
      cleanup();
    }
  }, 30_000);
});
