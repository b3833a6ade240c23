import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DeviceError, installationChanged, type UsageError } from "../../src/errors.js";
import { maxAttemptsFrom } from "../../src/rolesanywhere/retry.js";
import { reportError, wantsDebug } from "../../src/cli/report-error.js";
import { CREDENTIAL_PROCESS_FLAGS } from "../../src/cli/commands/credential-process-options.js";
import { main } from "../../src/cli/main.js";

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

  it("reads the state the parent handed over as input errors (exit 3), not bugs: cwd gone, ENFILE; the package replaced exits 1", () => {
    const cwd = collect();
    const gone = Object.assign(new Error("ENOENT: no such file or directory, uv_cwd"), { code: "ENOENT", syscall: "uv_cwd" });
    expect(reportError(gone, cwd.io, false)).toBe(3);
    expect(cwd.stderr()).toMatch(/^roles-anywhere-agent: the working directory no longer exists \(ENOENT\), so a relative path cannot be found \(/);
    const enfile = collect();
    expect(reportError(Object.assign(new Error("ENFILE: file table overflow"), { code: "ENFILE", syscall: "open" }), enfile.io, false)).toBe(3);
    expect(enfile.stderr()).toMatch(/^roles-anywhere-agent: too many open files \(ENFILE\) \(raise the limit/);
    const changed = collect();
    const missing = Object.assign(new Error("Cannot find module '/usr/lib/raa/dist/daemon/cli.mjs' imported from x"), { code: "ERR_MODULE_NOT_FOUND" });
    // Exit 1, as the launcher's "the installation is incomplete": a unit restarts it (RestartPreventExitStatus=2 3 4
    // kept a daemon started while npm wrote the package down for good, the install done a second later).
    expect(reportError(missing, changed.io, false)).toBe(1);
    expect(changed.stderr()).toMatch(/^roles-anywhere-agent: the installation changed since this process started, or is incomplete: \/usr\/lib\/raa\/dist\/daemon\/cli\.mjs is missing/);
    // The same error as a daemon's source made it (update --once: its first refresh imports a module of its own).
    const refreshed = collect();
    expect(reportError(installationChanged(missing), refreshed.io, false)).toBe(1);
    expect(refreshed.stderr()).toBe(changed.stderr());
    // pkcs11js missing is its own error (exit 5), whose cause is a "Cannot find module" too.
    const addon = Object.assign(new Error("Cannot find module 'pkcs11js/build/Release/pkcs11.node'"), { code: "MODULE_NOT_FOUND" });
    expect(reportError(new DeviceError("PKCS11_NOT_INSTALLED", "PKCS#11 support is not installed", { cause: addon }), collect().io, false)).toBe(5);
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

describe("wantsDebug reads the debug flag as the parser does", () => {
  const line = (...rest: string[]) => ["credential-process", ...rest];
  const both = (argv: string[]) => [wantsDebug(argv), wantsDebug(argv, CREDENTIAL_PROCESS_FLAGS)];

  it("takes -debug (one dash, the Go helper's spelling) and every true spelling the parser takes", () => {
    for (const arg of ["-debug", "--debug", "-debug=true", "--debug=1", "--debug=t", "--debug=TRUE", "--debug=True"]) {
      expect(both(line("--profile", "p", arg)), arg).toEqual([true, true]);
    }
  });

  it("is false for a false spelling, a value the parser refuses, and a later --debug=false", () => {
    for (const args of [["--debug=0"], ["--debug=f"], ["--debug=False"], ["--debug=yes"], ["--debug", "--debug=false"]]) {
      expect(both(line(...args)), args.join(" ")).toEqual([false, false]);
    }
  });

  it("does not count a --debug that is a flag's value, or one after --", () => {
    expect(both(line("--role-session-name", "--debug"))).toEqual([false, false]);
    expect(both(line("--role-session-name", "-debug", "--profile", "p"))).toEqual([false, false]);
    expect(both(line("--profile", "p", "--", "--debug"))).toEqual([false, false]);
  });

  it("with the command's flags, counts --debug after a boolean flag, which takes no value", () => {
    expect(wantsDebug(line("--no-agent", "--debug"), CREDENTIAL_PROCESS_FLAGS)).toBe(true);
    expect(wantsDebug(line("--role-session-name=s", "--debug"), CREDENTIAL_PROCESS_FLAGS)).toBe(true);
  });

  it("main prints the cause's stack for -debug and --debug=1, none for a --debug that is a flag's value or after --", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-debug-"));
    const damaged = join(dir, "c.pem"); // a certificate that does not parse: an error with a cause, whose stack --debug shows
    writeFileSync(damaged, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    const run = async (args: string[]) => {
      const out = collect();
      expect(await main(args, out.io)).toBe(3);
      return out.stderr();
    };
    const read = (...flags: string[]) => run(["read-certificate-data", "--certificate", damaged, ...flags]);
    const arns = ["--role-arn", "arn:aws:iam::123456789012:role/r", "--profile-arn", "arn:aws:rolesanywhere:us-east-1:123456789012:profile/p"];
    const trust = ["--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/t"];
    try {
      for (const flag of ["--debug", "-debug", "--debug=1"]) expect(await read(flag), flag).toMatch(/\n\s+at /);
      expect(await read()).not.toMatch(/\n\s+at /);
      expect(await read("--", "--debug")).not.toMatch(/\n\s+at /);
      const asValue = await run(["credential-process", "--certificate", damaged, "--private-key", damaged, ...arns, ...trust, "--role-session-name", "--debug"]);
      expect(asValue).toMatch(/not a valid X\.509 certificate/);
      expect(asValue).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a hostile value echoed in a refusal (round 43 N2): one bounded printable line on every path", () => {
  const ESC = "\u001b";
  const hostile = `9${ESC}]0;owned\u0007${ESC}[2J${"9".repeat(100_000)}`;
  const arns = ["--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta", "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p", "--role-arn", "arn:aws:iam::111122223333:role/r"];
  const said = async (args: string[]) => {
    const out = collect();
    expect(await main(args, out.io)).toBeGreaterThan(1); // 2 (usage) or 3 (input): refused, no stack
    return out.stderr();
  };
  const safe = (line: string) => {
    expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/); // no ESC, BEL, nor any other control
    expect(line.split("\n")).toHaveLength(2); // one line and its newline
    expect(line.length).toBeLessThan(2_200); // cut at MAX_ERROR_TEXT (2,000), not 100 KB
  };

  it("every number flag, a string flag, AWS_MAX_ATTEMPTS", async () => {
    for (const flag of ["session-duration", "connect-timeout", "timeout", "max-attempts", "wait-for-device"]) safe(await said(["credential-process", `--${flag}`, hostile, ...arns]));
    for (const flag of ["region", "role-session-name", "endpoint"]) safe(await said(["credential-process", "--certificate", "/c.pem", ...arns, `--${flag}`, hostile]));
    // AWS_MAX_ATTEMPTS is read as the request is made (after the key): its error as reportError prints it.
    const error = (() => { try { maxAttemptsFrom(undefined, { AWS_MAX_ATTEMPTS: hostile }); } catch (e) { return e as UsageError; } })()!;
    const out = collect();
    expect(reportError(error, out.io, false)).toBe(2);
    safe(out.stderr());
  });

  it("a config file's value", async () => {
    const dir = mkdtempSync(join(tmpdir(), "n2-hostile-"));
    try {
      const file = join(dir, "c.json");
      const profile = { certificate: "/c.pem", "trust-anchor-arn": arns[1], "profile-arn": arns[3], "role-arn": arns[5], region: hostile };
      writeFileSync(file, JSON.stringify({ profiles: { p: profile } }), { mode: 0o600 });
      const out = collect();
      expect(await main(["credential-process", "--config", file, "--profile", "p"], { ...out.io, env: {} })).toBe(3);
      safe(out.stderr());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
