import { EventEmitter } from "node:events";
import type { ReadStream } from "node:tty";
import { describe, expect, it } from "vitest";
import { readLine } from "../../src/secrets/terminal-prompt.js";

/** What readLine uses of a terminal stream: data and end events, pause and resume. */
class FakeTerminal extends EventEmitter {
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
}

function typed(chunks: Buffer[]): { line: Promise<Buffer>; chunks: Buffer[] } {
  const terminal = new FakeTerminal();
  const line = readLine(terminal as unknown as ReadStream);
  for (const chunk of chunks) terminal.emit("data", chunk);
  return { line, chunks };
}

describe("readLine (the terminal prompt's reader)", () => {
  it("wipes the chunk that holds the end of the line (the usual case: secret and newline arrive together)", async () => {
    const { line, chunks } = typed([Buffer.from("s3cret\r")]);
    expect((await line).toString()).toBe("s3cret");
    expect(chunks[0]!.every((byte) => byte === 0)).toBe(true);
  });

  it("wipes every chunk of a secret typed in pieces, backspaces applied", async () => {
    const { line, chunks } = typed([Buffer.from("pa"), Buffer.from("x\x7fss"), Buffer.from("\n")]);
    expect((await line).toString()).toBe("pass");
    for (const chunk of chunks) expect(chunk.every((byte) => byte === 0)).toBe(true);
  });

  it("wipes what was typed before Ctrl-C and rejects", async () => {
    const { line, chunks } = typed([Buffer.from("half\x03")]);
    await expect(line).rejects.toThrow("prompt interrupted");
    expect(chunks[0]!.every((byte) => byte === 0)).toBe(true);
  });
});
