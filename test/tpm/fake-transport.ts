import type { TpmTransport } from "../../src/tpm/transport/transport.js";

/** A scripted transport for unit tests: records commands, answers from a queue of responses (hex or Buffer). */
export class ScriptedTransport implements TpmTransport {
  readonly description = "scripted";
  readonly sent: Buffer[] = [];
  readonly #answers: Buffer[];

  constructor(answers: (string | Buffer)[]) {
    this.#answers = answers.map((a) => (typeof a === "string" ? Buffer.from(a.replace(/\s+/g, ""), "hex") : a));
  }

  async transmit(command: Buffer): Promise<Buffer> {
    this.sent.push(Buffer.from(command));
    const next = this.#answers.shift();
    if (!next) throw new Error("no scripted answer left");
    return next;
  }

  transmitSync(): Buffer | undefined {
    return undefined;
  }

  async close(): Promise<void> {}
}

/** A 10-byte error response with this code. */
export function errorResponse(rc: number): string {
  return `80010000000a${rc.toString(16).padStart(8, "0")}`;
}

export const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
