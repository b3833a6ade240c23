import { describe, expect, it } from "vitest";
import { DeviceError } from "../../src/errors.js";
import { reportError, wantsDebug } from "../../src/cli/report-error.js";

function collect() {
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} };
  return { io, stderr: () => stderr };
}

describe("reportError", () => {
  it("prints no stack without --debug, neither an error's own nor its cause's: one line", () => {
    const cause = new Error("C_Sign failed");
    const device = collect();
    expect(reportError(new DeviceError("PKCS11_ERROR", "the token refused", { cause }), device.io, false)).toBe(5);
    expect(device.stderr()).toBe("roles-anywhere-agent: the token refused\n");
    const internal = collect();
    expect(reportError(new TypeError("x is not a function"), internal.io, false)).toBe(1);
    expect(internal.stderr()).toBe("roles-anywhere-agent: internal error: x is not a function (rerun with --debug for details and report it)\n");
  });

  it("prints the stack after the line with --debug: the cause's for an error of ours, the error's own for a bug", () => {
    const cause = new Error("C_Sign failed");
    const device = collect();
    reportError(new DeviceError("PKCS11_ERROR", "the token refused", { cause }), device.io, true);
    expect(device.stderr()).toBe(`roles-anywhere-agent: the token refused\n${cause.stack}\n`);
    const bug = new TypeError("x is not a function");
    const internal = collect();
    reportError(bug, internal.io, true);
    expect(internal.stderr()).toBe(`roles-anywhere-agent: internal error: x is not a function (rerun with --debug for details and report it)\n${bug.stack}\n`);
  });

  it("reads the state the parent handed over as input errors (exit 3), not bugs: cwd gone, ENFILE, the package replaced", () => {
    const cwd = collect();
    const gone = Object.assign(new Error("ENOENT: no such file or directory, uv_cwd"), { code: "ENOENT", syscall: "uv_cwd" });
    expect(reportError(gone, cwd.io, false)).toBe(3);
    expect(cwd.stderr()).toMatch(/^roles-anywhere-agent: the working directory no longer exists \(ENOENT\), so a relative path cannot be found \(/);
    const enfile = collect();
    expect(reportError(Object.assign(new Error("ENFILE: file table overflow"), { code: "ENFILE", syscall: "open" }), enfile.io, false)).toBe(3);
    expect(enfile.stderr()).toMatch(/^roles-anywhere-agent: too many open files \(ENFILE\) \(raise the limit/);
    const changed = collect();
    const missing = Object.assign(new Error("Cannot find module '/usr/lib/raa/dist/daemon/cli.mjs' imported from x"), { code: "ERR_MODULE_NOT_FOUND" });
    expect(reportError(missing, changed.io, false)).toBe(3);
    expect(changed.stderr()).toMatch(/^roles-anywhere-agent: the installation changed since this process started, or is incomplete: \/usr\/lib\/raa\/dist\/daemon\/cli\.mjs is missing/);
    const other = collect();
    expect(reportError(Object.assign(new Error("EACCES: permission denied"), { code: "EACCES", syscall: "open" }), other.io, false)).toBe(1);
  });
});

describe("wantsDebug", () => {
  it("is true for --debug and --debug=true alone, never for a command line without them", () => {
    expect(wantsDebug(["credential-process", "--debug"])).toBe(true);
    expect(wantsDebug(["credential-process", "--debug=true"])).toBe(true);
    expect(wantsDebug(["credential-process", "--profile", "p"])).toBe(false);
    expect(wantsDebug(["credential-process", "--debug=false", ""])).toBe(false);
  });
});
