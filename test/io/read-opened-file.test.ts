import { execFileSync, spawn } from "node:child_process";
import { constants, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readInputFile } from "../../src/io/input-file.js";
import { MAX_INPUT_BYTES, readOpenedFile } from "../../src/io/read-opened-file.js";

describe("readOpenedFile", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a regular file with the fstat of what it read", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    writeFileSync(join(dir, "f"), "hello", { mode: 0o640 });
    const { bytes, stats } = await readOpenedFile(join(dir, "f"));
    expect(bytes.toString()).toBe("hello");
    expect(stats.isFile()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o640);
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
    const reading = readOpenedFile(fifo);
    await new Promise((r) => setTimeout(r, 60));
    const writer = spawn("sh", ["-c", `printf 'piped' > ${fifo}`]);
    const { bytes, stats } = await reading;
    clearInterval(timer);
    writer.kill();
    expect(bytes.toString()).toBe("piped");
    expect(stats.isFIFO()).toBe(true);
    expect(ticks).toBeGreaterThan(3);
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

  it("gives up on a FIFO nobody writes to, and wakes the open() that waits for a writer", async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-read-"));
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    await expect(readOpenedFile(fifo, { timeoutMs: 200 })).rejects.toMatchObject({
      code: "ETIMEDOUT",
      message: "gave nothing to read, or not all of it, within 0.2 s",
    });
    // The open() that waited in the thread pool was woken (process.exit() would wait for it): the FIFO has no reader.
    await new Promise((r) => setTimeout(r, 50));
    expect(() => openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK)).toThrow(expect.objectContaining({ code: "ENXIO" }));
  });
});
