import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAgentSocket } from "../../src/agent/socket-trust.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-socket-trust-");
const servers: Server[] = [];
const uid = process.getuid!();

async function socketAt(path: string): Promise<string> {
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  chmodSync(path, 0o600);
  return path;
}

beforeAll(() => chmodSync(dir, 0o700));
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  cleanup();
});

describe("checkAgentSocket", () => {
  it("accepts this user's 0600 socket in a private directory, and leaves missing paths and non-sockets to connect()", async () => {
    const path = await socketAt(join(dir, "ok", "agent.sock"));
    expect(() => checkAgentSocket(path, uid)).not.toThrow();
    expect(() => checkAgentSocket(join(dir, "ok", "missing.sock"), uid)).not.toThrow();
    writeFileSync(join(dir, "ok", "file"), "");
    expect(() => checkAgentSocket(join(dir, "ok", "file"), uid)).not.toThrow();
  });

  it("refuses a socket other users can connect to, or that belongs to another user", async () => {
    const open = await socketAt(join(dir, "open", "agent.sock"));
    chmodSync(open, 0o666);
    expect(() => checkAgentSocket(open, uid)).toThrow(/refusing to use the agent socket .*: other users can connect to it \(mode 666\)/);
    const foreign = await socketAt(join(dir, "foreign", "agent.sock"));
    expect(() => checkAgentSocket(foreign, uid + 1)).toThrow(/it belongs to uid \d+, not to this user/);
  });

  it("refuses a directory others can write, or that belongs to another user (root's is fine)", async () => {
    const path = await socketAt(join(dir, "shared", "agent.sock"));
    chmodSync(join(dir, "shared"), 0o1777);
    expect(() => checkAgentSocket(path, uid)).toThrow(/its directory .*shared can be written by other users \(mode 1777\)/);
    chmodSync(join(dir, "shared"), 0o700);
    if (uid === 0) {
      chownSync(join(dir, "shared"), 65534, 65534);
      expect(() => checkAgentSocket(path, uid)).toThrow(/its directory .*shared belongs to uid 65534/);
    }
  });

  it("checks both the link's directory and the socket a symbolic link leads to", async () => {
    const target = await socketAt(join(dir, "target", "agent.sock"));
    mkdirSync(join(dir, "links"), { mode: 0o700 });
    symlinkSync(target, join(dir, "links", "agent.sock"));
    expect(() => checkAgentSocket(join(dir, "links", "agent.sock"), uid)).not.toThrow();
    symlinkSync(join(dir, "target", "gone.sock"), join(dir, "links", "dangling.sock"));
    expect(() => checkAgentSocket(join(dir, "links", "dangling.sock"), uid)).not.toThrow();
    chmodSync(join(dir, "target"), 0o777);
    expect(() => checkAgentSocket(join(dir, "links", "agent.sock"), uid)).toThrow(/directory .*target can be written/);
  });
});
