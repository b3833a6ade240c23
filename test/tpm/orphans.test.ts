/** Finding and flushing what a lost connection left on a TPM without a resource manager. A TPM simulated in the test. */
import { describe, expect, it } from "vitest";
import { Tpm } from "../../src/tpm/client/tpm.js";
import { flushOrphans, loadedHandles } from "../../src/tpm/client/orphans.js";
import type { TpmTransport } from "../../src/tpm/transport/transport.js";

const response = (rc: number, body: Buffer = Buffer.alloc(0)) => {
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0x8001, 0);
  header.writeUInt32BE(10 + body.length, 2);
  header.writeUInt32BE(rc, 6);
  return Buffer.concat([header, body]);
};

/**
 * Answers TPM2_GetCapability(TPM_CAP_HANDLES) from its loaded handles, at most `page` per answer (the TPM's own limit,
 * whatever propertyCount asks), and TPM2_FlushContext; `refuse` handles answer TPM_RC_HANDLE to a flush.
 */
class HandleTpm implements TpmTransport {
  readonly description = "handle TPM";
  readonly queries: { property: number; count: number }[] = [];
  readonly flushed: number[] = [];
  constructor(
    readonly loaded: Set<number>,
    readonly options: { page?: number; refuse?: number[]; /** Answer with this other capability and an empty list. */ capability?: number; moreDataWithNothing?: boolean } = {},
  ) {}
  async transmit(command: Buffer): Promise<Buffer> {
    const code = command.readUInt32BE(6);
    if (code === 0x165) {
      const handle = command.readUInt32BE(10);
      if (this.options.refuse?.includes(handle) || !this.loaded.has(handle)) return response(0x18b);
      this.loaded.delete(handle);
      this.flushed.push(handle);
      return response(0);
    }
    expect(code).toBe(0x17a);
    expect(command.readUInt32BE(10)).toBe(1); // TPM_CAP_HANDLES
    const [property, count] = [command.readUInt32BE(14), command.readUInt32BE(18)];
    this.queries.push({ property, count });
    if (this.queries.length > 20) throw new Error("asked more than 20 times: an endless loop");
    const inRange = [...this.loaded].filter((h) => h >>> 24 === property >>> 24 && h >= property).sort((a, b) => a - b);
    const handles = this.options.moreDataWithNothing || this.options.capability !== undefined ? [] : inRange.slice(0, Math.min(count, this.options.page ?? count));
    const more = this.options.moreDataWithNothing || handles.length < inRange.length;
    const body = Buffer.alloc(9 + 4 * handles.length);
    body.writeUInt8(more ? 1 : 0, 0);
    body.writeUInt32BE(this.options.capability ?? 1, 1);
    body.writeUInt32BE(handles.length, 5);
    handles.forEach((h, i) => body.writeUInt32BE(h, 9 + 4 * i));
    return response(0, body);
  }
  transmitSync(): Buffer | undefined {
    return undefined;
  }
  async close(): Promise<void> {}
}

const byValue = (a: number, b: number) => a - b;
const TRANSIENT = [0x80000000, 0x80000001, 0x80000002, 0x800000ff];
const SESSIONS = [0x02000000, 0x02000003];

describe("loadedHandles", () => {
  it("lists transient objects and loaded sessions (not persistent keys), asking for 64 at a time from each range's start", async () => {
    const t = new HandleTpm(new Set([...TRANSIENT, ...SESSIONS, 0x81000001]));
    expect(await loadedHandles(new Tpm(t))).toEqual(new Set([...TRANSIENT, ...SESSIONS]));
    expect(t.queries).toEqual([
      { property: 0x80000000, count: 64 },
      { property: 0x02000000, count: 64 },
    ]);
  });

  it("follows moreData from the handle after the last one listed", async () => {
    const t = new HandleTpm(new Set([...TRANSIENT, ...SESSIONS]), { page: 2 });
    expect(await loadedHandles(new Tpm(t))).toEqual(new Set([...TRANSIENT, ...SESSIONS]));
    expect(t.queries.map((q) => q.property)).toEqual([0x80000000, 0x80000002, 0x02000000]);
  });

  it("stops when a TPM claims more data but lists nothing (no endless loop), and takes an answer about another capability as no handles", async () => {
    const stuck = new HandleTpm(new Set(TRANSIENT), { moreDataWithNothing: true });
    expect(await loadedHandles(new Tpm(stuck))).toEqual(new Set());
    expect(stuck.queries).toHaveLength(2);
    const other = new HandleTpm(new Set(TRANSIENT), { capability: 6 }); // TPM_CAP_TPM_PROPERTIES, an empty list
    expect(await loadedHandles(new Tpm(other))).toEqual(new Set());
  });
});

describe("flushOrphans", () => {
  it("flushes only what appeared since the snapshot (never what was there before: another client's), and counts it", async () => {
    const loaded = new Set([0x80000000, 0x02000000]);
    const t = new HandleTpm(loaded);
    const tpm = new Tpm(t);
    const before = await loadedHandles(tpm);
    for (const h of [0x80000001, 0x80000002, 0x02000001]) loaded.add(h);
    expect(await flushOrphans(tpm, before)).toBe(3);
    expect(t.flushed.sort(byValue)).toEqual([0x02000001, 0x80000001, 0x80000002].sort(byValue));
    expect(loaded).toEqual(new Set([0x80000000, 0x02000000]));
  });

  it("a flush the TPM refuses is not counted and does not stop the others", async () => {
    const t = new HandleTpm(new Set([0x80000001, 0x80000002, 0x02000001]), { refuse: [0x80000001] });
    expect(await flushOrphans(new Tpm(t), new Set())).toBe(2);
    expect(t.flushed.sort(byValue)).toEqual([0x02000001, 0x80000002].sort(byValue));
  });

  it("with nothing new, nothing is flushed", async () => {
    const t = new HandleTpm(new Set(TRANSIENT));
    expect(await flushOrphans(new Tpm(t), new Set(TRANSIENT))).toBe(0);
    expect(t.flushed).toEqual([]);
  });
});
