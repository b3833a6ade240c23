import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { procEndpoint, procKeys, procPort, tcpSockets, unbracketed } from "../../src/io/listen-tcp.js";

// Who is at the other end of a loopback connection is read from /proc/net/tcp{,6} (serve's caps, the TPM socket's
// peer check): a key that never matches a line lets another user's listener pass for nobody's.

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A listener on `host`, on a port below 0x1000 (swtpm's default is 2321) where one is free, else any. */
async function listenLow(host: string): Promise<{ server: Server; port: number }> {
  for (let port = 1100 + (process.pid % 2900); ; port = 0) {
    const server = createServer((c) => sockets.push(c));
    server.listen(port, host);
    const failed = await Promise.race([once(server, "listening").then(() => false), once(server, "error").then(() => true)]);
    if (failed && port !== 0) continue;
    servers.push(server);
    return { server, port: (server.address() as { port: number }).port };
  }
}

describe("the /proc/net/tcp form of an endpoint", () => {
  it("a port: four upper-case hex digits, zero-padded", () => {
    expect([procPort(2321), procPort(9911), procPort(80), procPort(65535)]).toEqual([":0911", ":26B7", ":0050", ":FFFF"]);
  });

  it("IPv4 (in tcp6's form, then tcp's), IPv6 (tcp6's); anything else: no form", () => {
    const [v6, v4] = procEndpoint("10.20.30.40", 2321);
    expect(v4).toMatch(/^(281E140A|0A141E28):0911$/); // host byte order: either way, not another address
    expect(v6).toMatch(new RegExp(`^(0000000000000000FFFF0000|00000000000000000000FFFF)${v4!.slice(0, 8)}:0911$`));
    expect(procEndpoint("::ffff:10.20.30.40", 2321)).toEqual([v6, v4]);
    expect(procEndpoint("::1", 1)).toEqual([expect.stringMatching(/^(00000000000000000000000001000000|00000000000000000000000000000001):0001$/)]);
    // Before: none for an IPv6 address but ::1, so another user's TPM on this host's own fd00::2 passed the peer check.
    const words = (hex: string) => (procEndpoint("::1", 1)[0] === "00000000000000000000000000000001:0001" ? hex : hex.replace(/(..)(..)(..)(..)/g, "$4$3$2$1"));
    expect(procEndpoint("2001:db8::1", 1)).toEqual([`${words("20010DB8000000000000000000000001")}:0001`]);
    expect(procEndpoint("fd00:a:b:c:d:e:f:1", 1)).toEqual([`${words("FD00000A000B000C000D000E000F0001")}:0001`]);
    expect(procEndpoint("fe80::1.2.3.4", 1)).toEqual([`${words("FE800000000000000000000001020304")}:0001`]);
    for (const other of ["10.20.30.40x", "fd00::1::2", "host", "", undefined]) expect(procEndpoint(other, 1)).toEqual([]);
  });

  it.each([["127.0.0.1"], ["::1"], ["::"]])("a connection to %s: its peer's line is found, with this process's uid; the listener's too", async (host) => {
    const { port } = await listenLow(host);
    const client = connect(port, host === "::" ? "127.0.0.1" : host);
    sockets.push(client);
    await once(client, "connect");
    // The server's end, seen from the client: `local remote` of the accepted socket.
    const keys = procKeys(client);
    expect(keys.length).toBeGreaterThan(0);
    const lines = tcpSockets(["tcp", "tcp6"], `${procPort(port)} `);
    const peer = lines.filter((l) => keys.includes(`${l.local} ${l.remote}`));
    expect(peer).toEqual([{ local: expect.any(String), remote: expect.any(String), state: "01", uid: process.getuid!() }]);
    expect(lines.some((l) => l.state === "0A" && l.local.endsWith(procPort(port)) && l.uid === process.getuid!())).toBe(true);
  });
});

describe("unbracketed", () => {
  it("takes off one pair of brackets around the whole host only", () => {
    expect(["[::1]", "[a]b", "a[b]", "[", "::1"].map(unbracketed)).toEqual(["::1", "[a]b", "a[b]", "[", "::1"]);
  });
});
