import { afterAll, describe, expect, it, vi } from "vitest";
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { CredentialSource } from "../../src/credentials/credential-source.js";
import { makeTempDir } from "../helpers/pki.js";

/** What SO_PEERCRED says of the next client: a uid, or a failure to read it. */
let peer: { uid: number; pid: number } | "unreadable" = { uid: 0, pid: 1 };
vi.mock("../../src/os/native-helper.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/os/native-helper.js")>();
  const helper = {
    disableCoreDumps: () => true,
    isDumpable: () => 0,
    notify: () => {},
    peerCredentials: () => {
      if (peer === "unreadable") throw new Error("SO_PEERCRED: EINVAL");
      return { ...peer, gid: peer.uid };
    },
  };
  return { ...real, loadNativeHelper: () => ({ helper }) };
});
const { startAgentServer } = await import("../../src/agent/agent-server.js");

/** The raw answer to GET /v1/status: "" when the agent hangs up without a word. */
function ask(path: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const request = "GET /v1/status HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n";
    const socket = connect(path, () => socket.write(request));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => {});
    socket.on("close", () => resolve(Buffer.concat(chunks).toString()));
  });
}

describe("agent: who may ask it (SO_PEERCRED of each client)", () => {
  const { dir, cleanup } = makeTempDir("raa-agent-peer-");
  afterAll(cleanup);
  const none = { get: () => undefined, all: () => [] as CredentialSource[] };

  it("hangs up on another uid or unreadable peer credentials; answers its own user and root", async () => {
    // The directory's 0700 keeps others out; this is the guard that holds if someone opens it up. A mutant that
    // skipped it (or only the uid test) survived the unit suite: only native tests with a second user ran it.
    mkdirSync(join(dir, "run"), { mode: 0o700 });
    const path = join(dir, "run", "agent.sock");
    const server = await startAgentServer(none, { path });
    try {
      const self = process.getuid!();
      for (const [who, expected] of [
        [{ uid: self + 1, pid: 42 }, ""],
        ["unreadable", ""],
        [{ uid: self, pid: 42 }, expect.stringMatching(/^HTTP\/1\.1 200 OK\r\n[^]*\{"version":"[^"]+","profiles":\[\]\}$/)],
        [{ uid: 0, pid: 1 }, expect.stringMatching(/^HTTP\/1\.1 200 OK\r\n/)],
      ] as const) {
        peer = who;
        expect(await ask(path), JSON.stringify(who)).toEqual(expected);
      }
    } finally {
      await server.close();
    }
  });
});
