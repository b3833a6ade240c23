import { createServer, connect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { execFileSync } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect as connectTls } from "node:tls";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { capConnections, connectionCaps, stopCostlyRequests } from "../../src/serve/connection-caps.js";
import { takeHandshake } from "../../src/serve/tls-files.js";

let server: Server | undefined;
const clients: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function listen(setup: (s: Server) => void): Promise<number> {
  server = createServer(() => {});
  setup(server);
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

/** Opens `n` connections one after the other; each reports whether the server closed it within `settleMs`. */
async function open(port: number, n: number): Promise<{ closed: () => boolean; localPort: number }[]> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const c = connect(port, "127.0.0.1");
    clients.push(c);
    let closed = false;
    c.on("close", () => (closed = true)).on("error", () => {});
    await new Promise((r) => c.once("connect", r));
    await new Promise((r) => setTimeout(r, 5)); // the server's connection event comes before the next client
    out.push({ closed: () => closed, localPort: c.localPort! });
  }
  return out;
}

// /proc is read every 100 ms at most. The second timer runs in a later turn of the event loop than the caps' own: a
// process starved past both delays would otherwise run them in one turn, before the resets reach the clients.
const settle = async () => {
  await new Promise((r) => setTimeout(r, 300));
  await new Promise((r) => setTimeout(r, 20));
};

describe("connection caps", () => {
  it("beyond the total, close the newest of whoever holds the most", async () => {
    const log: string[] = [];
    const owner = new WeakMap<Socket, string>();
    let seen = 0;
    const port = await listen((s) => {
      // 3 users: a (the first 2 connections), b (the next 3), c (the next 4); 6 in all at most.
      s.on("connection", (socket: Socket) => {
        owner.set(socket, seen < 2 ? "uid a" : seen < 5 ? "uid b" : "uid c");
        seen++;
      });
      capConnections(s, { total: 6, perUser: 4, hard: 100 }, (l) => log.push(l), (sockets) => sockets.map((x) => owner.get(x)!));
    });
    const opened = await open(port, 9);
    await settle();
    expect(opened.map((c) => c.closed())).toEqual([false, false, false, false, true, false, false, true, true]);
    expect(log).toEqual(["more than 6 connections are open: the newest of the users holding the most are closed"]);
  });

  it("beyond the total with a tie, close the newest user's connection, not the oldest one's", async () => {
    // Three peers (remote addresses, say) with one connection each: the first is the consumer that was there first.
    const owner = new WeakMap<Socket, string>();
    let seen = 0;
    const port = await listen((s) => {
      s.on("connection", (socket: Socket) => owner.set(socket, `address 10.0.0.${++seen}`));
      capConnections(s, { total: 2, perUser: 1, hard: 100 }, () => {}, (sockets) => sockets.map((x) => owner.get(x)!));
    });
    const opened = await open(port, 3);
    await settle();
    expect(opened.map((c) => c.closed())).toEqual([false, false, true]);
  });

  it("beyond the total, count a host's IPv6 addresses by their /64: one connection from each, it still holds the most", async () => {
    // A consumer (2001:db8:1::7) connects after a host that took a new address of its /64 for each connection.
    const addresses = ["2001:db8:2::1", "2001:db8:2:0:a::1", "2001:db8:2:0:1:2:3:4", "2001:db8:1::7"];
    // The host's newest went (before: the consumer's, the newest of four peers of one each).
    expect(await closedBeyondTotal(addresses, 3)).toEqual([false, false, true, false]);
  });

  it("beyond the total, the most held by /64 where the /64 ends after the '::' (2001::a:… is in 2001:0:0:a)", async () => {
    // Node prints "::" for two zero groups or more. The consumer (2001:0:0:b::/64) comes last.
    const addresses = ["2001::a:1:2:3:4", "2001::a:5:6:7:8", "2001::a:9:a:b:c", "2001::b:1:2:3:4"];
    expect(await closedBeyondTotal(addresses, 3)).toEqual([false, false, true, false]);
  });

  it("beyond the total, IPv4-mapped peers are counted one by one, not as one network", async () => {
    // On "::", IPv4 peers come as ::ffff:a.b.c.d: three of them must not outweigh one IPv6 host holding two.
    const addresses = ["2001:db8:2::1", "2001:db8:2::2", "::ffff:10.0.0.1", "::ffff:10.0.0.2", "::ffff:10.0.0.3"];
    expect(await closedBeyondTotal(addresses, 4)).toEqual([false, true, false, false, false]);
  });

  /** One connection from each address in turn (remote peers, owned by address), at most `total` at once: which were closed. */
  async function closedBeyondTotal(addresses: readonly string[], total: number): Promise<boolean[]> {
    const owner = new WeakMap<Socket, string>();
    let seen = 0;
    const port = await listen((s) => {
      s.on("connection", (socket: Socket) => owner.set(socket, `address ${addresses[seen++]}`));
      capConnections(s, { total, perUser: 2, hard: 100 }, () => {}, (sockets) => sockets.map((x) => owner.get(x)!));
    });
    const opened = await open(port, addresses.length);
    await settle();
    return opened.map((c) => c.closed());
  }

  it("space the owner lookups by ten times what the last one cost: a slow /proc is not read back to back", async () => {
    // /proc/net/tcp takes ~75 ms with 17,000 TIME_WAIT lines (any user can make them): reading it every 100 ms
    // while someone keeps opening connections over its cap blocked serve most of the time.
    let reads = 0;
    // The read costs 60 ms on the monotonic clock the caps measure it with. A real 60 ms busy loop measured more
    // wherever the process was descheduled past its end (a loaded CI host): 150 ms spaced the next read past 1.5 s.
    let offset = 0;
    const now = performance.now.bind(performance);
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now() + offset);
    try {
      const port = await listen((s) =>
        capConnections(s, { total: 50, perUser: 2, hard: 100 }, () => {}, (sockets) => {
          reads++;
          offset += 60; // a 60 ms read
          return sockets.map(() => "uid 666");
        }),
      );
      await open(port, 3);
      const start = Date.now();
      while (Date.now() - start < 1500) {
        await open(port, 1);
        await new Promise((r) => setTimeout(r, 50));
      }
      await settle();
    } finally {
      clock.mockRestore();
    }
    expect(reads).toBeGreaterThanOrEqual(2);
    expect(reads).toBeLessThanOrEqual(4); // every 600 ms at most (before: every 100 ms, 10 or more)
  });

  it("keep reading owners after the wall clock is set back (an hour here): the gap is on the monotonic clock", async () => {
    let reads = 0;
    const port = await listen((s) =>
      capConnections(s, { total: 50, perUser: 2, hard: 100 }, () => {}, (sockets) => (reads++, sockets.map(() => "uid 666"))),
    );
    await open(port, 3);
    await settle();
    expect(reads).toBe(1);
    const now = Date.now.bind(Date);
    const back = vi.spyOn(Date, "now").mockImplementation(() => now() - 3_600_000);
    try {
      const later = await open(port, 2);
      await settle();
      expect(later.map((c) => c.closed())).toEqual([true, true]); // before: none closed for an hour
    } finally {
      back.mockRestore();
    }
  });

  it("are well under the open-file limit, one user a quarter of the total", () => {
    expect(connectionCaps(1_048_576)).toEqual({ total: 1024, perUser: 256, hard: 2048 });
    expect(connectionCaps(20_000)).toEqual({ total: 1024, perUser: 256, hard: 2048 });
    expect(connectionCaps(1024)).toEqual({ total: 512, perUser: 128, hard: 960 });
    expect(connectionCaps(256)).toEqual({ total: 128, perUser: 32, hard: 192 });
    expect(connectionCaps(10)).toEqual({ total: 16, perUser: 4, hard: 16 });
    expect(connectionCaps().total).toBeLessThanOrEqual(1024);
    // Without an argument, this process's own limit (a shell started from it has the same).
    const limit = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
    if (limit !== 1024) expect(connectionCaps()).toEqual(connectionCaps(limit)); // 1024: the fallback's
  });

  it("at exactly a cap, close nothing and say nothing", async () => {
    const log: string[] = [];
    const owner = new WeakMap<Socket, string>();
    let seen = 0;
    const port = await listen((s) => {
      s.on("connection", (socket: Socket) => owner.set(socket, seen++ < 2 ? "uid a" : "uid b"));
      const owners = (sockets: readonly Socket[]) => sockets.map((x) => owner.get(x)!);
      capConnections(s, { total: 4, perUser: 2, hard: 100 }, (l) => log.push(l), owners);
    });
    const opened = await open(port, 4);
    await settle();
    expect([opened.map((c) => c.closed()), log]).toEqual([[false, false, false, false], []]);
  });

  it("forget connections that closed: below the cap again, no owner is looked up", async () => {
    let reads = 0;
    const port = await listen((s) =>
      capConnections(s, { total: 50, perUser: 2, hard: 100 }, () => {}, (sockets) => {
        reads++;
        return sockets.map(() => "uid 1");
      }),
    );
    for (let round = 0; round < 3; round++) {
      const opened = await open(port, 2);
      for (const c of clients.splice(0)) c.destroy();
      for (let i = 0; i < 50 && !opened.every((c) => c.closed()); i++) await new Promise((r) => setTimeout(r, 10));
      await new Promise<void>((r) => server!.getConnections((_, n) => (n === 0 ? r() : setTimeout(r, 50))));
    }
    await settle();
    expect(reads).toBe(0);
  });

  it("say a user over its cap once in ten minutes, whoever else was said in between", async () => {
    const log: string[] = [];
    const owner = new WeakMap<Socket, string>();
    const order = ["uid a", "uid a", "uid b", "uid b", "uid a", "uid b"];
    let seen = 0;
    const port = await listen((s) => {
      s.on("connection", (socket: Socket) => owner.set(socket, order[seen++]!));
      const owners = (sockets: readonly Socket[]) => sockets.map((x) => owner.get(x)!);
      capConnections(s, { total: 50, perUser: 1, hard: 100 }, (l) => log.push(l), owners);
    });
    for (const n of [2, 2, 1, 1]) {
      await open(port, n);
      await settle();
    }
    const what = "opened more than 1 connections, the most one user may hold: its newest are closed";
    const over = (who: string) => `${who} ${what}`;
    expect(log).toEqual([over("uid a"), over("uid b")]);
  });

  it("a TLS server's handshake is begun only for the connections the caps keep (none of a user's over its cap)", async () => {
    const { dir, cleanup } = makeTempDir("raa-caps-tls-");
    try {
      const pair = issueLeaf(createCa(join(dir, "ca"), { name: "Caps CA" }), join(dir, "leaf"), { name: "caps-leaf" });
      const tls = createHttpsServer({ pauseOnConnect: true, cert: readFileSync(pair.certPath), key: readFileSync(pair.keyPath) }, (_q, r) => r.end());
      server = tls;
      let handshakes = 0;
      tls.on("secureConnection", () => handshakes++);
      let owner = (_s: Socket) => "uid 666";
      capConnections(tls, { total: 50, perUser: 2, hard: 100 }, () => {}, (sockets) => sockets.map((s) => owner(s)), takeHandshake(tls));
      await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
      const port = (tls.address() as { port: number }).port;
      /** `n` TLS clients at once: how many finished the handshake, how many got no byte before serve closed them. */
      const burst = async (n: number) => {
        const outcomes = await Promise.all(Array.from({ length: n }, () => new Promise<string>((resolve) => {
          const c = connectTls({ port, host: "127.0.0.1", rejectUnauthorized: false });
          clients.push(c);
          c.on("secureConnect", () => resolve("handshake")).on("error", () => resolve("closed")).on("close", () => resolve("closed"));
        })));
        return outcomes.sort();
      };
      // The third is over the cap: the owners are read (at once, the first time) and it is closed.
      expect(await burst(3)).toEqual(["closed", "handshake", "handshake"]);
      // Within 100 ms of that read: these wait for the next one, which closes them all, never begun.
      expect(await burst(4)).toEqual(["closed", "closed", "closed", "closed"]);
      expect(handshakes).toBe(2);
      // Each of another user: they wait for the next read too (6 open, over 2), are kept, and only then handshaken.
      owner = (s) => `uid ${s.remotePort}`;
      expect(await burst(4)).toEqual(["handshake", "handshake", "handshake", "handshake"]);
      await vi.waitFor(() => expect(handshakes).toBe(6)); // the server's side ends after the client's
    } finally {
      cleanup();
    }
  });

  it("past the hard cap Node closes new connections itself, and that is said once", async () => {
    const log: string[] = [];
    const caps = { total: 16, perUser: 16, hard: 2 };
    const port = await listen((s) => capConnections(s, caps, (l) => log.push(l), () => []));
    const opened = await open(port, 4);
    await settle();
    expect(opened.map((c) => c.closed())).toEqual([false, false, true, true]);
    expect(log).toEqual(["2 connections are open, the most serve takes: new ones are closed until some end"]);
  });

  it("close the newest connections of a user over its cap, leave the others', and say it once", async () => {
    const log: string[] = [];
    const looked: number[] = [];
    // Alice opens the first 3 connections, Mallory the rest.
    const order = new WeakMap<Socket, number>();
    let seen = 0;
    const port = await listen((s) => {
      s.on("connection", (socket: Socket) => order.set(socket, seen++));
      capConnections(s, { total: 50, perUser: 4, hard: 100 }, (l) => log.push(l), (sockets) => {
        looked.push(sockets.length);
        return sockets.map((x) => (order.get(x)! >= 3 ? "uid 666" : "uid 1000"));
      });
    });
    const alice = await open(port, 3);
    await settle();
    expect(looked).toEqual([]); // nobody can be over the cap: /proc is not read
    const m = await open(port, 10);
    await settle();
    expect(m.map((c) => c.closed())).toEqual([false, false, false, false, true, true, true, true, true, true]);
    expect(alice.map((c) => c.closed())).toEqual([false, false, false]);
    expect(log).toEqual(["uid 666 opened more than 4 connections, the most one user may hold: its newest are closed"]);
    expect(looked.reduce((a, b) => a + b)).toBeLessThanOrEqual(13); // each connection looked up once at most
    await open(port, 1).then(() => settle());
    expect(log).toHaveLength(1);
  });

  it("find a loopback peer's uid in /proc/net/tcp (this process's own uid here)", async () => {
    if (process.platform !== "linux") return;
    const log: string[] = [];
    const port = await listen((s) => capConnections(s, { total: 50, perUser: 2, hard: 100 }, (l) => log.push(l)));
    const mine = await open(port, 4);
    // The next read waits ten times the last one's duration: ~1 s while the host holds 70,000 TIME_WAIT sockets.
    for (const end = Date.now() + 5000; !mine[3]!.closed() && Date.now() < end; ) await settle();
    expect(mine.map((c) => c.closed())).toEqual([false, false, true, true]);
    expect(log).toEqual([`uid ${process.getuid!()} opened more than 2 connections, the most one user may hold: its newest are closed`]);
  });

  it("find the uid of an IPv6 socket's peer on an IPv4-mapped address (serve on ::), not 'uid unknown'", async () => {
    if (process.platform !== "linux") return;
    const log: string[] = [];
    server = createServer(() => {});
    capConnections(server, { total: 50, perUser: 2, hard: 100 }, (l) => log.push(l));
    await new Promise<void>((r) => server!.listen(0, "::", r));
    const port = (server.address() as { port: number }).port;
    // The peer's socket is AF_INET6 (it is listed in /proc/net/tcp6, as ::ffff:127.0.0.1); another user's peers
    // counted as 'uid unknown' got a second share, and took it from any consumer connecting that way.
    for (let i = 0; i < 3; i++) {
      const c = connect({ port, host: "::ffff:127.0.0.1" });
      clients.push(c.on("error", () => {}));
      await new Promise((r) => c.once("connect", r));
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const end = Date.now() + 5000; log.length === 0 && Date.now() < end; ) await settle();
    expect(log).toEqual([`uid ${process.getuid!()} opened more than 2 connections, the most one user may hold: its newest are closed`]);
  });

  it("a peer not found in /proc is 'uid unknown', capped on its own", async () => {
    const log: string[] = [];
    const port = await listen((s) => capConnections(s, { total: 50, perUser: 2, hard: 100 }, (l) => log.push(l), (sockets) => sockets.map(() => "uid unknown")));
    await open(port, 3);
    await settle();
    expect(log).toEqual(["uid unknown opened more than 2 connections, the most one user may hold: its newest are closed"]);
  });

  it("forget who was over its cap more than ten minutes ago: one remote address after another does not grow memory", async () => {
    // The line-once-per-ten-minutes map kept every address that ever went over its cap. Here 1,500 addresses, two
    // connections each, 100 every two minutes (of a clock moved on); the map is the Map given `address …` keys.
    const said = new Set<Map<unknown, unknown>>();
    const set = Map.prototype.set;
    const spy = vi.spyOn(Map.prototype, "set").mockImplementation(function (this: Map<unknown, unknown>, k, v) {
      if (typeof k === "string" && k.startsWith("address ") && typeof v === "number") said.add(this);
      return set.call(this, k, v);
    });
    let offset = 0;
    const now = performance.now.bind(performance);
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now() + offset);
    try {
      const log: string[] = [];
      let seen = 0;
      const port = await listen((s) =>
        capConnections(s, { total: 10_000, perUser: 1, hard: 10_000 }, (l) => log.push(l), (sockets) =>
          sockets.map(() => `address 10.0.${Math.floor(seen / 2) >> 8}.${Math.floor(seen++ / 2) & 255}`),
        ),
      );
      const until = async (done: () => boolean) => {
        for (const end = Date.now() + 5000; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      };
      for (let round = 1; round <= 15; round++) {
        offset += 120_000;
        const batch = await Promise.all(Array.from({ length: 200 }, () => open(port, 1).then(([c]) => c!)));
        await until(() => log.length >= 100 * round);
        for (const c of clients.splice(0)) c.destroy();
        await until(() => batch.every((c) => c.closed()));
        await new Promise<void>((r) => server!.getConnections((_, n) => (n === 0 ? r() : setTimeout(r, 50))));
      }
      expect(log).toHaveLength(1500); // each said once
      expect(said.size).toBe(1);
      expect([...said][0]!.size).toBeLessThanOrEqual(550); // the last ten minutes' (before: all 1,500)
    } finally {
      clock.mockRestore();
      spy.mockRestore();
    }
  }, 60_000);
});

describe("stopCostlyRequests (its refusals: native-test/serve-costly-requests.test.ts)", () => {
  it("has Node hand at most 63 headers to JavaScript (by default 2,000, each handled in JavaScript)", () => {
    // Not observable in an answer (64 or more header lines: 431 both ways); only in the CPU another user's flood costs.
    const http = createHttpServer();
    stopCostlyRequests(http, "connection");
    expect(http.maxHeadersCount).toBe(63);
  });
});
