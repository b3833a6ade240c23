import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
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

/**
 * Where the loader looks: the package's own dist/ (distDirectory: from src/os/ here; from dist/, dist/daemon/,
 * dist/lib/os/ when built), nowhere else. Until round 33 it also looked next to the module and one and two levels up,
 * which from a bundle in dist/ is the directory the package sits in (another user's /tmp/native/…, dlopened by root).
 */
describe("loadNativeHelper's candidates", () => {
  const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  const FILE = join("native", `${process.platform}-${process.arch}`, "raa_native.node");
  const CANDIDATE = join(REPO, "dist", FILE); // distDirectory() of src/os/: the checkout's dist/
  /** Where the loader looked before round 33: beside the module, and one and two levels up (the package's parent). */
  const OLD_PLACES = [join(REPO, "src", "os"), join(REPO, "src"), REPO, dirname(REPO)].flatMap((d) => [join(d, FILE), join(d, "dist", FILE)])
    .filter((p) => p !== CANDIDATE);
  afterEach(() => {
    vi.doUnmock("node:fs");
    vi.restoreAllMocks();
    vi.resetModules();
  });

  /** A fresh loader (its answer is kept per process) that sees only `existing` exist; what it asked, and loaded. */
  async function load(existing: string[], dlopen: (path: string) => void = () => {}) {
    const asked: string[] = [];
    const loaded: string[] = [];
    vi.resetModules();
    vi.doMock("node:fs", async (actual) => ({
      ...(await actual<object>()),
      existsSync: (path: string) => (asked.push(path), existing.includes(path)),
    }));
    vi.spyOn(process, "dlopen").mockImplementation((_module, path) => (loaded.push(path), dlopen(path)));
    const { loadNativeHelper: fresh } = await import("../../src/os/native-helper.js");
    return { result: fresh(), asked, loaded };
  }

  it("asks the package's dist/ only; none there: the reason says so", async () => {
    const { result, asked, loaded } = await load([]);
    expect(asked).toEqual([CANDIDATE]);
    expect(loaded).toEqual([]);
    expect(result).toEqual({ reason: `${FILE} is not part of this installation` });
  });

  it("loads it from there, and never from beside the module or the directory the package sits in", async () => {
    expect((await load([CANDIDATE, ...OLD_PLACES])).loaded).toEqual([CANDIDATE]);
    const { loaded, asked } = await load(OLD_PLACES); // another user's /tmp/native/… beside an unpacked package
    expect(loaded).toEqual([]);
    expect(asked).toEqual([CANDIDATE]);
  });

  it("one that cannot be loaded: the path and the first line of dlopen's error", async () => {
    const first = CANDIDATE;
    const { result } = await load([first], () => {
      throw new Error("wrong ELF class: ELFCLASS32\nmore");
    });
    expect(result).toEqual({ reason: `${first} cannot be loaded: wrong ELF class: ELFCLASS32` });
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
