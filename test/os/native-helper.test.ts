import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadNativeHelper, peerOf, type NativeHelper } from "../../src/os/native-helper.js";

/** Where `npm run build` puts the helper; seen from src/os/ (the sources, as tests run them) two levels up. */
const BUILT = join("dist", "native", `${process.platform}-${process.arch}`, "raa_native.node");

describe("loadNativeHelper", () => {
  it.runIf(existsSync(BUILT))("finds the helper the build put in dist/native/ and loads it once: one object, every call", () => {
    const first = loadNativeHelper();
    expect(first.reason).toBeUndefined();
    for (const name of ["disableCoreDumps", "isDumpable", "peerCredentials", "notify"] as const) expect(typeof first.helper?.[name], name).toBe("function");
    expect(loadNativeHelper()).toBe(first);
  });
});

describe("peerOf", () => {
  /** A helper that says which descriptors it was asked about (the real one: native-test/local-trust-socket.test.ts). */
  const asked: unknown[] = [];
  const helper = { peerCredentials: (fd: number) => (asked.push(fd), { uid: 7, gid: 7, pid: 70 }) } as unknown as NativeHelper;

  it("asks about a connected socket's descriptor; a socket without one (closed, or fd -1) is no answer, not a question", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-peer-of-"));
    const server = createServer();
    try {
      server.listen(join(dir, "s.sock"));
      await once(server, "listening");
      const socket = connect(join(dir, "s.sock"));
      await once(socket, "connect");
      asked.length = 0;
      expect(peerOf(socket, helper)).toEqual({ uid: 7, gid: 7, pid: 70 });
      expect(asked).toEqual([expect.any(Number)]);
      expect(asked[0]).toBeGreaterThanOrEqual(0);
      socket.destroy();
      const withoutFd = { _handle: { fd: -1 } } as unknown as Socket;
      expect([peerOf(socket, helper), peerOf(withoutFd, helper), peerOf({} as Socket, helper)]).toEqual([undefined, undefined, undefined]);
      expect(asked).toHaveLength(1);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
