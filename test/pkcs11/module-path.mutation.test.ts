/**
 * Round 39, M43: Stryker survivors of module-path.ts' readText (a p11-kit registration read by descriptor, size-capped)
 * and registeredModule.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_INPUT_BYTES } from "../../src/io/read-opened-file.js";
import { chooseModule, registeredModule } from "../../src/pkcs11/module-path.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";

let home: string;
let modules: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "raa-p11-kit-m43-"));
  modules = join(home, ".config", "pkcs11", "modules");
  mkdirSync(modules, { recursive: true });
  vi.stubEnv("HOME", home);
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(home, { recursive: true, force: true });
});
const named = (name: string) => chooseModule(undefined, [parsePkcs11Uri(`pkcs11:?module-name=${name}`)], "--pkcs11-lib").path;

/** A registration of `size` bytes (sparse: zeros after its module: line). */
function sized(name: string, size: number): void {
  const fd = openSync(join(modules, `${name}.module`), "w");
  writeSync(fd, `module: /opt/${name}.so\n`);
  writeSync(fd, "\n", size - 1);
  closeSync(fd);
}

describe("a p11-kit registration as readText reads it", () => {
  it("one of MAX_INPUT_BYTES is read; one byte more is skipped, not read whole", () => {
    sized("raa-at-cap", MAX_INPUT_BYTES);
    sized("raa-over-cap", MAX_INPUT_BYTES + 1);
    expect(named("raa-at-cap")).toBe("/opt/raa-at-cap.so");
    expect(() => named("raa-over-cap")).toThrow(/module-name=raa-over-cap does not name a PKCS#11 module installed here/);
  });

  it("a dangling symlink registration is skipped, not an error; another one is still found", () => {
    symlinkSync(join(home, "gone"), join(modules, "raa-dangling.module"));
    writeFileSync(join(modules, "raa-ok.module"), "module: /opt/ok.so\n");
    expect(named("raa-ok")).toBe("/opt/ok.so");
    expect(() => named("raa-dangling")).toThrow(/does not name a PKCS#11 module installed here/);
  });

  it("leaves no descriptor open: each registration read is closed", () => {
    for (let i = 0; i < 20; i++) writeFileSync(join(modules, `raa-${i}.module`), `module: /opt/${i}.so\n`);
    const before = readdirSync("/proc/self/fd").length;
    expect(named("raa-7")).toBe("/opt/7.so");
    expect(readdirSync("/proc/self/fd").length).toBe(before);
  });
});

describe("registeredModule", () => {
  it("a line without a colon is no module: line, whatever it starts with", () => {
    expect(registeredModule("modulex\nmodule: /lib/a.so\n")).toBe("/lib/a.so");
    expect(registeredModule("module /lib/b.so\n")).toBeUndefined();
  });
});
