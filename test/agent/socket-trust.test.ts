import { once } from "node:events";
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectToAgent } from "../../src/agent/socket-trust.js";
import { isTrustedPeerUid } from "../../src/os/native-helper.js";
import { loadNativeHelper, type NativeHelperLoad } from "../../src/os/native-helper.js";
import { makeTempDir } from "../helpers/pki.js";

// Cross-user cases (another uid's listener, peer credentials) run as real users in
// native-test/local-trust-socket.test.ts; here: the directory walk used without the native helper.
const { dir, cleanup } = makeTempDir("raa-socket-trust-");
const servers: Server[] = [];
const uid = process.getuid!();
const WALK = { native: { reason: "test: directory walk" } } as const;

async function socketAt(path: string): Promise<string> {
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  // A client that refuses the listener closes at once: its reset is expected, not an error of the test.
  const server = createServer((c) => c.on("error", () => {}).end("hello"));
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, r));
  chmodSync(path, 0o600);
  return path;
}

async function greeting(socket: Socket | undefined): Promise<string | undefined> {
  if (!socket) return undefined;
  const chunks: Buffer[] = [];
  for await (const c of socket) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

beforeAll(() => chmodSync(dir, 0o700));
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  cleanup();
});

describe("connectToAgent without the native helper (directory walk)", () => {
  it("connects to this user's socket in a private directory; a missing path or a non-socket means no agent", async () => {
    const path = await socketAt(join(dir, "ok", "agent.sock"));
    expect(await greeting(await connectToAgent(path, WALK))).toBe("hello");
    expect(await connectToAgent(join(dir, "ok", "missing.sock"), WALK)).toBeUndefined();
    expect(await connectToAgent(join(dir, "nowhere", "agent.sock"), WALK)).toBeUndefined();
    writeFileSync(join(dir, "ok", "file"), "");
    expect(await connectToAgent(join(dir, "ok", "file"), WALK)).toBeUndefined();
  });

  it("leaves no descriptor open per connection (the socket's O_PATH one, its directory's)", async () => {
    // A library caller (the SDK provider) asks the agent for every refresh for as long as its process runs.
    const path = await socketAt(join(dir, "fds", "agent.sock"));
    const open = () => readdirSync("/proc/self/fd").length;
    const ask = async () => {
      const socket = (await connectToAgent(path, WALK))!;
      expect(await greeting(socket)).toBe("hello");
      if (!socket.closed) await once(socket, "close");
    };
    await ask();
    const before = open();
    for (let i = 0; i < 20; i++) await ask();
    expect(open() - before).toBeLessThan(5);
  });

  it("connects to a 107-byte path whose name alone is long (through /proc/self/fd/N/name it was 111 bytes: no agent)", async () => {
    const short = mkdtempSync("/tmp/r"); // a short directory leaves the name most of the 107 bytes
    try {
      chmodSync(short, 0o700);
      const path = join(short, `${"a".repeat(107 - short.length - 1 - 5)}.sock`);
      expect(Buffer.byteLength(path)).toBe(107);
      await socketAt(path);
      expect(await greeting(await connectToAgent(path, WALK))).toBe("hello");
    } finally {
      rmSync(short, { recursive: true, force: true });
    }
  });

  it("a path through a file, or a symbolic link loop, means no agent (signs directly), not an error", async () => {
    mkdirSync(join(dir, "odd"), { mode: 0o700 });
    writeFileSync(join(dir, "odd", "file"), "");
    expect(await connectToAgent(join(dir, "odd", "file", "agent.sock"), WALK)).toBeUndefined();
    symlinkSync(join(dir, "odd", "loop-b"), join(dir, "odd", "loop-a"));
    symlinkSync(join(dir, "odd", "loop-a"), join(dir, "odd", "loop-b"));
    expect(await connectToAgent(join(dir, "odd", "loop-a"), WALK)).toBeUndefined();
  });

  it("refuses a socket directory others can write, even with the sticky bit; sticky directories above it are fine", async () => {
    const path = await socketAt(join(dir, "shared", "agent.sock"));
    chmodSync(join(dir, "shared"), 0o1777);
    await expect(connectToAgent(path, WALK)).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
      message: expect.stringMatching(/refusing to use the agent socket .*: its directory .*shared can be written by other users \(mode 1777\)$/),
    });
    chmodSync(join(dir, "shared"), 0o777);
    await expect(connectToAgent(path, WALK)).rejects.toMatchObject({ message: expect.stringMatching(/directory .*shared can be written by other users \(mode 777\)$/) });
    const below = await socketAt(join(dir, "shared", "private", "agent.sock"));
    chmodSync(join(dir, "shared"), 0o1777);
    expect(await greeting(await connectToAgent(below, WALK))).toBe("hello");
  });

  it("follows a symbolic link of this user to the socket, and checks where it leads", async () => {
    const target = await socketAt(join(dir, "target", "agent.sock"));
    mkdirSync(join(dir, "links"), { mode: 0o700 });
    symlinkSync(target, join(dir, "links", "agent.sock"));
    expect(await greeting(await connectToAgent(join(dir, "links", "agent.sock"), WALK))).toBe("hello");
    symlinkSync(join(dir, "target", "gone.sock"), join(dir, "links", "dangling.sock"));
    expect(await connectToAgent(join(dir, "links", "dangling.sock"), WALK)).toBeUndefined();
    chmodSync(join(dir, "target"), 0o777);
    await expect(connectToAgent(join(dir, "links", "agent.sock"), WALK)).rejects.toMatchObject({ message: expect.stringMatching(/target can be written by other users/) });
  });

  it.runIf(uid === 0)("refuses a directory, a link or a socket of another user (root's are fine)", async () => {
    const path = await socketAt(join(dir, "foreign", "agent.sock"));
    chownSync(join(dir, "foreign"), 65534, 65534);
    await expect(connectToAgent(path, WALK)).rejects.toMatchObject({ message: expect.stringMatching(/directory .*foreign belongs to uid 65534, not to this user \(0\) or root$/) });
    chownSync(join(dir, "foreign"), 0, 0);
    chownSync(path, 65534, 65534);
    await expect(connectToAgent(path, WALK)).rejects.toMatchObject({ message: expect.stringMatching(/the socket belongs to uid 65534/) });
    chownSync(path, 0, 0);
    mkdirSync(join(dir, "sticky"));
    chmodSync(join(dir, "sticky"), 0o1777);
    symlinkSync(path, join(dir, "sticky", "agent.sock"));
    lchownSync(join(dir, "sticky", "agent.sock"), 65534, 65534);
    await expect(connectToAgent(join(dir, "sticky", "agent.sock"), WALK)).rejects.toMatchObject({ message: expect.stringMatching(/symbolic link .*sticky\/agent\.sock belongs to uid 65534/) });
  });
});

describe("connectToAgent with the native helper (peer credentials)", () => {
  const native = loadNativeHelper();
  it.runIf(native.helper !== undefined)("connects to a listener of this user wherever it is; the directory is not what decides", async () => {
    const path = await socketAt(join(dir, "peer", "agent.sock"));
    chmodSync(join(dir, "peer"), 0o777);
    expect(await greeting(await connectToAgent(path, { native }))).toBe("hello");
    expect(await connectToAgent(join(dir, "peer", "missing.sock"), { native })).toBeUndefined();
  });

  /** A helper whose SO_PEERCRED answer is the test's, so the uid checks run without a second user. */
  const fakePeer = (peer: () => { uid: number; pid: number } | undefined): NativeHelperLoad => ({
    helper: {
      disableCoreDumps: () => true,
      isDumpable: () => 0,
      notify: () => {},
      peerCredentials: () => {
        const p = peer();
        if (!p) throw new Error("SO_PEERCRED: EINVAL");
        return { ...p, gid: p.uid };
      },
    },
  });

  it("refuses a listener of another uid by its peer credentials, or whose credentials cannot be read", async () => {
    const path = await socketAt(join(dir, "fake-peer", "agent.sock"));
    const other = fakePeer(() => ({ uid: 1001, pid: 42 }));
    await expect(connectToAgent(path, { uid: 1000, native: other })).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
      message: `refusing to use the agent socket ${path}: it is served by uid 1001 (pid 42), not by this user (1000)`,
      hint: "another user may be impersonating the agent: remove the socket and restart the agent "
        + "(its directory must be yours and private), or sign directly with --no-agent",
    });
    await expect(connectToAgent(path, { uid: 1000, native: fakePeer(() => undefined) })).rejects.toMatchObject({
      code: "SOCKET_UNSAFE",
      message: `refusing to use the agent socket ${path}: its peer credentials cannot be read (SO_PEERCRED: EINVAL)`,
    });
    // Control: this user's listener, and root's, are used; the path is not walked then (uid 1000 owns nothing here).
    for (const peer of [{ uid: 1000, pid: 42 }, { uid: 0, pid: 1 }]) {
      expect(await greeting(await connectToAgent(path, { uid: 1000, native: fakePeer(() => peer) }))).toBe("hello");
    }
  });

  it("trusts peers of the same uid, and root", () => {
    expect([isTrustedPeerUid(1000, 1000), isTrustedPeerUid(0, 1000), isTrustedPeerUid(1001, 1000), isTrustedPeerUid(1000, 0)]).toEqual([true, true, false, false]);
  });
});
