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
 * Where the loader looks, from this module's own file (src/os/ here; dist/, dist/daemon/, dist/lib/os/ when built):
 * next to it, one and two levels up, each also under dist/; the first that exists is loaded. Round 33: no test said
 * which candidates, in which order (hand mutants dropping one or swapping two survived where dist/ was not built).
 */
describe("loadNativeHelper's candidates", () => {
  const HERE = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "os");
  const FILE = join("native", `${process.platform}-${process.arch}`, "raa_native.node");
  const CANDIDATES = [HERE, join(HERE, ".."), join(HERE, "..", "..")].flatMap((d) => [join(d, FILE), join(d, "dist", FILE)]);
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

  it("asks next to the module, then one and two levels up, each also under dist/; none there: the reason says so", async () => {
    const { result, asked, loaded } = await load([]);
    expect(asked).toEqual(CANDIDATES);
    expect(loaded).toEqual([]);
    expect(result).toEqual({ reason: `${FILE} is not part of this installation` });
  });

  it.each(CANDIDATES.map((c, i) => [i, c] as const))("loads candidate %i when it alone exists, and an earlier one before it", async (i, candidate) => {
    expect((await load([candidate])).loaded).toEqual([candidate]);
    if (i > 0) expect((await load([candidate, CANDIDATES[i - 1]!])).loaded).toEqual([CANDIDATES[i - 1]]);
  });

  it("one that cannot be loaded: the path and the first line of dlopen's error", async () => {
    const [first] = CANDIDATES;
    const { result } = await load([first!], () => {
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
