import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadNativeHelper } from "../../src/os/native-helper.js";

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
