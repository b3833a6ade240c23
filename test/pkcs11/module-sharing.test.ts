/**
 * A PKCS#11 library is process-wide: one C_Finalize ends the sessions of all its users (module-loader.ts).
 * - Two signers opened at the same moment (two fromRolesAnywhere providers' first calls) each loaded their own
 *   module: closing the first finalised the library under the second, whose session died
 *   ("session … lost (CKR_CRYPTOKI_NOT_INITIALIZED)") and had to log in again.
 * - A library initialised already (the application's own pkcs11js, or a provider in another worker thread: their
 *   C_Initialize answers CKR_CRYPTOKI_ALREADY_INITIALIZED) was finalised by our last close(), under its owner; and
 *   a worker thread finalised one that other threads were using ("searching the token failed:
 *   CKR_CRYPTOKI_NOT_INITIALIZED" in a sibling worker).
 * Also what loading and initialising one gives (module-loader.ts), over a stand-in for pkcs11js's addon.
 */
import { copyFileSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { CKF } from "../../src/pkcs11/constants.js";
import { makeTempDir } from "../helpers/pki.js";

const state = vi.hoisted(() => ({
  calls: [] as string[],
  alreadyInitialized: false,
  mainThread: true,
  initArgs: [] as unknown[],
  loadError: undefined as Error | undefined,
  initError: undefined as Error | undefined,
  installed: [] as string[],
}));
vi.mock("node:worker_threads", () => ({
  get isMainThread() {
    return state.mainThread;
  },
}));
vi.mock("../../src/pkcs11/module-path.js", () => ({ findInstalledModules: () => state.installed }));
vi.mock("../../src/pkcs11/addon-status.js", () => ({
  requirePkcs11js: () => ({
    PKCS11: class {
      load = () => {
        state.calls.push("load");
        if (state.loadError) throw state.loadError;
      };
      C_Initialize = (args: unknown) => {
        state.calls.push("C_Initialize");
        state.initArgs.push(args);
        if (state.initError) throw state.initError;
        if (state.alreadyInitialized) throw new Error("CKR_CRYPTOKI_ALREADY_INITIALIZED:401");
        state.alreadyInitialized = true;
      };
      // Fixed-size CK_INFO fields: blank-padded, or a C string with stale bytes after its NUL.
      C_GetInfo = () => ({ manufacturerID: "Test".padEnd(32), libraryDescription: "Fake\0stale".padEnd(32), libraryVersion: { major: 1, minor: 0 } });
      C_Finalize = () => {
        state.calls.push("C_Finalize");
        state.alreadyInitialized = false;
      };
      close = () => state.calls.push("close");
    },
  }),
}));
const { acquireModule } = await import("../../src/pkcs11/module-loader.js");

const { dir, cleanup } = makeTempDir("raa-module-sharing-");
afterAll(cleanup);

const choice = { path: "libfake-pkcs11.so", origin: "test", option: "pkcs11.library" };
beforeEach(() =>
  Object.assign(state, { calls: [], alreadyInitialized: false, mainThread: true, initArgs: [], loadError: undefined, initError: undefined, installed: [] }),
);

describe("acquireModule", () => {
  it("called twice at once, loads the library once; the first release leaves it initialised for the other", async () => {
    const [a, b] = await Promise.all([acquireModule(choice), acquireModule(choice)]);
    expect(b.module).toBe(a.module);
    a.release();
    expect(state.calls).toEqual(["load", "C_Initialize"]);
    b.release();
    expect(state.calls).toEqual(["load", "C_Initialize", "C_Finalize", "close"]);
  });

  it("never finalises a library someone else in the process initialised (CKR_CRYPTOKI_ALREADY_INITIALIZED)", async () => {
    state.alreadyInitialized = true;
    (await acquireModule(choice)).release();
    expect(state.calls).toEqual(["load", "C_Initialize", "close"]);
  });

  it("in a worker thread, never finalises the library: other threads may be using it", async () => {
    state.mainThread = false;
    (await acquireModule(choice)).release();
    expect(state.calls).toEqual(["load", "C_Initialize", "close"]);
  });

  it("a lease released twice drops one reference: the library stays initialised for its other user", async () => {
    const [a, b] = await Promise.all([acquireModule(choice), acquireModule(choice)]);
    a.release();
    a.release();
    expect(state.calls).toEqual(["load", "C_Initialize"]);
    b.release();
    expect(state.calls).toEqual(["load", "C_Initialize", "C_Finalize", "close"]);
  });

  it("one module per library file: two libraries are not shared; two paths to the same file are", async () => {
    const file = join(dir, "libreal-pkcs11.so");
    writeFileSync(file, "");
    symlinkSync(file, join(dir, "link.so"));
    const leases = [
      await acquireModule({ ...choice, path: "/nonexistent/libone.so" }),
      await acquireModule({ ...choice, path: "/nonexistent/libtwo.so" }),
      await acquireModule({ ...choice, path: file }),
      await acquireModule({ ...choice, path: join(dir, "link.so") }),
    ];
    expect(leases[1]!.module).not.toBe(leases[0]!.module);
    expect(leases[2]!.module).not.toBe(leases[0]!.module);
    expect(leases[3]!.module).toBe(leases[2]!.module);
    expect(state.calls.filter((c) => c === "load")).toHaveLength(3);
    for (const lease of leases) lease.release();
  });

  it("a bare library name is left to the dynamic loader, even when the working directory has a directory of that name", async () => {
    expect(statSync("src").isDirectory()).toBe(true);
    const lease = await acquireModule({ ...choice, path: "src" });
    expect(state.calls).toEqual(["load", "C_Initialize"]);
    lease.release();
  });

  it("initialised for use from several threads, its CK_INFO text read without padding or what follows a NUL", async () => {
    const lines: string[] = [];
    const lease = await acquireModule(choice, (line) => lines.push(line));
    expect(state.initArgs).toEqual([{ flags: CKF.OS_LOCKING_OK }]);
    expect(lease.module.info).toEqual({ manufacturer: "Test", description: "Fake", version: { major: 1, minor: 0 } });
    expect(lines).toEqual(["pkcs11: loaded libfake-pkcs11.so (test): Fake 1.0 by Test"]);
    lease.release();
  });
});

describe("Pkcs11Module.reinitialize (a token went away)", () => {
  it("a module this thread initialised: C_Finalize, C_Initialize, a new generation, still finalised at the end", async () => {
    const lease = await acquireModule(choice);
    lease.module.reinitialize();
    expect(state.calls).toEqual(["load", "C_Initialize", "C_Finalize", "C_Initialize"]);
    expect(lease.module.generation).toBe(1);
    lease.release();
    expect(state.calls.slice(4)).toEqual(["C_Finalize", "close"]);
  });

  it("a module someone else initialised: left alone, C_Finalize would end its owner's sessions", async () => {
    state.alreadyInitialized = true;
    const lease = await acquireModule(choice);
    lease.module.reinitialize();
    expect(state.calls).toEqual(["load", "C_Initialize"]);
    lease.release();
  });
});

describe("a module that does not load or initialise", () => {
  it("dlopen() fails: its first line, and the modules found on this system to pass instead", async () => {
    state.loadError = new Error("libfake-pkcs11.so: cannot open shared object file: No such file or directory\nsecond line");
    state.installed = ["/usr/lib/a-pkcs11.so", "/usr/lib/b-pkcs11.so"];
    await expect(acquireModule(choice)).rejects.toMatchObject({
      code: "PKCS11_MODULE_NOT_FOUND",
      message: "cannot load the PKCS#11 module libfake-pkcs11.so (test): libfake-pkcs11.so: cannot open shared object file: No such file or directory",
      hint: "modules found on this system: /usr/lib/a-pkcs11.so, /usr/lib/b-pkcs11.so; pass one with pkcs11.library or module-path=",
      cause: state.loadError,
    });
    state.installed = [];
    await expect(acquireModule(choice)).rejects.toMatchObject({
      hint: "no PKCS#11 module was found on this system: install one (softhsm2, opensc, ykcs11, libtpm2-pkcs11-1) and pass it with pkcs11.library",
    });
  });

  it("C_Initialize fails: PKCS11_ERROR with the CKR and what to check, the library closed again, nothing kept", async () => {
    state.initError = new Error("CKR_GENERAL_ERROR:5");
    await expect(acquireModule(choice)).rejects.toMatchObject({
      code: "PKCS11_ERROR",
      message: "C_Initialize of the PKCS#11 module libfake-pkcs11.so failed: CKR_GENERAL_ERROR",
      hint: "check the module's own configuration and logs",
      cause: state.initError,
    });
    expect(state.calls).toEqual(["load", "C_Initialize", "close"]);
    await expect(acquireModule({ ...choice, path: "/nonexistent/libsofthsm2.so" })).rejects.toMatchObject({
      hint: "SoftHSM reads its token directory from SOFTHSM2_CONF: check that the variable points at a readable config",
    });
    state.initError = undefined;
    (await acquireModule(choice)).release();
    expect(state.calls.slice(6)).toEqual(["load", "C_Initialize", "C_Finalize", "close"]);
  });
});

describe("a module replaced on disk while this process has it mapped (warnIfReplaced)", () => {
  const replaced = () => warned.mock.calls.filter(([, options]) => (options as { code?: string } | undefined)?.code === "RAA_MODULE_REPLACED");
  const warned = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
  afterAll(() => warned.mockRestore());
  beforeEach(() => warned.mockClear());
  /** A new file renamed over `path`, as a package upgrade does: another inode at the name. */
  const upgrade = (path: string) => {
    copyFileSync(ADDON, `${path}.new`);
    renameSync(`${path}.new`, path);
  };
  const ADDON = join("node_modules", "pkcs11js", "build", "Release", "pkcs11.node");

  it("says so once per replacement (its path as given), then again for the next; none while the file mapped is the one at the path", async () => {
    // A shared library this process really maps (the stand-in addon maps nothing): a copy of pkcs11js's addon.
    const library = join(dir, "mapped.so");
    copyFileSync(ADDON, library);
    process.dlopen({ exports: {} }, library);
    const viaLink = join(dir, "mapped-link.so");
    symlinkSync(library, viaLink);
    const acquiredTwice = async () => {
      for (let n = 0; n < 2; n++) (await acquireModule({ ...choice, path: viaLink })).release();
    };
    await acquiredTwice();
    expect(replaced()).toEqual([]);
    upgrade(library);
    await acquiredTwice();
    expect(replaced()).toHaveLength(1);
    expect(replaced()[0]![0]).toBe(`the PKCS#11 module ${viaLink} was replaced on disk, but this process still runs the copy it loaded `
      + "before (a loaded library cannot be reloaded): restart it to use the new one");
    upgrade(library);
    await acquiredTwice();
    expect(replaced()).toHaveLength(2);
  });

  it("a file at the path that this process does not map (not loaded by its path): nothing to compare, nothing said", async () => {
    const library = join(dir, "unmapped.so");
    writeFileSync(library, "not mapped\n");
    (await acquireModule({ ...choice, path: library })).release();
    expect(replaced()).toEqual([]);
  });
});
