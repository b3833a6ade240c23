import { execFileSync, spawn } from "node:child_process";
import {
  closeSync, constants, linkSync, mkdtempSync, openSync, readdirSync, readSync, renameSync, rmSync, truncateSync,
  writeFileSync, writeSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readInputFile, refuseUtf16 } from "../../src/io/input-file.js";
import { MAX_INPUT_BYTES, readDescriptor, readOpenedFile } from "../../src/io/read-opened-file.js";
import { workOf } from "../helpers/work-counted.js";

/** Calls that look a path up by name, counted: a regular file is opened once and fstat'ed once, never stat'ed by name. */
const byName = vi.hoisted(() => ({ stat: 0, fstat: 0 }));
/** Run once right after the next fstatSync: a name swapped between the checks and the read. */
const afterFstat = vi.hoisted(() => ({ once: undefined as (() => void) | undefined }));
/** The error code the next reads fail with (a device gone), while set. */
const readFails = vi.hoisted(() => ({ code: undefined as string | undefined }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const statSync = ((...args: Parameters<typeof fs.statSync>) => (byName.stat++, fs.statSync(...args))) as typeof fs.statSync;
  const fstatSync = ((...args: Parameters<typeof fs.fstatSync>) => {
    byName.fstat++;
    const stats = fs.fstatSync(...args);
    const hook = afterFstat.once;
    afterFstat.once = undefined;
    hook?.();
    return stats;
  }) as typeof fs.fstatSync;
  const readSync = ((...args: Parameters<typeof fs.readSync>) => {
    if (readFails.code) throw Object.assign(new Error(`${readFails.code}: read`), { code: readFails.code });
    return fs.readSync(...args);
  }) as typeof fs.readSync;
  return { ...fs, default: { ...fs, statSync, fstatSync, readSync }, statSync, fstatSync, readSync };
});

describe("readOpenedFile", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("after a silent FIFO's timeout, wakes only that FIFO: a FIFO put at its name meanwhile is not written to", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const [path, keep, other] = [join(dir, "input"), join(dir, "input-kept"), join(dir, "other")];
    execFileSync("mkfifo", ["-m", "600", path, other]);
    linkSync(path, keep);
    const reading = readOpenedFile(path, 300);
    const otherReader = openSync(other, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await new Promise((done) => setTimeout(done, 100));
      renameSync(other, path);
      await expect(reading).rejects.toMatchObject({ code: "ETIMEDOUT" });
      // Nothing to read: 0 (no writer left) or EAGAIN; before the fix, the "\n" meant for the first FIFO.
      const unread = (() => {
        try {
          return readSync(otherReader, Buffer.alloc(8));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EAGAIN") return 0;
          throw error;
        }
      })();
      expect(unread).toBe(0);
    } finally {
      closeSync(otherReader);
    }
  });

  it("reads a regular file with the fstat of what it read", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    writeFileSync(join(dir, "f"), "hello", { mode: 0o640 });
    const { bytes, stats } = await readOpenedFile(join(dir, "f"));
    expect(bytes.toString()).toBe("hello");
    expect(stats.isFile()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o640);
  });

  it("reads a regular file with one open and one fstat, no stat by name", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const content = randomBytes(70_000);
    writeFileSync(join(dir, "f"), content);
    Object.assign(byName, { stat: 0, fstat: 0 });
    const { bytes, stats } = await readOpenedFile(join(dir, "f"));
    expect(bytes.equals(content)).toBe(true);
    expect(stats.size).toBe(70_000);
    expect(byName).toEqual({ stat: 0, fstat: 1 });
  });

  it("refuses a directory with EISDIR", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    await expect(readOpenedFile(dir)).rejects.toMatchObject({ code: "EISDIR" });
  });

  it("reads a FIFO whose writer comes later, without blocking the event loop", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    let settled = false;
    const reading = readOpenedFile(fifo).finally(() => void (settled = true));
    // The event loop turns while the read waits for a writer that does not exist yet: timers fire (a read that held
    // the loop until a writer came would never get here). A condition, not a count of ticks in a fixed time: on a
    // loaded machine a 5 ms interval can fire only 3 times in 60 ms and more.
    while (ticks <= 3) await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    const writer = spawn("sh", ["-c", `printf 'piped' > ${fifo}`]);
    const { bytes, stats } = await reading;
    clearInterval(timer);
    writer.kill();
    expect(bytes.toString()).toBe("piped");
    expect(stats.isFIFO()).toBe(true);
  });

  it("reads a FIFO whose writer was already waiting in open() and is gone by the time it is read", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const writer = spawn("sh", ["-c", `printf 'early' > ${fifo}`]);
    await new Promise((r) => setTimeout(r, 100));
    const { bytes } = await readOpenedFile(fifo, 2_000);
    writer.kill();
    expect(bytes.toString()).toBe("early");
  });

  it("zeroes every read buffer of a FIFO or a file of no size once read (a PIN's bytes: only the caller's copy is left)", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const fifo = join(dir, "pin-fifo");
    execFileSync("mkfifo", [fifo]);
    const handed: Buffer[] = [];
    const allocate = (size: number) => {
      const buffer = Buffer.alloc(size);
      handed.push(buffer);
      return buffer;
    };
    const writer = spawn("sh", ["-c", `printf 'fifo-secret-4711' > ${fifo}`]);
    const { bytes } = await readOpenedFile(fifo, 10_000, allocate);
    writer.kill();
    expect(bytes.toString()).toBe("fifo-secret-4711");
    const { bytes: status } = await readOpenedFile("/proc/self/status", 10_000, allocate);
    expect(status.toString()).toMatch(/^Name:/);
    expect(handed.length).toBeGreaterThanOrEqual(2);
    // Before: the 64 KiB chunks still held what they had read.
    expect(handed.filter((b) => b.some((byte) => byte !== 0)).map((b) => b.toString("latin1").replace(/\0+$/, "").slice(0, 20))).toEqual([]);
  });

  it("a device or file of no size that fails to read is that error at once (not re-read until the deadline), its buffers zeroed", async () => {
    // /proc/self/mem reports no size and answers EIO at offset 0. Before the error was kept: read again and again.
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    await expect(readOpenedFile("/proc/self/mem", 600_000)).rejects.toMatchObject({ code: "EIO" });
    const handed: Buffer[] = [];
    const allocate = (size: number) => (handed.push(Buffer.alloc(size)), handed.at(-1)!);
    await expect(readOpenedFile("/dev/urandom", 600_000, allocate)).rejects.toMatchObject({ code: "EFBIG" });
    expect(handed.length).toBeGreaterThan(MAX_INPUT_BYTES / (64 * 1024));
    expect(handed.filter((b) => b.some((byte) => byte !== 0)).length, "buffers not zeroed after EFBIG").toBe(0);
  });

  it("says a file saved as UTF-16 (Windows PowerShell's >, an editor's \"Unicode\") is UTF-16", async () => {
    // Before: "could not parse certificate: … is neither PEM nor a DER X.509 certificate" for a PEM file every editor
    // shows as right; a key: "holds no private key".
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const path = join(dir, "cert.pem");
    writeFileSync(path, Buffer.from("\uFEFF-----BEGIN CERTIFICATE-----\r\n", "utf16le"));
    await expect(readInputFile(path, "certificate file")).rejects.toMatchObject({
      code: "INPUT_INVALID",
      message: `certificate file ${path} is UTF-16 text`,
      hint: "save it as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 FILE > NEW (in PowerShell: Set-Content -Encoding ascii)",
    });
  });

  it("wipes the bytes of a UTF-16 file it refuses (a PIN file's: no copy of the PIN left in memory)", () => {
    const bytes = Buffer.from("\uFEFF123456", "utf16le");
    expect(() => refuseUtf16(bytes, "pin.txt", "PKCS#11 PIN")).toThrow("PKCS#11 PIN pin.txt is UTF-16 text");
    expect(bytes.equals(Buffer.alloc(bytes.length))).toBe(true);
  });

  it("refuses a regular file larger than the limit before reading it", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    writeFileSync(join(dir, "huge"), "");
    truncateSync(join(dir, "huge"), MAX_INPUT_BYTES + 1); // sparse: costs no disk
    await expect(readOpenedFile(join(dir, "huge"))).rejects.toMatchObject({ code: "EFBIG" });
    await expect(readInputFile(join(dir, "huge"), "certificate file")).rejects.toMatchObject({
      code: "FILE_UNREADABLE",
      message: `certificate file ${join(dir, "huge")} holds more than 16 MiB`,
      hint: "check the path: certificates, keys, configs and PIN files are kilobytes at most",
    });
  });

  it("reads a file that reports no size (/proc, one still being written) within the limit", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const growing = join(dir, "growing");
    writeFileSync(growing, "");
    // It grows right after the fstat that said 0; sparse: costs no disk.
    afterFstat.once = () => truncateSync(growing, MAX_INPUT_BYTES + 4096);
    const reading = readOpenedFile(growing);
    // Before: read at once to its end with no limit (here: the 0 bytes it had, the same call with no cap on /proc).
    await expect(reading).rejects.toMatchObject({ code: "EFBIG", message: "holds more than 16 MiB" });
    const { bytes, stats } = await readOpenedFile("/proc/self/status");
    expect(stats.size).toBe(0);
    expect(bytes.toString()).toMatch(/^Name:/);
  });

  it("reads a file of no size from the descriptor it checked, not from whatever the name points to later", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const [path, theirs] = [join(dir, "pin"), join(dir, "theirs")];
    writeFileSync(path, "", { mode: 0o600 });
    writeFileSync(theirs, "not-what-was-checked", { mode: 0o644 });
    afterFstat.once = () => renameSync(theirs, path);
    // Before: the file was opened again by name, so the other file's bytes (and its fstat) came back.
    const { bytes, stats } = await readOpenedFile(path);
    expect(bytes.toString()).toBe("");
    expect(stats.mode & 0o777).toBe(0o600);
  });

  it("stops reading a FIFO or device (/dev/zero) past the limit instead of holding all of it", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const writer = spawn("sh", ["-c", `head -c ${MAX_INPUT_BYTES + 4096} /dev/zero > ${fifo}`]);
    try {
      await expect(readOpenedFile(fifo)).rejects.toMatchObject({ code: "EFBIG" });
    } finally {
      writer.kill("SIGKILL");
    }
    await expect(readOpenedFile("/dev/zero")).rejects.toMatchObject({ code: "EFBIG" });
  });

  it("a FIFO whose read fails otherwise than 'nothing yet' (EIO): that error at once, not the deadline", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    readFails.code = "EIO";
    try {
      // Counted, not timed: a second poll (10 ms later, as after EAGAIN) throws before it is set; the deadline's timer is 5 s.
      const polls = { budget: 0, weigh: (_: unknown, [, ms]: unknown[]) => (Number(ms) < 5_000 ? 1 : 0) };
      await expect(workOf(globalThis, "setTimeout", () => readOpenedFile(fifo, 5_000), polls)).rejects.toMatchObject({ code: "EIO" });
    } finally {
      readFails.code = undefined;
    }
  });

  it("gives up on a FIFO nobody writes to, and wakes the open() that waits for a writer", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    await expect(readOpenedFile(fifo, 200)).rejects.toMatchObject({
      code: "ETIMEDOUT",
      message: "gave nothing to read, or not all of it, within 0.2 s",
    });
    // Nothing still reads it (a read waiting in the thread pool would hold process.exit()): the FIFO has no reader.
    await new Promise((r) => setTimeout(r, 50));
    expect(() => openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)).toThrow(expect.objectContaining({ code: "ENXIO" }));
  });
});

describe("readOpenedFile: what a mutation run found untested", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const openDescriptors = () => readdirSync("/proc/self/fd").length;

  it("reads a regular file of exactly the limit, and refuses one byte more", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    writeFileSync(join(dir, "max"), "");
    truncateSync(join(dir, "max"), MAX_INPUT_BYTES); // sparse: costs no disk
    expect((await readOpenedFile(join(dir, "max"))).bytes.length).toBe(MAX_INPUT_BYTES);
    truncateSync(join(dir, "max"), MAX_INPUT_BYTES + 1);
    await expect(readOpenedFile(join(dir, "max"))).rejects.toMatchObject({ code: "EFBIG" });
  });

  it("reads a file that reports no size and then holds exactly the limit", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const growing = join(dir, "growing");
    writeFileSync(growing, "");
    afterFstat.once = () => truncateSync(growing, MAX_INPUT_BYTES);
    expect((await readOpenedFile(growing)).bytes.length).toBe(MAX_INPUT_BYTES);
  });

  it("closes its descriptor whatever it read and however it failed", async () => {
    // A daemon re-reads its certificate, key and PIN files for months: one descriptor lost per read ends in EMFILE.
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    writeFileSync(join(dir, "f"), "hello");
    writeFileSync(join(dir, "huge"), "");
    truncateSync(join(dir, "huge"), MAX_INPUT_BYTES + 1);
    execFileSync("mkfifo", [join(dir, "fifo")]);
    const before = openDescriptors();
    for (let i = 0; i < 3; i++) {
      await readOpenedFile(join(dir, "f"));
      await readOpenedFile("/proc/self/status");
      await expect(readOpenedFile(dir)).rejects.toMatchObject({ code: "EISDIR" });
      await expect(readOpenedFile(join(dir, "huge"))).rejects.toMatchObject({ code: "EFBIG" });
      await expect(readOpenedFile(join(dir, "fifo"), 50)).rejects.toMatchObject({ code: "ETIMEDOUT" });
      // A device that has nothing yet (a new pseudo-terminal): polled until the deadline, then no more.
      await expect(readOpenedFile("/dev/ptmx", 50)).rejects.toMatchObject({ code: "ETIMEDOUT" });
    }
    // A device's read closes its descriptor once that read has returned (thread pool, then a close callback): on
    // a loaded machine that can take longer than any fixed pause, so wait for it. A leaked descriptor never comes back.
    await vi.waitFor(() => expect(openDescriptors()).toBe(before), { timeout: 5_000, interval: 20 });
  });
});

describe("readDescriptor (standard input)", () => {
  it("a blocking pipe silent for 30 s: ETIMEDOUT, and the read waiting in the thread pool is woken", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-stdin-"));
    const path = join(dir, "pipe");
    execFileSync("mkfifo", ["-m", "600", path]);
    // Blocking, with a writer (itself): the read waits in a thread-pool thread, which process.exit() would wait for.
    const reader = openSync(path, constants.O_RDWR);
    const peek = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const reading = readDescriptor(reader);
      const outcome = expect(reading).rejects.toMatchObject({
        code: "ETIMEDOUT",
        message: expect.stringMatching(/gave nothing to read, or not all of it, within 30 s$/),
      });
      await vi.advanceTimersByTimeAsync(30_000);
      await outcome;
      vi.useRealTimers();
      await new Promise((done) => setTimeout(done, 200)); // the woken read returns from the thread pool
      // Woken (by the "\n" through the pipe's write end), the read took that and returned: a byte written now is
      // still there. A read still waiting would take it.
      writeSync(reader, "X");
      const unread = Buffer.alloc(8);
      expect(unread.subarray(0, readSync(peek, unread)).toString()).toBe("X");
    } finally {
      vi.useRealTimers();
      closeSync(peek);
      closeSync(reader);
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("waits for a parent that writes a moment later into a non-blocking pipe (before: EAGAIN at once)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "raa-stdin-"));
    try {
      const path = join(dir, "pipe");
      execFileSync("mkfifo", ["-m", "600", path]);
      // Like a non-blocking stdin pipe: a writer there, no data yet.
      const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const writer = openSync(path, constants.O_WRONLY);
      try {
        const reading = readDescriptor(reader);
        await new Promise((done) => setTimeout(done, 200));
        writeSync(writer, "-----BEGIN CERTIFICATE-----\n");
        closeSync(writer);
        expect((await reading).toString()).toBe("-----BEGIN CERTIFICATE-----\n");
      } finally {
        closeSync(reader);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
