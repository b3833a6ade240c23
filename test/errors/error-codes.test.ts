import { describe, expect, it } from "vitest";
import { AgentError, ERROR_CODES, type ErrorCode } from "../../src/errors.js";

describe("ERROR_CODES", () => {
  it("holds the codes only: Object.prototype's names are not codes (an agent answering Code 'toString' is not taken at its word)", () => {
    for (const name of ["toString", "constructor", "hasOwnProperty", "__proto__", "valueOf"]) expect(name in ERROR_CODES, name).toBe(false);
    expect("FILE_NOT_FOUND" in ERROR_CODES).toBe(true);
  });

  it("gives every code a category", () => {
    const codes = Object.keys(ERROR_CODES) as ErrorCode[];
    expect(codes.length).toBeGreaterThan(50);
    for (const code of codes) expect(["usage", "input", "auth", "device", "service", "network", "internal"]).toContain(new AgentError(code, "m").category);
  });
});

describe("the one-line rendering of an error", () => {
  it("never carries a terminal escape, line break or bidi control: each run becomes one space", () => {
    const error = new AgentError("USAGE", "unknown command \"\u001b[31mX\" and\n  --\u001b]0;title\u0007 \u009b2J \u202eevil", { hint: "tab\there" });
    expect(error.toOneLine()).toBe('unknown command " [31mX" and -- ]0;title 2J evil (tab here)');
  });

  it("is bounded: a megabyte of text from a token, file or peer is cut to 2,000 characters, message and hint alike", async () => {
    const label = "L".repeat(1 << 20);
    const line = new AgentError("PKCS11_ERROR", `the key object=${label} signed wrongly`, { hint: `check ${label}` }).toOneLine();
    expect(line).toBe(`the key object=${"L".repeat(1_985)}… (check ${"L".repeat(1_994)}…)`);
    const { reportError } = await import("../../src/cli/report-error.js");
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} };
    reportError(new Error(label), io, false);
    expect(stderr.length).toBeLessThan(2_100);
  });

  it("reaches stderr that way from argv (unknown command, unknown flag)", async () => {
    const { main } = await import("../../src/cli/main.js");
    for (const argv of [["help", "\u001b[31mX"], ["version", "--\u001b]0;title\u0007"]]) {
      let stderr = "";
      const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} };
      expect(await main(argv, io)).toBe(2);
      expect(stderr).toMatch(/^roles-anywhere-agent: unknown /);
      expect(stderr.slice(0, -1)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
  });

  it("out of file descriptors (ulimit -n): one line, exit 3, not an internal error", async () => {
    // Before: "internal error: EMFILE: too many open files, open '…/dist/daemon/chunk-….mjs' … report it", exit 1.
    const { reportError } = await import("../../src/cli/report-error.js");
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} };
    const path = "/usr/lib/roles-anywhere-agent/dist/daemon/chunk-X.mjs";
    const emfile = Object.assign(new Error(`EMFILE: too many open files, open '${path}'`), { code: "EMFILE", errno: -24, syscall: "open", path });
    expect(reportError(emfile, io, false)).toBe(3);
    expect(stderr).toBe(
      `roles-anywhere-agent: too many open files (EMFILE) to open ${path} (raise the limit of open files: ulimit -n 1024, or LimitNOFILE= in a systemd unit)\n`,
    );
  });

  it("an internal error's first line too", async () => {
    const { reportError } = await import("../../src/cli/report-error.js");
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} };
    expect(reportError(new Error("open '\u001b]0;x\u0007'\nsecond"), io, false)).toBe(1);
    expect(stderr).toBe("roles-anywhere-agent: internal error: open ' ]0;x ' (rerun with --debug for details and report it)\n");
  });
});
