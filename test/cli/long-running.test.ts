import { describe, expect, it } from "vitest";
import { protectLongRunningProcess } from "../../src/cli/long-running.js";

describe("protectLongRunningProcess without the native helper", () => {
  it("says so in one printable line: the reason names the install path, whose bytes anyone who named it chose (before: a newline and ESC reached the terminal)", () => {
    let written = "";
    const reason = "cannot load /opt/x\n\u001b[2Jroles-anywhere-agent: ok/dist/native/raa_native.node";
    protectLongRunningProcess("agent", { write: (text) => (written += String(text)) }, () => ({ reason }));
    expect(written).toMatch(/^roles-anywhere-agent: warning: the process stays dumpable: the native helper is not available \(cannot load \/opt\/x/);
    expect(written.indexOf("\n")).toBe(written.length - 1);
    expect(written).not.toContain("\u001b");
  });

  it("writes nothing for a command that does not keep running", () => {
    let written = "";
    protectLongRunningProcess("sign-string", { write: (text) => (written += String(text)) }, () => ({ reason: "x" }));
    expect(written).toBe("");
  });
});
