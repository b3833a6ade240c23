import { afterEach, describe, expect, it } from "vitest";
import { pendingWarnings, printProcessWarnings } from "../../src/cli/process-warnings.js";

const saved = process.listeners("warning");
afterEach(() => {
  process.removeAllListeners("warning");
  for (const listener of saved) process.on("warning", listener);
});

describe("printProcessWarnings", () => {
  it("prints a warning as one printable line: no terminal escape or line break from a path or value in it", () => {
    let out = "";
    printProcessWarnings({ write: (text) => ((out += String(text)), true) });
    const warning = Object.assign(new Error("PIN file /tmp/\u001b]0;owned\u0007x\nFORGED can be read by other users"), {
      name: "Warning",
      code: "RAA_EXPOSED_FILE",
    });
    process.emit("warning", warning);
    expect(out).toBe("roles-anywhere-agent: warning: PIN file /tmp/ ]0;owned x FORGED can be read by other users\n");
  });

  it("replaces Node's own printer (one line per warning, not two), and names a warning that is not ours, with or without a code", () => {
    let out = "";
    printProcessWarnings({ write: (text) => ((out += String(text)), true) });
    expect(process.listeners("warning")).toHaveLength(1);
    process.emit("warning", Object.assign(new Error("Buffer() is deprecated"), { name: "DeprecationWarning", code: "DEP0005" }));
    process.emit("warning", Object.assign(new Error("Possible EventEmitter memory leak"), { name: "MaxListenersExceededWarning" }));
    expect(out).toBe(
      "roles-anywhere-agent: warning: DeprecationWarning: Buffer() is deprecated\n" +
        "roles-anywhere-agent: warning: MaxListenersExceededWarning: Possible EventEmitter memory leak\n",
    );
  });

  it("has printed every warning emitted before pendingWarnings() resolves", async () => {
    let out = "";
    printProcessWarnings({ write: (text) => ((out += String(text)), true) });
    process.emitWarning("first", { code: "RAA_TEST" });
    await Promise.resolve(); // a microtask later, as when a command's last await resolves
    process.emitWarning("second", { code: "RAA_TEST" });
    expect(out).toBe("");
    await pendingWarnings();
    expect(out).toBe("roles-anywhere-agent: warning: first\nroles-anywhere-agent: warning: second\n");
  });
});
