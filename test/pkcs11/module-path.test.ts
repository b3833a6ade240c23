import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { P11_KIT_PROXY, chooseModule, registeredModule } from "../../src/pkcs11/module-path.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";

const uri = parsePkcs11Uri;

describe("chooseModule", () => {
  it("--pkcs11-lib wins over the URI", () => {
    const choice = { path: "/opt/lib.so", origin: "--pkcs11-lib", option: "--pkcs11-lib" };
    expect(chooseModule("/opt/lib.so", [uri("pkcs11:object=a?module-path=/usr/lib/x.so")], "--pkcs11-lib")).toEqual(choice);
    expect(chooseModule("/opt/lib.so", [], "pkcs11.library")).toMatchObject({ origin: "pkcs11.library" });
  });

  it("then module-path from either URI", () => {
    expect(chooseModule(undefined, [uri("pkcs11:object=a"), uri("pkcs11:object=b?module-path=/usr/lib/x.so")], "--pkcs11-lib").path).toBe("/usr/lib/x.so");
  });

  it("then the p11-kit proxy", () => {
    const proxy = { path: P11_KIT_PROXY, origin: "default (p11-kit proxy)", option: "--pkcs11-lib" };
    expect(chooseModule(undefined, [uri("pkcs11:object=a")], "--pkcs11-lib")).toEqual(proxy);
    expect(chooseModule("", [uri("pkcs11:object=a")], "--pkcs11-lib").path).toBe(P11_KIT_PROXY);
  });

  it("two different module paths are a usage error", () => {
    expect(() => chooseModule(undefined, [uri("pkcs11:?module-path=/a.so"), uri("pkcs11:?module-path=/b.so")], "--pkcs11-lib")).toThrow(/different modules/);
  });

  it("an unknown module-name is an error that says which modules exist", () => {
    expect(() => chooseModule(undefined, [uri("pkcs11:?module-name=no-such-module-anywhere")], "--pkcs11-lib")).toThrow(/does not name a PKCS#11 module/);
  });
});

describe("module-name from the user's p11-kit registrations (~/.config/pkcs11/modules)", () => {
  it("resolves a registered name; a registration that cannot be read is skipped, not an error", () => {
    const home = mkdtempSync(join(tmpdir(), "raa-p11-kit-home-"));
    const modules = join(home, ".config", "pkcs11", "modules");
    mkdirSync(join(modules, "unreadable.module"), { recursive: true }); // a directory: EISDIR when read
    writeFileSync(join(modules, "raa-test.module"), "# a user module\nmodule: /opt/raa-test/libraa-test.so\n");
    // A commented-out line is no registration; a relative path is under p11-kit's module directory.
    writeFileSync(join(modules, "raa-moved.module"), "# module: /tmp/old/libraa.so\n  module :  /opt/raa-new/libraa.so  \n");
    writeFileSync(join(modules, "raa-relative.module"), "module: libraa-relative.so\n");
    vi.stubEnv("HOME", home);
    try {
      const named = (name: string) => chooseModule(undefined, [uri(`pkcs11:?module-name=${name}`)], "--pkcs11-lib");
      const path = "/opt/raa-test/libraa-test.so";
      expect(named("raa-test")).toEqual({ path, origin: "module-name=raa-test", option: "--pkcs11-lib" });
      expect(named("raa-moved").path).toBe("/opt/raa-new/libraa.so");
      expect(named("raa-relative").path).toMatch(/^\/usr\/lib\/(.*-linux-[^/]*\/)?pkcs11\/libraa-relative\.so$/);
      expect(() => named("unreadable")).toThrow(/module-name=unreadable does not name a PKCS#11 module installed here/);
    } finally {
      vi.unstubAllEnvs();
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("registeredModule (a p11-kit registration's module: line)", () => {
  it("takes the first module: line with a value, spaces around name and value; comments and other names are not it", () => {
    expect(registeredModule("# module: /old.so\n  module :  /opt/new.so  \r\nmodule: /second.so\n")).toBe("/opt/new.so");
    expect(registeredModule("modules: /x.so\ncritical: yes\n")).toBeUndefined();
    expect(registeredModule("\ufeffmodule: lib a.so\n")).toBe("lib a.so");
    // Before: "\s*" after the colon went on to the next line, whatever it was
    expect(registeredModule("module:\n\ncritical: yes\n")).toBeUndefined();
    expect(registeredModule("module:   \nmodule: /b.so")).toBe("/b.so");
  });

  it("runs no regular expression over the text (one took 6 s for 80,000 blank lines, 18 s for 80,000 spaces inside a value: quadratic)", () => {
    const seen: number[] = [];
    const exec = RegExp.prototype.exec;
    const spy = vi.spyOn(RegExp.prototype, "exec").mockImplementation(function (this: RegExp, input: string) {
      seen.push(String(input).length);
      return exec.call(this, input);
    });
    try {
      const text = `${"\n".repeat(2_000)}module: a${" ".repeat(2_000)}b\n`;
      expect(registeredModule(text)).toBe(`a${" ".repeat(2_000)}b`);
    } finally {
      spy.mockRestore();
    }
    expect(seen).toEqual([]);
  });
});
