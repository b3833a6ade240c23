import { describe, expect, it } from "vitest";
import { urlHost } from "../../src/io/listen-tcp.js";
import { advertisedHost } from "../../src/serve/advertise-host.js";
import { createRequestGuard } from "../../src/serve/request-guard.js";

describe("the host serve advertises to consumers", () => {
  it("is --advertise-host, else the bind address, else $POD_IP for a wildcard bind", () => {
    expect(advertisedHost({ bind: "127.0.0.1", env: {} })).toBe("127.0.0.1");
    expect(advertisedHost({ bind: "10.42.0.7", env: { POD_IP: "10.42.0.9" } })).toBe("10.42.0.7");
    expect(advertisedHost({ bind: "0.0.0.0", env: { POD_IP: "10.42.0.9" } })).toBe("10.42.0.9");
    expect(advertisedHost({ bind: "::", env: { POD_IP: "fd00:10:42::9" } })).toBe("fd00:10:42::9");
    expect(advertisedHost({ bind: "0.0.0.0", advertise: "Agent.Roles-Anywhere.svc", env: { POD_IP: "10.42.0.9" } })).toBe("agent.roles-anywhere.svc");
    expect(advertisedHost({ bind: "0.0.0.0", advertise: "[fd00::5]", env: {} })).toBe("fd00::5");
    expect(urlHost("fd00::5")).toBe("[fd00::5]");
    expect(urlHost("10.0.0.1")).toBe("10.0.0.1");
  });

  it("is never a wildcard address, which SDKs refuse (aws_signing_helper-style 0.0.0.0 URIs)", () => {
    for (const bind of ["0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"]) {
      expect(() => advertisedHost({ bind, env: {} })).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringMatching(/listens on every address/) }));
    }
    expect(() => advertisedHost({ bind: "127.0.0.1", advertise: "0.0.0.0", env: {} })).toThrow(/names no host/);
    expect(() => advertisedHost({ bind: "0.0.0.0", env: { POD_IP: "0.0.0.0" } })).toThrow(/is not an IP address/);
    expect(() => advertisedHost({ bind: "0.0.0.0", env: { POD_IP: "$(POD_IP)" } })).toThrow(/is not an IP address/);
  });

  it("is a host alone: no scheme, port, path or odd characters", () => {
    for (const bad of ["https://x.example", "x.example:9912", "x.example/v1", "-x.example", "x_y.example", "", "1.2.3", "a".repeat(64) + ".example"]) {
      expect(() => advertisedHost({ bind: "127.0.0.1", advertise: bad, env: {} }), bad).toThrow(expect.objectContaining({ code: "USAGE" }));
    }
  });

  it("is accepted in Host (the name the operator advertised), other names still are not", () => {
    const listening = { host: "10.42.0.7", port: 9912, advertisedHost: "agent.roles-anywhere.svc" };
    expect(createRequestGuard(listening)({ host: "agent.roles-anywhere.svc:9912" })).toBeUndefined();
    expect(createRequestGuard(listening)({ host: "AGENT.roles-anywhere.svc:9912" })).toBeUndefined();
    expect(createRequestGuard(listening)({ host: "10.42.0.7:9912" })).toBeUndefined();
    expect(createRequestGuard(listening)({ host: "agent.roles-anywhere.svc:9911" })).toMatch(/does not name/);
    expect(createRequestGuard(listening)({ host: "rebind.attacker.example:9912" })).toMatch(/does not name/);
    expect(createRequestGuard(listening)({ host: "agent.roles-anywhere.svc.cluster.local:9912" })).toMatch(/does not name/);
  });

  it("compares IPv6 addresses, not their spellings: --advertise-host fd00:0::1 is [fd00::1] in Host", () => {
    const advertised = advertisedHost({ bind: "::", advertise: "FD00:0:0::1", env: {} });
    expect(advertised).toBe("fd00::1");
    const listening = { host: "::", port: 9912, advertisedHost: advertised };
    for (const host of ["[fd00::1]:9912", "[FD00:0::1]:9912", "[fd00:0:0:0:0:0:0:1]:9912"]) expect(createRequestGuard(listening)({ host })).toBeUndefined();
    const bound = { host: "fd00::7", port: 9912, advertisedHost: advertisedHost({ bind: "fd00::7", advertise: "fd00:0::1", env: {} }) };
    expect(createRequestGuard(bound)({ host: "[fd00::1]:9912" })).toBeUndefined();
    expect(createRequestGuard(bound)({ host: "[fd00::2]:9912" })).toMatch(/does not name/);
  });
});
