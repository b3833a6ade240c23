/** NO_PROXY's IP entries (src/rolesanywhere/proxy.ts): one address each, however written, not its neighbours. */
import { describe, expect, it } from "vitest";
import { matchesNoProxy } from "../../src/rolesanywhere/proxy.js";

describe("a NO_PROXY IP entry is that one address (a /32 or /128), never its neighbour", () => {
  it.each([
    ["10.0.0.1", "10.0.0.1", true],
    ["10.0.0.0", "10.0.0.1", false],
    ["10.0.0.2", "10.0.0.1", false],
    ["10.0.0.3", "10.0.0.2", false],
    ["fd00::1", "fd00::1", true],
    ["fd00::", "fd00::1", false],
    ["fd00::1", "fd00::", false],
    ["fd00::3", "fd00::2", false],
    ["fd00:0:0:1::1", "fd00::1", false],
    ["10.0.0.1", "[10.0.0.1]", true],
    ["10.0.0.1", "10.0.0.1.", true],
  ] as const)("%s against NO_PROXY=%s: %s", (host, noProxy, expected) => {
    expect(matchesNoProxy(host, 443, noProxy)).toBe(expected);
  });
});
