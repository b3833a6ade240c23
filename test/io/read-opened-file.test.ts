import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readOpenedFile } from "../../src/io/read-opened-file.js";

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
});
