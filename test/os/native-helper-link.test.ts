/**
 * Round 34 (S28): loadNativeHelper judges the native helper by its real path (othersCouldPlant walks the directories
 * of where the links lead), then loaded it by its name. A symbolic link on the way lives in a directory that walk never
 * sees (dist/native here, 0777): whoever can write there re-points the link between the check and process.dlopen(),
 * and their file is loaded as the program's code. The race is won here by re-pointing the link right after the
 * realpath, as that user would in a loop.
 */
import { chmodSync, chownSync, copyFileSync, mkdirSync, realpathSync as realRealpath, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { makeTempDir } from "../helpers/pki.js";

const state = vi.hoisted(() => ({ dist: "", moduleFile: "", afterRealpath: undefined as (() => void) | undefined }));
vi.mock("../../src/os/module-file.js", () => ({ distDirectory: () => state.dist, thisModuleFile: () => state.moduleFile }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const realpathSync = ((path: string, ...rest: unknown[]) => {
    const real = (fs.realpathSync as (...a: unknown[]) => string)(path, ...rest);
    const race = state.afterRealpath;
    state.afterRealpath = undefined;
    race?.();
    return real;
  }) as typeof fs.realpathSync;
  return { ...fs, realpathSync, default: { ...fs, realpathSync } };
});

const { dir, cleanup } = makeTempDir("raa-native-link-");
afterAll(cleanup);
const BUILT = join(process.cwd(), "dist", "native", `${process.platform}-${process.arch}`, "raa_native.node");

describe.runIf(process.getuid?.() === 0 && process.platform === "linux")("the native helper through a symbolic link", () => {
  it("what is loaded is the file judged: a link re-pointed after the check is not followed (was: another user's file dlopen()ed)", async () => {
    const good = join(dir, "good");
    mkdirSync(good, { mode: 0o755 });
    copyFileSync(BUILT, join(good, "raa_native.node"));
    const planted = join(dir, "planted"); // another user's: what she points the link at once the check is done
    mkdirSync(planted, { mode: 0o755 });
    writeFileSync(join(planted, "raa_native.node"), "not the helper\n");
    chownSync(planted, 65534, 65534);
    chownSync(join(planted, "raa_native.node"), 65534, 65534);
    state.dist = join(dir, "dist");
    mkdirSync(join(state.dist, "native"), { recursive: true, mode: 0o755 });
    chmodSync(join(state.dist, "native"), 0o777); // she can change the links in it
    state.moduleFile = join(state.dist, "cli.js");
    writeFileSync(state.moduleFile, "");
    const link = join(state.dist, "native", `${process.platform}-${process.arch}`);
    symlinkSync(good, link);
    state.afterRealpath = () => {
      unlinkSync(link);
      symlinkSync(planted, link);
    };
    const { loadNativeHelper } = await import("../../src/os/native-helper.js");
    const loaded = loadNativeHelper();
    expect(realRealpath(link)).toBe(realRealpath(planted)); // the race was run
    expect(loaded.reason).toBeUndefined(); // was: "… cannot be loaded: … invalid ELF header": hers, dlopen()ed
    expect(typeof loaded.helper?.isDumpable).toBe("function");
  });
});
