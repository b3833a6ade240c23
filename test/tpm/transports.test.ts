/** Transport framing over loopback sockets and a scripted device file (no TPM needed). */
import { afterEach, describe, expect, it, vi } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, chownSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, Socket as NetSocket, type Server, type Socket } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { LIBFAKETIME, LIBFAKETIME_MISSING } from "../helpers/libfaketime.js";
import { timeoutsRunOut, workOf } from "../helpers/work-counted.js";
import { DeviceTransport, type DeviceFile } from "../../src/tpm/transport/device-transport.js";
import { checkServedByUs, SocketTransport } from "../../src/tpm/transport/socket-transport.js";
import { loadNativeHelper, type NativeHelper } from "../../src/os/native-helper.js";
import { procKeys } from "../../src/io/listen-tcp.js";
import { completeResponse, exchangeSync, MAX_RESPONSE_SIZE, TpmConnectionLost } from "../../src/tpm/transport/transport.js";

const COMMAND = Buffer.from("80010000000c0000017b0004", "hex");
const RESPONSE = Buffer.from("800100000010000000000004a1b2c3d4", "hex");

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function listen(onData: (socket: Socket, data: Buffer) => void): Promise<number> {
  server = createServer((socket) => socket.on("data", (d) => onData(socket, d)));
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
  return (server.address() as { port: number }).port;
}

describe("SocketTransport", () => {
  it("a connection lost mid-command is a TpmConnectionLost, changes the epoch, and the next command reconnects", async () => {
    let connections = 0;
    server = createServer((socket) => {
      const n = ++connections;
      socket.on("data", () => (n === 1 ? socket.destroy() : socket.write(RESPONSE)));
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port });
    try {
      const before = t.epoch;
      await expect(t.transmit(COMMAND)).rejects.toBeInstanceOf(TpmConnectionLost);
      const lost = t.epoch;
      expect(lost).not.toBe(before);
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      expect(connections).toBe(2);
      // The first socket's late close event must neither fail the new connection nor change the epoch again.
      await new Promise((r) => setTimeout(r, 20));
      expect(t.epoch).toBe(lost);
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
    } finally {
      await t.close();
    }
  });

  it("a connection closed while idle changes the epoch before the next command is sent", async () => {
    const sockets: Socket[] = [];
    server = createServer((socket) => {
      sockets.push(socket);
      socket.on("data", () => socket.write(RESPONSE));
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port });
    try {
      await t.transmit(COMMAND);
      const epoch = t.epoch;
      sockets[0]!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect(t.epoch).not.toBe(epoch);
    } finally {
      await t.close();
    }
  });

  it("raw framing: one write per command, the response reassembled from pieces by its size field", async () => {
    const writes: Buffer[] = [];
    const port = await listen((socket, data) => {
      writes.push(data);
      socket.write(RESPONSE.subarray(0, 3));
      setTimeout(() => socket.write(RESPONSE.subarray(3, 11)), 5);
      setTimeout(() => socket.write(RESPONSE.subarray(11)), 10);
    });
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port });
    try {
      for (let i = 0; i < 3; i++) expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      expect(writes.map((w) => w.toString("hex"))).toEqual(Array(3).fill(COMMAND.toString("hex")));
    } finally {
      await t.close();
    }
  });

  it("mssim framing: TPM_SEND_COMMAND | locality | length | command, answered by length | response | 0", async () => {
    let seen: Buffer | undefined;
    const port = await listen((socket, data) => {
      seen = data;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(RESPONSE.length);
      socket.write(Buffer.concat([len, RESPONSE, Buffer.alloc(4)]));
    });
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { framing: "mssim" });
    try {
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      expect(seen!.toString("hex")).toBe("00000008" + "00" + "0000000c" + COMMAND.toString("hex"));
    } finally {
      await t.close();
    }
  });

  it("mssim framing: an answer in pieces (inside the length, before the trailer, inside it) is reassembled; a 10-byte response is accepted", async () => {
    const SHORTEST = Buffer.from("80010000000a00000000", "hex");
    const frame = (r: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, r.length]), r, Buffer.alloc(4)]);
    let n = 0;
    const port = await listen((socket) => {
      if (n++ === 1) return socket.write(frame(SHORTEST));
      const f = frame(RESPONSE);
      const cuts = [0, 3, 4 + RESPONSE.length, f.length - 2, f.length];
      cuts.slice(1).forEach((end, i) => setTimeout(() => socket.write(f.subarray(cuts[i], end)), 20 * i));
    });
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { framing: "mssim" });
    try {
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      expect((await t.transmit(COMMAND)).equals(SHORTEST)).toBe(true);
      expect(t.epoch).toBe(0);
    } finally {
      await t.close();
    }
  });

  it("concurrent callers are served one command at a time, in order", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const port = await listen((socket) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        socket.write(RESPONSE);
      }, 2);
    });
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port });
    try {
      await Promise.all(Array.from({ length: 8 }, () => t.transmit(COMMAND)));
      expect(maxInFlight).toBe(1);
    } finally {
      await t.close();
    }
  });

  it("a server that never answers (a busy swtpm) ends in a clear error, and a bad frame drops the connection", async () => {
    const port = await listen(() => undefined);
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { responseTimeoutMs: 100 });
    await expect(t.transmit(COMMAND)).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", hint: expect.stringMatching(/one client at a time/) });
    await t.close();
    await new Promise<void>((r) => server!.close(() => r()));
    const port2 = await listen((socket) => socket.write(Buffer.from("8001ffffffff00000000", "hex")));
    const t2 = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: port2 });
    await expect(t2.transmit(COMMAND)).rejects.toThrow(/invalid size/);
    await t2.close();
  });

  it("a response that has begun and stalls fails after the rest bound, not the full response timeout", async () => {
    const port = await listen((socket) => socket.write(RESPONSE.subarray(0, 7)));
    // The response timeout (10 s) is not what ends it: no timer of 1 s or more runs out.
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { responseTimeoutMs: 10_000, restTimeoutMs: 200 });
    const { result: err, ranOut } = await timeoutsRunOut(1_000, () => t.transmit(COMMAND).catch((e: unknown) => e));
    expect(ranOut).toBe(0);
    expect(err).toBeInstanceOf(TpmConnectionLost);
    const message = /^the TPM at tcp:127\.0\.0\.1:\d+ sent 7 bytes of an answer, then nothing more/;
    expect(err).toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(message) });
    await t.close();
  });

  it("a TPM slow to start its answer still gets the full response timeout, then the rest bound", async () => {
    // The first bytes come later than the rest bound (1.2 s > 1 s): a rest bound counted from the command fails.
    // The rest comes 50 ms after them, far inside the bound: a loaded machine that stalls this process for a few
    // hundred ms still passes (with a 200 ms bound and the rest 50 ms later, it failed once in 10 loaded runs).
    const port = await listen((socket) => {
      setTimeout(() => socket.write(RESPONSE.subarray(0, 5)), 1200);
      setTimeout(() => socket.write(RESPONSE.subarray(5)), 1250);
    });
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { responseTimeoutMs: 5000, restTimeoutMs: 1000 });
    expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
    await t.close();
  });

  it("bytes sent unasked between commands drop the connection (not kept: a peer could pile them up)", async () => {
    let connections = 0;
    const closed: boolean[] = [];
    server = createServer((socket) => {
      const n = connections++;
      socket.on("error", () => undefined).on("close", () => (closed[n] = true));
      socket.on("data", () => {
        socket.write(RESPONSE);
        if (n === 0) setTimeout(() => socket.write(Buffer.alloc(64 * 1024, 0x41)), 10);
      });
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: (server.address() as { port: number }).port });
    try {
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      for (let i = 0; i < 100 && !closed[0]; i++) await new Promise((r) => setTimeout(r, 10));
      expect(closed[0]).toBe(true);
      expect(t.epoch).toBe(1);
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      expect(connections).toBe(2);
    } finally {
      await t.close();
    }
  });

  it.each([
    ["raw", (r: Buffer) => r],
    ["mssim", (r: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, r.length]), r, Buffer.alloc(4)])],
  ] as const)("%s: bytes after a complete answer in the same write fail that command (was: dropped), never answer the next", async (framing, frame) => {
    const forged = Buffer.from("800100000010000000000004deadbeef", "hex");
    const answers: Buffer[] = [Buffer.concat([frame(RESPONSE), frame(forged)]), frame(Buffer.from("800100000010000000000004cafef00d", "hex"))];
    const port = await listen((socket) => socket.write(answers.shift()!));
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { framing });
    try {
      await expect(t.transmit(COMMAND)).rejects.toMatchObject({
        code: "TPM_ERROR",
        message: `${t.description} sent ${frame(forged).length} bytes after its response (a TPM sends one response per command)`,
      });
      expect(t.epoch).toBe(1);
      expect((await t.transmit(COMMAND)).toString("hex")).toBe("800100000010000000000004cafef00d");
    } finally {
      await t.close();
    }
  });

  it("an answered command leaves no timer behind: the connection outlives the response timeout (whole answers and answers in pieces)", async () => {
    let connections = 0;
    server = createServer((socket) => {
      connections++;
      let n = 0;
      socket.on("data", () => {
        if (n++ % 2 === 0) return socket.write(RESPONSE);
        socket.write(RESPONSE.subarray(0, 6)); // the rest after a pause: the rest bound replaces the response timeout
        setTimeout(() => socket.write(RESPONSE.subarray(6)), 20);
      });
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: (server.address() as { port: number }).port }, { responseTimeoutMs: 1000 });
    try {
      for (let i = 0; i < 2; i++) expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      // Any timer of those exchanges expires before this one: a stale one would have dropped the connection.
      await new Promise((r) => setTimeout(r, 1500));
      expect([t.epoch, connections]).toEqual([0, 1]);
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      expect([t.epoch, connections]).toEqual([0, 1]);
    } finally {
      await t.close();
    }
  });

  it("connection refused is a device-unavailable error", async () => {
    const port = await listen(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port });
    await expect(t.transmit(COMMAND)).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", message: expect.stringMatching(/ECONNREFUSED/) });
    await t.close();
  });
});

describe("SocketTransport connection failures", () => {
  it("names the address and the errno, with a hint", async () => {
    const t = new SocketTransport({ kind: "unix", path: "/nonexistent/raa-swtpm.sock" });
    const err = (await t.transmit(COMMAND).catch((e: unknown) => e)) as { code: string; message: string; hint: string };
    expect(err).toMatchObject({ code: "TPM_UNAVAILABLE", message: "cannot connect to the TPM at unix:/nonexistent/raa-swtpm.sock: ENOENT" });
    expect(err.hint).toBe("is the TPM simulator running? Check --tpm-device / TPM_DEVICE");
    await t.close();
  });
});

describe("SocketTransport socket path length", () => {
  it("a path above sun_path's 108 bytes is refused, not cut short by the OS (ENOENT, or another socket)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-long-"));
    const short = join(dir, "s.sock");
    const long = join(dir, "d".repeat(120));
    const listener = createServer((socket) => socket.on("data", () => socket.write(RESPONSE)));
    await new Promise<void>((r) => listener.listen(short, () => r()));
    mkdirSync(long);
    symlinkSync(short, join(long, "s.sock"));
    const t = new SocketTransport({ kind: "unix", path: join(long, "s.sock") });
    try {
      const err = (await t.transmit(COMMAND).catch((e: unknown) => e)) as { code: string; message: string; category: string };
      expect(err).toMatchObject({ code: "TPM_DEVICE_INVALID", category: "input" });
      expect(err.message).toMatch(/^the TPM socket path is \d+ bytes long, above the OS limit of 108: unix:\//);
    } finally {
      await t.close();
      await new Promise<void>((r) => listener.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SocketTransport socket path length at the bound", () => {
  it("a path of exactly 108 bytes is used (the OS takes it whole); 109 is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-len-"));
    const sub = join(dir, "d".repeat(100 - dir.length));
    mkdirSync(sub);
    const path = join(sub, "s".repeat(107 - sub.length));
    expect(Buffer.byteLength(path)).toBe(108);
    const listener = createServer((socket) => socket.on("data", () => socket.write(RESPONSE)));
    await new Promise<void>((r) => listener.listen(path, () => r()));
    const t = new SocketTransport({ kind: "unix", path });
    const longer = new SocketTransport({ kind: "unix", path: `${path}s` });
    try {
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      await expect(longer.transmit(COMMAND)).rejects.toMatchObject({
        code: "TPM_DEVICE_INVALID",
        message: expect.stringMatching(/is 109 bytes long, above the OS limit of 108/),
        hint: "reach the socket through a shorter path, e.g. a symbolic link in a short directory",
      });
    } finally {
      await t.close();
      await longer.close();
      await new Promise<void>((r) => listener.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("DeviceTransport", () => {
  // openTpmTransport looks at the path first (stat); in a directory another user can write, a link can be switched to
  // their FIFO before the open ("r+" opens a FIFO without waiting): that FIFO would get every command and answer them.
  it("open refuses what is not a character device once opened: a FIFO, a regular file (a name switched after the stat)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-tpm-dev-"));
    try {
      execFileSync("mkfifo", [join(dir, "fifo")]);
      writeFileSync(join(dir, "file"), "");
      for (const [name, kind] of [["fifo", "a FIFO"], ["file", "a regular file"]]) {
        const path = join(dir, name!);
        const error = await DeviceTransport.open(path).then((t) => t.close().then(() => "opened"), (e: unknown) => e);
        expect(error).toMatchObject({
          code: "TPM_DEVICE_INVALID",
          message: `the TPM device ${path} is ${kind}, not a TPM character device`,
          hint: "point --tpm-device / TPM_DEVICE at the TPM: /dev/tpmrm0, unix:/path/to/swtpm.sock or tcp:HOST:PORT",
        });
      }
      // Closed once refused: no reader left on the FIFO (a writer that does not wait is refused, ENXIO).
      expect(() => openSync(join(dir, "fifo"), constants.O_WRONLY | constants.O_NONBLOCK)).toThrow(expect.objectContaining({ code: "ENXIO" }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A terminal is a character device any user can own: a pseudo-terminal's slave (/dev/pts/N) belongs to whoever
  // opened its master. A name switched to one (or a path in another user's directory) would send every command to the
  // master's holder, who could answer them. Before: opened and used (the master read the command).
  const hasPty = (() => {
    try {
      execFileSync("python3", ["-c", "import pty"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  it.runIf(hasPty)("open refuses a terminal (a pseudo-terminal's slave, its master held by a child): nothing reaches the master", async () => {
    const holder = spawn("python3", ["-c", [
      "import os, pty, select, sys",
      "m, s = pty.openpty()",
      "print(os.ttyname(s), flush=True)",
      "r, _, _ = select.select([m, 0], [], [])",
      "print('READ' if m in r else 'QUIET', flush=True)",
    ].join("\n")], { stdio: ["pipe", "pipe", "inherit"] });
    const lines: string[] = [];
    let more: () => void = () => undefined;
    holder.stdout!.setEncoding("utf8").on("data", (d: string) => (lines.push(...d.split("\n").filter(Boolean)), more()));
    const line = (n: number) => new Promise<string>((r) => (more = () => lines.length > n && r(lines[n]!))());
    try {
      const slave = await line(0);
      const error = await DeviceTransport.open(slave).then((t) => t.transmit(COMMAND).catch(() => undefined).then(() => t.close()).then(() => "opened"), (e: unknown) => e);
      holder.stdin!.end(); // wakes the holder if the master got nothing
      expect(await line(1)).toBe("QUIET");
      expect(error).toMatchObject({ code: "TPM_DEVICE_INVALID", message: `the TPM device ${slave} is a terminal, not a TPM character device` });
    } finally {
      holder.kill();
    }
  });

  // A daemon under systemd leads its own session with no terminal: without O_NOCTTY, opening a terminal makes it the
  // daemon's controlling one (refused and closed after, it stays so), and the master's holder can then send it SIGINT
  // (^C) or SIGHUP (closing the master).
  it.runIf(hasPty && process.platform === "linux")("open of a terminal by a session leader does not make it its controlling terminal", async () => {
    const holder = spawn("python3", ["-c", "import os, pty, sys\nm, s = pty.openpty()\nprint(os.ttyname(s), flush=True)\nsys.stdin.read()"], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const dir = mkdtempSync(join(tmpdir(), "raa-noctty-"));
    try {
      const [line] = (await once(holder.stdout!, "data")) as [Buffer];
      const script = join(dir, "open.mjs");
      await build({
        stdin: {
          contents: `import { readFileSync } from "node:fs";
            import { DeviceTransport } from "./src/tpm/transport/device-transport.ts";
            const error = await DeviceTransport.open(${JSON.stringify(line.toString().trim())}).then(() => undefined, (e) => e);
            const [, , , session, tty] = readFileSync("/proc/self/stat", "utf8").replace(/^.*\\) /s, "").split(" ");
            console.log(JSON.stringify({ code: error?.code, leader: Number(session) === process.pid, tty: Number(tty) }));`,
          resolveDir: resolve("."), loader: "ts",
        },
        outfile: script, bundle: true, format: "esm", platform: "node", target: "node20", logLevel: "silent",
      });
      const stdout = execFileSync("setsid", ["-w", process.execPath, script], { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "inherit"] });
      expect(JSON.parse(stdout)).toEqual({ code: "TPM_DEVICE_INVALID", leader: true, tty: 0 });
    } finally {
      holder.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("open takes a character device (/dev/null here: what it answers is the exchange's business)", async () => {
    const t = await DeviceTransport.open("/dev/null");
    try {
      expect(t.description).toBe("/dev/null");
      await expect(t.transmit(COMMAND)).rejects.toMatchObject({ code: "TPM_ERROR", message: "/dev/null returned an incomplete response" });
    } finally {
      await t.close();
    }
    await expect(t.transmit(COMMAND)).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", message: "the TPM at /dev/null was already closed" });
  });

  function fakeDevice(chunks: Buffer[]): DeviceFile & { written: Buffer[] } {
    const written: Buffer[] = [];
    return {
      fd: -1,
      written,
      async write(buffer, offset, length) {
        written.push(Buffer.from(buffer.subarray(offset, offset + length)));
        return { bytesWritten: length };
      },
      async read(buffer, offset, length) {
        if (offset + length > buffer.length) throw new RangeError("read past the end of the buffer"); // as FileHandle.read
        const next = chunks.shift();
        if (!next) return { bytesRead: 0 };
        next.copy(buffer, offset);
        return { bytesRead: next.length };
      },
      async close() {},
    };
  }

  it("writes the whole command once and reads until the declared size (partial reads allowed)", async () => {
    const dev = fakeDevice([RESPONSE.subarray(0, 4), RESPONSE.subarray(4)]);
    const t = new DeviceTransport("/dev/fake", dev);
    expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
    expect(dev.written).toEqual([COMMAND]);
    let closes = 0;
    dev.close = async () => void closes++;
    await t.close();
    await t.close();
    expect(closes).toBe(1); // the device is released (a /dev/tpm0 held open makes the next open EBUSY), once
    await expect(t.transmit(COMMAND)).rejects.toThrow(/already closed/);
  });

  it("transmitSync (exit handlers) uses the descriptor only while no exchange is in flight, and never after close", async () => {
    // A FIFO opened read-write echoes what is written: a command reads back as a complete "response".
    const dir = mkdtempSync(join(tmpdir(), "raa-devsync-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const fd = openSync(fifo, "r+");
    try {
      let release!: () => void;
      const dev = { ...fakeDevice([RESPONSE]), fd };
      dev.write = (_buffer, _offset, length) => new Promise((r) => (release = () => r({ bytesWritten: length })));
      const t = new DeviceTransport("/dev/fake", dev);
      expect(t.transmitSync(COMMAND)?.equals(COMMAND)).toBe(true);
      const inFlight = t.transmit(COMMAND);
      await new Promise((r) => setImmediate(r));
      expect(t.transmitSync(COMMAND)).toBeUndefined();
      release();
      expect((await inFlight).equals(RESPONSE)).toBe(true);
      expect(t.transmitSync(COMMAND)?.equals(COMMAND)).toBe(true);
      await t.close();
      expect(t.transmitSync(COMMAND)).toBeUndefined();
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a device that stops mid-response is an error", async () => {
    const t = new DeviceTransport("/dev/fake", fakeDevice([RESPONSE.subarray(0, 8)]));
    await expect(t.transmit(COMMAND)).rejects.toThrow(/incomplete response/);
  });

  it("a short write is an error naming the device and the byte counts; no response is read", async () => {
    const dev = fakeDevice([RESPONSE]);
    dev.write = async (_buffer, _offset, length) => ({ bytesWritten: length - 2 });
    const t = new DeviceTransport("/dev/fake", dev);
    await expect(t.transmit(COMMAND)).rejects.toMatchObject({
      code: "TPM_ERROR",
      message: `short write to /dev/fake: ${COMMAND.length - 2} of ${COMMAND.length} bytes`,
    });
  });

  it("an I/O error of the device is a TPM_ERROR naming the device and the errno, with the cause", async () => {
    const dev = fakeDevice([]);
    const eio = Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
    dev.read = async () => {
      throw eio;
    };
    const t = new DeviceTransport("/dev/fake", dev);
    const error = { code: "TPM_ERROR", message: "I/O error on /dev/fake: EIO", cause: eio };
    await expect(t.transmit(COMMAND)).rejects.toMatchObject(error);
    // The next command is sent: one failure does not leave the transport stuck.
    dev.read = fakeDevice([RESPONSE]).read;
    expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
  });

  it("opening a device that does not exist says so, and where to choose one (as the caller names it)", async () => {
    await expect(DeviceTransport.open("/dev/raa-no-such-tpm")).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", message: "no TPM at /dev/raa-no-such-tpm" });
    await expect(DeviceTransport.open("/dev/raa-no-such-tpm")).rejects.toMatchObject({ hint: expect.stringMatching(/with --tpm-device \/ TPM_DEVICE$/) });
    await expect(DeviceTransport.open("/dev/raa-no-such-tpm", "tpm.device")).rejects.toMatchObject({ hint: expect.stringMatching(/with tpm\.device \/ TPM_DEVICE$/) });
  });
});

describe("bounds on what a hostile or broken simulator sends", () => {
  const raw = (size: number, length = size) => {
    const b = Buffer.alloc(Math.max(length, 6));
    b.writeUInt16BE(0x8001, 0);
    b.writeUInt32BE(size, 2);
    return b;
  };

  it("completeResponse: 10 to 8192 bytes (TPM_BUFSIZE) are accepted once whole; 9 or 8193 are refused as soon as the size is read", () => {
    expect(completeResponse(raw(10), "t")).toHaveLength(10);
    expect(completeResponse(raw(MAX_RESPONSE_SIZE), "t")).toHaveLength(8192);
    expect(completeResponse(raw(MAX_RESPONSE_SIZE, 100), "t")).toBeUndefined();
    expect(completeResponse(Buffer.from("8001000000", "hex"), "t")).toBeUndefined();
    for (const size of [9, 0, MAX_RESPONSE_SIZE + 1, 0xffffffff]) {
      expect(() => completeResponse(raw(size, 6), "t")).toThrow(expect.objectContaining({ code: "TPM_ERROR", message: `t sent a response with an invalid size (${size})` }));
    }
    expect(MAX_RESPONSE_SIZE).toBe(8192);
  });

  it.each([
    [9, /mssim frame with an invalid size \(9\)/],
    [MAX_RESPONSE_SIZE + 1, /mssim frame with an invalid size \(8193\)/],
  ])("mssim: a frame of %i bytes is refused before it is read", async (size, message) => {
    const port = await listen((socket) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(size);
      socket.write(len);
    });
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { framing: "mssim" });
    await expect(t.transmit(COMMAND)).rejects.toThrow(message);
    await t.close();
  });

  it("mssim: a frame of 8192 bytes with its zero trailer is accepted; a non-zero trailer is refused", async () => {
    const big = Buffer.concat([Buffer.from("80010000200000000000", "hex"), Buffer.alloc(MAX_RESPONSE_SIZE - 10)]);
    for (const [trailer, outcome] of [[0, "ok"], [1, "refused"]] as const) {
      const port = await listen((socket) => {
        const frame = Buffer.alloc(4 + big.length + 4);
        frame.writeUInt32BE(big.length, 0);
        big.copy(frame, 4);
        frame.writeUInt32BE(trailer, 4 + big.length);
        socket.write(frame);
      });
      const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port }, { framing: "mssim" });
      if (outcome === "ok") expect((await t.transmit(COMMAND)).equals(big)).toBe(true);
      else await expect(t.transmit(COMMAND)).rejects.toThrow(/mssim frame with trailer 1 \(expected 0\)/);
      await t.close();
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
  });
});

/**
 * SocketTransport.transmitSync (the exit handler's FlushContext) blocks this thread, so the simulator answering it
 * runs in its own process: it answers the first command (the one that connects), then the next as `mode` says.
 */
describe("SocketTransport.transmitSync against a simulator in another process", () => {
  const SYNC_ANSWER = Buffer.from("800100000010000000000004d4c3b2a1", "hex");
  const simulator = [
    "const net = require('node:net'); const [path, mode] = process.argv.slice(1);",
    "const mssim = (r) => { const b = Buffer.alloc(r.length + 8); b.writeUInt32BE(r.length, 0); r.copy(b, 4); return b; };",
    "const frame = mode.startsWith('mssim') ? mssim : (r) => r;",
    `const first = Buffer.from('${RESPONSE.toString("hex")}', 'hex'), next = Buffer.from('${SYNC_ANSWER.toString("hex")}', 'hex');`,
    "let commands = 0;",
    // An mssim command not framed as TPM_SEND_COMMAND | locality | length | command is refused (the connection dropped).
    "const framed = (d) => mode !== 'mssim' || (d.readUInt32BE(0) === 8 && d[4] === 0 && d.readUInt32BE(5) === d.length - 9);",
    "net.createServer((s) => s.on('error', () => {}).on('data', (d) => {",
    "  if (!framed(d)) return s.destroy();",
    "  if (++commands === 1) return s.write(frame(first));",
    "  if (mode === 'answer' || mode === 'mssim') s.write(frame(next));",
    "  else if (mode === 'short') s.end(next.subarray(0, 8));", // 8 of its 16 bytes, then the connection closes
    "  else if (mode === 'pieces') { s.write(next.subarray(0, 8)); setTimeout(() => s.write(next.subarray(8)), 50); }",
    "  else if (mode === 'oversize') s.write(Buffer.concat([Buffer.from('8001000020010000', 'hex'), Buffer.alloc(8193 - 8)]));",
    "  else if (mode === 'mssim-oversize') s.write(Buffer.from('00002001', 'hex'));",
    "})).listen(path, () => console.log('ready'));", // 'silent': never answers
  ].join("\n");

  async function withSimulator(mode: string, framing: "raw" | "mssim", test: (t: SocketTransport) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "raa-socksync-"));
    const path = join(dir, "tpm.sock");
    const child = spawn(process.execPath, ["-e", simulator, path, mode], { stdio: ["ignore", "pipe", "inherit"] });
    const t = new SocketTransport({ kind: "unix", path }, { framing });
    try {
      await once(child.stdout!, "data");
      expect(t.transmitSync(COMMAND)).toBeUndefined(); // not connected yet: nothing to use
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      await test(t);
    } finally {
      await t.close();
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it.each(["raw", "mssim"] as const)("%s framing: the idle connection carries the command and returns the answer, unframed", async (framing) => {
    await withSimulator(framing === "raw" ? "answer" : "mssim", framing, async (t) => {
      expect(t.transmitSync(COMMAND)?.toString("hex")).toBe(SYNC_ANSWER.toString("hex"));
    });
  });

  it("an answer in two pieces is read whole", async () => {
    await withSimulator("pieces", "raw", async (t) => {
      expect(t.transmitSync(COMMAND)?.toString("hex")).toBe(SYNC_ANSWER.toString("hex"));
    });
  });

  it.each([
    ["an answer cut short by a closed connection", "short", "raw"],
    ["an answer declaring 8193 bytes", "oversize", "raw"],
    ["an mssim frame declaring 8193 bytes", "mssim-oversize", "mssim"],
    ["no answer at all (within its 2 s)", "silent", "raw"],
  ] as const)("a hostile or dead simulator: %s is no answer (undefined), not an exception or a hang", async (_, mode, framing) => {
    await withSimulator(mode, framing, async (t) => {
      expect(t.transmitSync(COMMAND)).toBeUndefined();
    });
  });

  it("is not used while an asynchronous exchange awaits its answer (it would take that answer), nor after close", async () => {
    let received = 0;
    let answer!: () => void;
    // The first command is answered when the test says so, any later one at once.
    const port = await listen((socket, data) => {
      received += data.length;
      answer = () => socket.write(RESPONSE);
      if (received > COMMAND.length) answer();
    });
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port });
    const inFlight = t.transmit(COMMAND);
    while (received < COMMAND.length) await new Promise((r) => setTimeout(r, 5));
    expect(t.transmitSync(COMMAND)).toBeUndefined();
    answer();
    expect((await inFlight).equals(RESPONSE)).toBe(true);
    // TCP keeps order: once the next command is answered, one written before it would have arrived too.
    expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
    expect(received).toBe(2 * COMMAND.length); // transmitSync's command was never written
    await t.close();
    expect(t.transmitSync(COMMAND)).toBeUndefined();
  });
});

describe("SocketTransport connect timeout", () => {
  it("a simulator whose listen queue is full (SYNs dropped: the connect never completes) is given up after 10 s", async () => {
    // listen(0) holds one connection, never accepted: the queue is full and the kernel drops every further SYN.
    const full = "import socket, sys, time\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)\n"
      + "c = socket.create_connection(s.getsockname()); time.sleep(0.2)\nprint(s.getsockname()[1], flush=True); sys.stdin.read()\n";
    // The transport runs in a process whose clocks, monotonic too, libfaketime runs 20 times faster: its real 10 s
    // timeout (Node's own timer, out of reach of fake timers) passes in half a second.
    expect(LIBFAKETIME, LIBFAKETIME_MISSING).toBeDefined();
    const child = spawn("python3", ["-c", full], { stdio: ["pipe", "pipe", "inherit"] });
    const dir = mkdtempSync(join(tmpdir(), "raa-connect-timeout-"));
    try {
      const [line] = (await once(child.stdout!, "data")) as [Buffer];
      const script = join(dir, "connect.mjs");
      await build({
        stdin: {
          contents: `import { SocketTransport } from "./src/tpm/transport/socket-transport.ts";
            const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: ${Number(line.toString().trim())} });
            const started = performance.now();
            const err = await t.transmit(Buffer.alloc(10)).catch((e) => e);
            console.log(JSON.stringify({ code: err.code, message: err.message, description: t.description, waited: performance.now() - started }));`,
          resolveDir: resolve("."), loader: "ts",
        },
        outfile: script, bundle: true, format: "esm", platform: "node", target: "node20", logLevel: "silent",
      });
      const env = { ...process.env, LD_PRELOAD: LIBFAKETIME!, FAKETIME: "+0 x20" };
      const stdout = execFileSync(process.execPath, [script], { env, encoding: "utf8", timeout: 30_000 });
      const got = JSON.parse(stdout) as { code: string; message: string; description: string; waited: number };
      expect(got).toMatchObject({ code: "TPM_UNAVAILABLE", message: `timed out connecting to the TPM at ${got.description}` });
      expect(got.waited).toBeGreaterThanOrEqual(10_000);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
    }, 30_000);
});

describe("SocketTransport after close and on a path that is no socket", () => {
  it("names the address as --tpm-device takes it", () => {
    expect(new SocketTransport({ kind: "unix", path: "/run/s.sock" }).description).toBe("unix:/run/s.sock");
    expect(new SocketTransport({ kind: "unix", path: "/run/s.sock" }, { framing: "mssim" }).description).toBe("mssim+unix:/run/s.sock");
    expect(new SocketTransport({ kind: "tcp", host: "::1", port: 2321 }).description).toBe("tcp:[::1]:2321");
    expect(new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: 2321 }, { framing: "mssim" }).description).toBe("mssim:127.0.0.1:2321");
  });

  it("a closed transport refuses further commands and never connects again", async () => {
    let connections = 0;
    server = createServer((socket) => {
      connections++;
      socket.on("data", () => socket.write(RESPONSE));
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const t = new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: (server.address() as { port: number }).port });
    expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
    await t.close();
    await t.close();
    await expect(t.transmit(COMMAND)).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", message: `the TPM connection to ${t.description} was already closed` });
    expect(connections).toBe(1);
  });

  it.each([
    ["a regular file", (dir: string) => { const p = join(dir, "tpm.sock"); closeSync(openSync(p, "w")); return p; }, "a regular file", "point --tpm-device / TPM_DEVICE at the simulator's socket"],
    ["a character device", () => "/dev/null", "a character device", "for a TPM device give its path alone: /dev/null"],
  ])("unix: on %s (connect refused) is a wrong --tpm-device, not a simulator that is down", async (_, make, kind, hint) => {
    const dir = mkdtempSync(join(tmpdir(), "raa-notsock-"));
    try {
      const path = make(dir);
      const t = new SocketTransport({ kind: "unix", path });
      await expect(t.transmit(COMMAND)).rejects.toMatchObject({ code: "TPM_DEVICE_INVALID", message: `the TPM socket ${path} is ${kind}, not a socket`, hint });
      await t.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SocketTransport on a UNIX socket whose queue is full (swtpm serving another client)", () => {
  it("connect's EAGAIN is tried again for the whole response bound, then it is the busy simulator's TPM_UNAVAILABLE", async () => {
    // A listener that never accepts, its queue (backlog 0: one connection) filled by itself: every connect gets EAGAIN.
    const dir = mkdtempSync(join(tmpdir(), "raa-tpm-full-"));
    const path = join(dir, "tpm.sock");
    const code = [
      "import socket, sys",
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
      "s.bind(sys.argv[1])",
      "s.listen(0)",
      "fillers = []",
      "for _ in range(2):",
      "    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
      "    c.setblocking(False)",
      "    try: c.connect(sys.argv[1])",
      "    except BlockingIOError: pass",
      "    fillers.append(c)",
      "print('full', flush=True)",
      "sys.stdin.read()",
    ].join("\n");
    const holder = spawn("python3", ["-c", code, path], { stdio: ["pipe", "pipe", "inherit"] });
    try {
      expect(String((await once(holder.stdout!, "data"))[0]).trim()).toBe("full");
      const t = new SocketTransport({ kind: "unix", path }, { responseTimeoutMs: 2000, native: { reason: "no helper in this test" } });
      // The clock the bound is read on is virtual, moved on by each 50 ms pause between tries: the whole 2 s is 40
      // pauses, counted (given up at once: 0; tried on past the bound: the budget's 41st throws).
      let waited = 0;
      const monotonic = vi.spyOn(performance, "now").mockImplementation(() => waited);
      const { result: error, work: pauses } = await workOf(globalThis, "setTimeout", () => t.transmit(COMMAND).catch((e: unknown) => e), {
        budget: 40,
        weigh: (_, [, ms]) => (ms === 50 ? ((waited += 50), 1) : 0),
      }).finally(() => monotonic.mockRestore());
      expect([pauses, waited]).toEqual([40, 2000]);
      expect(error).toBeInstanceOf(TpmConnectionLost);
      expect(error).toMatchObject({
        code: "TPM_UNAVAILABLE",
        message: `no answer from the TPM at unix:${path} within 2 s`,
        hint: "swtpm serves one client at a time: is another program connected to it?",
      });
      await t.close();
    } finally {
      holder.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SocketTransport on a UNIX socket without the native helper (arm64: none is shipped)", () => {
  const noHelper = { reason: "no helper in this test" };

  /** A simulator (this process: root) on `tpm.sock` in a new directory of mode `mode`; what it received. */
  async function simulatorIn(mode: number): Promise<{ dir: string; path: string; received: () => number }> {
    const dir = mkdtempSync(join(tmpdir(), "raa-tpm-nohelper-"));
    chmodSync(dir, mode);
    const path = join(dir, "tpm.sock");
    let received = 0;
    server = createServer((socket) => socket.on("data", (d) => {
      received += d.length;
      socket.write(RESPONSE);
    }));
    await new Promise<void>((r) => server!.listen(path, () => r()));
    return { dir, path, received: () => received };
  }

  it.runIf(process.getuid?.() === 0)("refuses a socket file of another user in a sticky directory before sending a byte (was: unchecked)", async () => {
    const { dir, path, received } = await simulatorIn(0o1777);
    chownSync(path, 12345, 12345); // as if another user had bound it before swtpm
    const t = new SocketTransport({ kind: "unix", path }, { native: noHelper });
    try {
      await expect(t.transmit(COMMAND)).rejects.toMatchObject({
        code: "SOCKET_UNSAFE",
        message: `refusing the TPM at unix:${path}: the socket belongs to uid 12345, not to this user (0) or root`,
        hint: "another user may be listening where the TPM simulator should: stop that process, run swtpm as this user or root",
      });
      expect(received()).toBe(0);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a socket in a directory any user can write without the sticky bit (was: unchecked)", async () => {
    const { dir, path, received } = await simulatorIn(0o777);
    const t = new SocketTransport({ kind: "unix", path }, { native: noHelper });
    try {
      await expect(t.transmit(COMMAND)).rejects.toMatchObject({
        code: "SOCKET_UNSAFE",
        message: `refusing the TPM at unix:${path}: directory ${dir} can be written by other users (mode 777)`,
      });
      expect(received()).toBe(0);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("uses the user's own socket in a sticky directory (/tmp/swtpm.sock)", async () => {
    const { dir, path, received } = await simulatorIn(0o1777);
    const t = new SocketTransport({ kind: "unix", path }, { native: noHelper });
    try {
      expect((await t.transmit(COMMAND)).equals(RESPONSE)).toBe(true);
      expect(received()).toBe(COMMAND.length);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a missing socket is still a simulator that is down, not an unsafe one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-tpm-nohelper-"));
    const t = new SocketTransport({ kind: "unix", path: join(dir, "none", "tpm.sock") }, { native: noHelper });
    try {
      await expect(t.transmit(COMMAND)).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", message: expect.stringMatching(/: ENOENT$/) });
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("SocketTransport's peer check when the peer credentials cannot be read", () => {
  it.runIf(loadNativeHelper().helper !== undefined && process.getuid !== undefined)(
    "is a SOCKET_UNSAFE refusal on one line, as the agent client's (was: the helper's raw error, an internal error)",
    () => {
      // A descriptor that is no socket: the real helper's getsockopt fails (ENOTSOCK), as it would under a seccomp
      // filter that denies getsockopt (EPERM).
      const dir = mkdtempSync(join(tmpdir(), "raa-peercred-"));
      const fifo = join(dir, "fifo");
      execFileSync("mkfifo", [fifo]);
      const socket = new NetSocket({ fd: openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK) });
      try {
        expect(() => checkServedByUs(socket, { kind: "unix", path: fifo }, `unix:${fifo}`, loadNativeHelper().helper)).toThrow(expect.objectContaining({
          code: "SOCKET_UNSAFE",
          message: `refusing the TPM at unix:${fifo}: its peer credentials cannot be read (getsockopt(SO_PEERCRED): Socket operation on non-socket)`,
          hint: "another user may be listening where the TPM simulator should: stop that process, run swtpm as this user or root",
        }));
      } finally {
        socket.destroy();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
  it.runIf(process.getuid !== undefined)("refuses a UNIX socket for which Node gives no descriptor when the helper is there (was: used unchecked)", () => {
    let asked = 0;
    const helper = { peerCredentials: () => (asked++, { uid: 0, gid: 0, pid: 1 }) } as unknown as NativeHelper;
    const socket = new NetSocket(); // never connected: no handle, so no descriptor to ask about
    expect(() => checkServedByUs(socket, { kind: "unix", path: "/run/swtpm.sock" }, "unix:/run/swtpm.sock", helper)).toThrow(expect.objectContaining({
      code: "SOCKET_UNSAFE",
      message: "refusing the TPM at unix:/run/swtpm.sock: its peer credentials cannot be read (Node.js gives no descriptor for the socket)",
    }));
    expect(asked).toBe(0);
  });
});

describe("SocketTransport's peer check over TCP on this host", () => {
  // A connection on this host is in /proc/net/tcp{,6} (the peer's end with its owner's uid) unless a read raced with a
  // change to the table. Before: a connection not found there was used unchecked, as if the peer were on another host.
  it.runIf(process.platform === "linux" && process.getuid !== undefined)(
    "a loopback peer whose connection is not in the table: read again, then SOCKET_UNSAFE; found at a second read: used",
    async () => {
      const port = await listen(() => undefined);
      const socket = new NetSocket().connect(port, "127.0.0.1");
      await once(socket, "connect");
      try {
        const address = { kind: "tcp", host: "127.0.0.1", port } as const;
        let reads = 0;
        const never = () => (reads++, []);
        expect(() => checkServedByUs(socket, address, `tcp:127.0.0.1:${port}`, undefined, never)).toThrow(expect.objectContaining({
          code: "SOCKET_UNSAFE",
          message: `refusing the TPM at tcp:127.0.0.1:${port}: its connection is not in /proc/net/tcp{,6}, so who serves it cannot be told`,
        }));
        expect(reads).toBe(3);
        const [peer, self] = procKeys(socket)[1]!.split(" ");
        const other = { local: peer!, remote: self!, state: "01", uid: process.getuid!() === 4321 ? 4322 : 4321 };
        reads = 0;
        const second = () => (++reads < 2 ? [] : [other]);
        expect(() => checkServedByUs(socket, address, `tcp:127.0.0.1:${port}`, undefined, second)).toThrow(/it is served by uid 432[12], not by this user/);
        reads = 0;
        const own = () => (++reads < 2 ? [] : [{ ...other, uid: process.getuid!() }]);
        expect(() => checkServedByUs(socket, address, `tcp:127.0.0.1:${port}`, undefined, own)).not.toThrow();
      } finally {
        socket.destroy();
      }
    },
  );
});

describe("SocketTransport's peer check: which TCP peers are on this host", () => {
  // Only the addresses of the connection matter here (procKeys, isOwnAddress): a stand-in socket carries them.
  const peerAt = (remoteAddress: string) => {
    const localAddress = remoteAddress.includes(":") && !remoteAddress.startsWith("::ffff:") ? "::1" : "127.0.0.1";
    return { remoteAddress, remotePort: 2321, localAddress, localPort: 40000 } as unknown as Socket;
  };
  const readsFor = (remoteAddress: string) => {
    let reads = 0;
    const never = () => (reads++, []);
    const address = { kind: "tcp", host: remoteAddress, port: 2321 } as const;
    let refused: unknown;
    try {
      checkServedByUs(peerAt(remoteAddress), address, `tcp:${remoteAddress}:2321`, undefined, never);
    } catch (error) {
      refused = error;
    }
    return { reads, refused: (refused as { code?: string } | undefined)?.code };
  };
  const own = Object.values(networkInterfaces()).flatMap((list) => list ?? []).map((i) => i.address).filter((a) => !a.startsWith("127.") && a !== "::1");

  it.runIf(process.platform === "linux" && process.getuid !== undefined)(
    "loopback (all of 127/8, ::1, IPv4-mapped) and this host's interface addresses: three reads, then SOCKET_UNSAFE",
    () => {
      for (const address of ["127.0.0.1", "127.45.6.7", "::ffff:127.0.0.1", "::FFFF:127.0.0.2", "::1", ...own]) {
        expect([address, readsFor(address)]).toEqual([address, { reads: 3, refused: "SOCKET_UNSAFE" }]);
      }
    },
  );
  it.runIf(process.getuid !== undefined)("another host's address (not in this host's table): one read, then used", () => {
    for (const address of ["192.0.2.7", "::ffff:192.0.2.7", "2001:db8::7", "1.127.0.0", "::2"]) {
      expect([address, readsFor(address)]).toEqual([address, { reads: 1, refused: undefined }]);
    }
  });
});

describe("exchangeSync (the exit handler's last flush) and the wall clock", () => {
  it("waits its 2 s for an answer even when the clock is set back an hour meanwhile (NTP's first step at boot)", async () => {
    // Before: the deadline was read from Date.now(), so a step back kept the exit waiting an hour for a silent TPM; a
    // step forward gave up at once. Both clocks are virtual, moved on by each nap the loop takes (Atomics.wait, 1 ms):
    // 2 s is 2,000 naps, an hour's wait 3,602,000 (the budget stops it at the 2,001st; exchangeSync swallows that
    // error, but not its count).
    const dir = mkdtempSync(join(tmpdir(), "raa-exchange-sync-"));
    const fifo = join(dir, "silent-tpm");
    execFileSync("mkfifo", [fifo]);
    // Read and write on one FIFO: the command written comes back; it never completes an answer, then EAGAIN.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    const wallClock = Date.now();
    let napped = 0;
    let reads = 0;
    const monotonic = vi.spyOn(performance, "now").mockImplementation(() => napped);
    const clock = vi.spyOn(Date, "now").mockImplementation(() => wallClock + napped - (reads++ === 0 ? 0 : 3_600_000)); // set back once read
    try {
      const { result, work: naps } = await workOf(Atomics, "wait", () => exchangeSync(fd, Buffer.alloc(10), () => undefined), {
        budget: 2_000,
        weigh: (_, [, , , ms]) => ((napped += Number(ms)), 1),
      });
      expect(result).toBeUndefined();
      expect([naps, napped]).toEqual([2_000, 2_000]);
    } finally {
      monotonic.mockRestore();
      clock.mockRestore();
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
