import { describe, expect, it } from "vitest";
import type { IncomingHttpHeaders } from "node:http";
import { createRequestGuard, parseHostHeader } from "../../src/serve/request-guard.js";

const requestRefusal = (headers: IncomingHttpHeaders, listening: { host: string; port: number; advertisedHost?: string }) => createRequestGuard(listening)(headers);

const on = (host: string, port = 9911) => ({ host, port });

describe("serve's request guard (DNS rebinding, browser requests)", () => {
  it("parses Host headers, with 80 as the default port", () => {
    expect(parseHostHeader("127.0.0.1:9911")).toEqual({ name: "127.0.0.1", port: 9911 });
    expect(parseHostHeader("LocalHost")).toEqual({ name: "localhost", port: 80 });
    expect(parseHostHeader("[::1]:9911")).toEqual({ name: "::1", port: 9911 });
    for (const bad of ["", "[::1", "::1", "a:b:c", "[nothost]:1", "h:0", "h:70000", "h:"]) expect(parseHostHeader(bad)).toBeUndefined();
  });

  it("takes ports 1 and 65535, and brackets around IPv6 only", () => {
    expect(parseHostHeader("h:1")).toEqual({ name: "h", port: 1 });
    expect(parseHostHeader("h:65535")).toEqual({ name: "h", port: 65535 });
    for (const bad of ["[127.0.0.1]:9911", "[127.0.0.1]", "h:123456"]) {
      expect(parseHostHeader(bad), bad).toBeUndefined();
    }
  });

  it("accepts loopback literals and localhost with the listening port, on a loopback bind", () => {
    for (const host of ["127.0.0.1:9911", "127.8.9.10:9911", "localhost:9911", "[::1]:9911", "[0:0:0:0:0:0:0:1]:9911", "[::ffff:127.0.0.1]:9911"]) {
      expect(requestRefusal({ host }, on("127.0.0.1"))).toBeUndefined();
    }
    for (const host of ["127.0.0.1", "127.0.0.1:9912", "rebind.example:9911", "localhost.:9911", "10.0.0.5:9911", undefined]) {
      expect(requestRefusal(host === undefined ? {} : { host }, on("127.0.0.1"))).toMatch(/does not name this endpoint/);
    }
  });

  it("accepts the bind address, and any IP literal (never a name) on a wildcard bind", () => {
    expect(requestRefusal({ host: "10.0.0.5:9911" }, on("10.0.0.5"))).toBeUndefined();
    expect(requestRefusal({ host: "10.0.0.6:9911" }, on("10.0.0.5"))).toMatch(/does not name/);
    expect(requestRefusal({ host: "[fd00::0:1]:9911" }, on("fd00::1"))).toBeUndefined();
    expect(requestRefusal({ host: "172.17.0.1:9911" }, on("0.0.0.0"))).toBeUndefined();
    expect(requestRefusal({ host: "[fd00::2]:9911" }, on("::"))).toBeUndefined();
    // The wildcard written out in full is the same bind, with the same rule (advertise-host.ts reads it so too).
    expect(requestRefusal({ host: "10.0.0.5:9911" }, on("0:0:0:0:0:0:0:0"))).toBeUndefined();
    expect(requestRefusal({ host: "gateway.lan:9911" }, on("0.0.0.0"))).toMatch(/does not name/);
  });

  it("accepts the advertised host with the listening port, in any case, and no other name", () => {
    const listening = { host: "0.0.0.0", port: 9911, advertisedHost: "agent.roles-anywhere.svc" };
    for (const host of ["agent.roles-anywhere.svc:9911", "Agent.Roles-Anywhere.SVC:9911"]) {
      expect(requestRefusal({ host }, listening), host).toBeUndefined();
    }
    for (const host of ["agent.roles-anywhere.svc:9912", "agent.roles-anywhere.svc", "evil.svc:9911", "svc:9911"]) {
      expect(requestRefusal({ host }, listening), host).toMatch(/does not name this endpoint/);
    }
  });

  it("refuses Origin, Sec-Fetch-Site/Dest/User whatever the Host, but not Node fetch()'s lone Sec-Fetch-Mode", () => {
    expect(requestRefusal({ host: "127.0.0.1:9911", origin: "null" }, on("127.0.0.1"))).toMatch(/web browsers .*origin/);
    for (const name of ["sec-fetch-site", "sec-fetch-dest", "sec-fetch-user"]) {
      expect(requestRefusal({ host: "127.0.0.1:9911", [name]: "x" }, on("127.0.0.1"))).toMatch(new RegExp(name));
    }
    expect(requestRefusal({ host: "127.0.0.1:9911", "sec-fetch-mode": "cors" }, on("127.0.0.1"))).toBeUndefined();
  });

  it("never echoes control characters or a long Host", () => {
    const message = requestRefusal({ host: `evil\u001b[2J${"x".repeat(500)}` }, on("127.0.0.1"))!;
    expect(message).not.toMatch(/[\u0000-\u001f]/);
    expect(message.length).toBeLessThan(300);
    // Beyond ASCII too (Node reads header bytes as latin1): each such character shown as '?'.
    const beyond = requestRefusal({ host: "\u00e9vil\u2028:9911" }, on("127.0.0.1"));
    expect(beyond).toMatch(/^Host "\?vil\?:9911" does not name/);
  });
});

describe("createRequestGuard", () => {
  it("remembers an accepted Host, but still refuses browser headers and any other Host", () => {
    const guard = createRequestGuard({ host: "127.0.0.1", port: 9911 });
    expect(guard({ host: "127.0.0.1:9911" })).toBeUndefined();
    expect(guard({ host: "127.0.0.1:9911" })).toBeUndefined();
    expect(guard({ host: "127.0.0.1:9911", "sec-fetch-site": "cross-site" })).toMatch(/web browsers/);
    expect(guard({ host: "evil.example:9911" })).toMatch(/does not name this endpoint/);
    expect(guard({})).toMatch(/does not name this endpoint/);
    expect(guard({ host: "127.0.0.1:9911" })).toBeUndefined();
  });

  it("never remembers a refused Host: a rebound name asked for again is refused again", () => {
    const guard = createRequestGuard({ host: "127.0.0.1", port: 9911 });
    for (let i = 0; i < 3; i++) {
      expect(guard({ host: "rebind.example:9911" }), `try ${i}`).toMatch(/does not name this endpoint/);
    }
    expect(guard({ host: "127.0.0.1:9911" })).toBeUndefined();
    expect(guard({ host: "rebind.example:9911" })).toMatch(/does not name this endpoint/);
  });
});
