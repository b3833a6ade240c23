/**
 * What the agent client (client.ts) makes of an answer, written byte by byte by a stand-in agent on a UNIX socket: which
 * answers are credentials, which are an error, and which are no agent at all (the caller then signs directly).
 */
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { credentialsFromAgent, fetchFromAgent } from "../../src/agent/client.js";

const dir = mkdtempSync(join(tmpdir(), "raa-client-"));
chmodSync(dir, 0o700);
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

let count = 0;
/** A stand-in agent at a new socket: `answer` gets each connection once its request has arrived. */
async function agent(answer: (socket: Socket) => void): Promise<{ path: string; requests: () => number }> {
  const path = join(dir, `a${++count}.sock`);
  let requests = 0;
  const server = createServer((socket) => {
    let seen = "";
    socket.on("data", (chunk) => {
      seen += chunk.toString("latin1");
      if (!seen.includes("\r\n\r\n")) return;
      seen = "";
      requests++;
      answer(socket);
    });
    socket.on("error", () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, requests: () => requests };
}

const GOOD = { Version: 1, AccessKeyId: "ASIAX", SecretAccessKey: "s", SessionToken: "t", Expiration: "2099-01-01T00:00:00Z" };
const ok = (body: string) => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n${body}`;
const answering = (text: string) => agent((socket) => socket.end(text));
const ask = (path: string, more: object = {}) =>
  credentialsFromAgent({ socket: path, required: false, env: {}, ...more }, "gw", (e) => {
    throw e;
  });

describe("the agent client reading an answer", () => {
  it("takes only complete credentials: each missing or empty field, another Version, or no JSON is refused", async () => {
    expect((await fetchFromAgent((await answering(ok(JSON.stringify(GOOD)))).path, "gw"))?.accessKeyId).toBe("ASIAX");
    const incomplete = [
      { ...GOOD, Version: 2 },
      { ...GOOD, AccessKeyId: "" },
      { ...GOOD, SecretAccessKey: undefined },
      { ...GOOD, SessionToken: "" },
      { ...GOOD, SessionToken: 7 },
    ];
    for (const doc of incomplete) {
      await expect(fetchFromAgent((await answering(ok(JSON.stringify(doc)))).path, "gw"), JSON.stringify(doc)).rejects.toMatchObject({
        code: "AGENT_UNAVAILABLE",
        message: "agent: the answer holds incomplete credentials; they were not used",
      });
    }
    await expect(fetchFromAgent((await answering(ok("{not json"))).path, "gw")).rejects.toMatchObject({ message: "agent: the answer is not JSON" });
  });

  it("passes on an error code of its own only: another Code is AGENT_UNAVAILABLE", async () => {
    const error = (Code: string) => `HTTP/1.1 503 Service Unavailable\r\n\r\n${JSON.stringify({ Code, Message: "m" })}`;
    await expect(fetchFromAgent((await answering(error("PIN_INCORRECT"))).path, "gw")).rejects.toMatchObject({ code: "PIN_INCORRECT" });
    await expect(fetchFromAgent((await answering(error("NoSuchCode"))).path, "gw")).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE", message: "agent: m" });
  });

  it("reads an answer of exactly 64 KiB, not one byte more", async () => {
    const head = ok(JSON.stringify({ ...GOOD, Pad: "" }));
    const sized = (total: number) => ok(JSON.stringify({ ...GOOD, Pad: "x".repeat(total - Buffer.byteLength(head)) }));
    expect((await fetchFromAgent((await answering(sized(64 * 1024))).path, "gw"))?.sessionToken).toBe("t");
    await expect(fetchFromAgent((await answering(sized(64 * 1024 + 1))).path, "gw")).rejects.toMatchObject({ message: expect.stringMatching(/above 64 KiB/) });
  });

  it("an agent gone before a byte of its answer is no agent (signs directly); one gone halfway is an error", async () => {
    const gone = await agent((socket) => socket.destroy());
    expect(await ask(gone.path)).toBeUndefined();
    expect(gone.requests()).toBe(1);
    await expect(ask(gone.path, { required: true })).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE" });
    const halfway = await answering("HTTP/1.1 200 OK\r\nContent-Ty");
    await expect(ask(halfway.path)).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE", message: expect.stringMatching(/sent an incomplete answer$/) });
  });

  it("an agent holding its most connections (Node closes each new one) is named in the hint; without --agent: signs directly", async () => {
    // The agent's server.maxConnections, here 1 held by an idle client of the same user (the agent's cap is 1,024).
    const path = join(dir, `full${++count}.sock`);
    const server = createServer((socket) => socket.on("error", () => {}));
    server.maxConnections = 1;
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const idle = connect(path);
    await new Promise((resolve) => idle.on("connect", resolve));
    try {
      const lines: string[] = [];
      expect(await ask(path, { debug: (line: string) => lines.push(line) })).toBeUndefined();
      expect(lines.join("\n")).toMatch(/^agent: nothing answered at .*: (cannot talk to the agent at .*: E[A-Z]+|the agent at .* sent an incomplete answer)$/m);
      await expect(ask(path, { required: true })).rejects.toMatchObject({
        code: "AGENT_UNAVAILABLE",
        hint: expect.stringContaining("it already holds its 1,024 connections (another process of yours keeps them open: `ss -xp` lists them)"),
      });
    } finally {
      idle.destroy();
    }
  });

  it("an agent that took the request (100 Continue) is waited for past the take window", async () => {
    const slow = await agent((socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      setTimeout(() => socket.end(ok(JSON.stringify(GOOD))), 300);
    });
    expect((await fetchFromAgent(slow.path, "gw", undefined, { takeWithinMs: 20 }))?.accessKeyId).toBe("ASIAX");
  });
});

describe("which sockets the client asks", () => {
  it("a socket named by the caller only: not the config's, and one socket is asked once", async () => {
    const none = join(dir, "none.sock");
    const configs = await answering(ok(JSON.stringify(GOOD)));
    let configRead = 0;
    const configSocket = async () => (configRead++, configs.path);
    expect(await ask(none, { configSocket })).toBeUndefined();
    expect([configRead, configs.requests()]).toEqual([0, 0]);
    const empty = await answering("HTTP/1.1 404 Not Found\r\n\r\n{}");
    const env = { ROLES_ANYWHERE_AGENT_SOCKET: empty.path };
    expect(await ask(undefined as unknown as string, { env, configSocket: async () => empty.path })).toBeUndefined();
    expect(empty.requests()).toBe(1);
    await expect(ask(none, { required: true })).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE", message: `no agent at ${none} serves this role` });
  });

  it.skipIf(existsSync(`/run/user/${process.getuid?.()}`))("no default socket (HOME not absolute) is no agent, not an error, unless one is required", async () => {
    // os.homedir() reads this process's HOME; without XDG_RUNTIME_DIR or /run/user/<uid>, the home decides.
    const home = process.env["HOME"];
    process.env["HOME"] = "relative";
    try {
      expect(await ask(undefined as unknown as string)).toBeUndefined();
      await expect(ask(undefined as unknown as string, { required: true })).rejects.toMatchObject({ code: "SOCKET_UNSAFE" });
    } finally {
      process.env["HOME"] = home;
    }
  });
});
