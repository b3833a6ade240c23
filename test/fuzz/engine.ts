/**
 * The structure-aware fuzzer's engine: a seeded PRNG, mutators that keep inputs well-formed enough to
 * reach deep fields (DER decoded, one node changed, re-encoded with valid lengths; OID and tag swaps from
 * lists of real values; crossover between seeds; JSON and text mutators for the text parsers), and the
 * loop that runs one target and counts what happened. Targets and their oracles are in targets.ts.
 */
import { AgentError } from "../../src/errors.js";
import { allNodes, cloneDer, decodeDer, encodeDer, integerBytes, integerValue, oidBytes, type DerNode } from "./der-tree.js";

/** xorshift128+ on two 32-bit halves: fast, deterministic for a given seed and case number. */
export class Rng {
  #a: number;
  #b: number;
  constructor(seed: number, stream = 0) {
    this.#a = (seed ^ 0x9e3779b9) >>> 0 || 1;
    this.#b = (Math.imul(stream + 1, 0x85ebca6b) ^ seed) >>> 0 || 2;
    for (let i = 0; i < 8; i++) this.u32();
  }
  u32(): number {
    let s1 = this.#a;
    const s0 = this.#b;
    this.#a = s0;
    s1 ^= s1 << 13;
    s1 ^= s1 >>> 17;
    s1 ^= s0 ^ (s0 >>> 5);
    this.#b = s1 >>> 0;
    return (this.#a + this.#b) >>> 0;
  }
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

/** Real OIDs from the structures the agent reads: swapping one in keeps a mutated input meaningful. */
export const REAL_OIDS = [
  "1.2.840.113549.1.1.1", "1.2.840.10045.2.1", "1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35", "1.3.132.0.10", "1.3.132.0.33",
  "1.3.36.3.3.2.8.1.1.7", "1.3.101.112", "1.3.101.110", "2.16.840.1.101.3.4.3.17", "2.16.840.1.101.3.4.3.18", "2.16.840.1.101.3.4.3.19",
  "1.2.840.113549.1.1.10", "1.2.840.10040.4.1", "1.2.840.113549.1.3.1", "1.2.840.113549.1.1.11", "1.2.840.113549.1.1.5", "1.2.840.10045.4.3.2",
  "1.2.840.10045.4.3.3", "1.2.840.113549.1.5.13", "1.2.840.113549.1.5.12", "1.3.6.1.4.1.11591.4.11", "2.16.840.1.101.3.4.1.2",
  "2.16.840.1.101.3.4.1.42", "1.2.840.113549.3.7", "1.2.840.113549.2.7", "1.2.840.113549.2.9", "1.2.840.113549.2.11",
  "1.2.840.113549.1.7.1", "1.2.840.113549.1.7.2", "1.2.840.113549.1.7.3", "1.2.840.113549.1.7.6", "1.2.840.113549.1.12.10.1.1",
  "1.2.840.113549.1.12.10.1.2", "1.2.840.113549.1.12.10.1.3", "1.2.840.113549.1.12.10.1.6", "1.2.840.113549.1.9.22.1",
  "1.2.840.113549.1.12.1.3", "1.2.840.113549.1.5.14", "1.3.14.3.2.26", "2.16.840.1.101.3.4.2.1", "2.16.840.1.101.3.4.2.3",
  "2.5.29.17", "2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.14", "2.5.29.35", "2.5.4.3", "2.5.4.10", "2.5.4.11", "2.5.4.6",
  "2.5.4.5", "2.5.4.7", "2.5.4.8", "2.5.4.42", "1.2.840.113549.1.9.1", "0.9.2342.19200300.100.1.1", "0.9.2342.19200300.100.1.25",
  "1.3.6.1.5.5.7.3.2", "2.23.133.10.1.3", "2.23.133.10.1.4", "2.23.133.10.1.5", "1.2.3", "2.999.1",
];

const TAGS = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x1e, 0x30, 0x31, 0x80, 0x81, 0x82, 0x86, 0x87, 0xa0, 0xa1, 0xa3, 0xa4];

const INTERESTING_BITS = [0, 1, 7, 8, 15, 16, 23, 24, 31, 32, 53, 63, 64, 255, 256, 384, 521, 1024, 2048, 4096, 16_384, 16_385, 20_000];

function interestingInteger(rng: Rng, current: bigint): bigint {
  switch (rng.int(9)) {
    case 0:
      return 0n;
    case 1:
      return rng.pick([1n, -1n, 2n, 3n, 65537n, 128n, 255n, 256n]);
    case 2:
      return current + BigInt(rng.int(5) - 2);
    case 3:
      return -current;
    case 4:
      return current * 2n;
    case 5:
      return current >> BigInt(1 + rng.int(64));
    case 6: {
      const bits = BigInt(rng.pick(INTERESTING_BITS));
      return (1n << bits) + BigInt(rng.int(3) - 1);
    }
    case 7:
      return -(1n << BigInt(rng.pick(INTERESTING_BITS)));
    default:
      return BigInt(`0x${rng.bytes(1 + rng.int(80)).toString("hex")}`);
  }
}

/** Byte-level changes to one buffer (a primitive value, or a whole input). */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  const b = Buffer.from(input);
  const p = rng.int(Math.max(1, b.length));
  switch (rng.int(7)) {
    case 0:
      if (b.length > 0) b[p]! ^= 1 << rng.int(8);
      return b;
    case 1:
      if (b.length > 0) b[p] = rng.pick([0x00, 0xff, 0x7f, 0x80, 0x30, 0x02, 0x04, rng.int(256)]);
      return b;
    case 2:
      return b.subarray(0, p);
    case 3:
      return Buffer.concat([b.subarray(0, p), rng.bytes(1 + rng.int(16)), b.subarray(p)]);
    case 4:
      return Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + 1 + rng.int(16)))]);
    case 5:
      return Buffer.concat([b, b.subarray(p)]);
    default:
      return Buffer.alloc(0);
  }
}

/** One structural change to the tree (in place); `donors` are other seeds' trees for crossover. */
function mutateNode(rng: Rng, root: DerNode, donors: readonly DerNode[]): void {
  const nodes = allNodes(root);
  const { node, parent, index } = rng.pick(nodes);
  switch (rng.int(10)) {
    case 0:
    case 1: // value bytes / INTEGER sizes
      if (node.tag === 0x02 && node.value) node.value = integerBytes(interestingInteger(rng, integerValue(node)));
      else if (node.value) node.value = mutateBytes(rng, node.value);
      else if (node.children && node.children.length > 0) mutateNode(rng, rng.pick(node.children), donors);
      break;
    case 2: // OID swap
      if (node.tag === 0x06 || rng.chance(0.3)) {
        node.tag = 0x06;
        node.value = oidBytes(rng.pick(REAL_OIDS));
        delete node.children;
        delete node.encapsulated;
        delete node.prefix;
      }
      break;
    case 3: // tag swap
      node.tag = rng.pick(TAGS);
      break;
    case 4: // drop a child
      if (parent?.children) parent.children.splice(index, 1);
      break;
    case 5: // duplicate a child
      if (parent?.children) parent.children.splice(index, 0, cloneDer(node));
      break;
    case 6: // swap two siblings
      if (parent?.children && parent.children.length > 1) {
        const j = rng.int(parent.children.length);
        [parent.children[index], parent.children[j]] = [parent.children[j]!, parent.children[index]!];
      }
      break;
    case 7: // crossover: a node from another seed
      if (parent?.children && donors.length > 0) {
        const donor = rng.pick(allNodes(rng.pick(donors))).node;
        parent.children[index] = cloneDer(donor);
      }
      break;
    case 8: // wrap in a SEQUENCE or [0]
      if (parent?.children) parent.children[index] = { tag: rng.pick([0x30, 0xa0, 0x04]), children: [node] };
      break;
    default: // encapsulated content turned into (mutated) bytes, or a primitive value emptied/grown
      if (node.encapsulated && node.children) {
        const bytes = Buffer.concat([...(node.prefix ? [node.prefix] : []), ...node.children.map(encodeDer)]);
        delete node.children;
        delete node.encapsulated;
        delete node.prefix;
        node.value = mutateBytes(rng, bytes);
      } else if (node.value) {
        node.value = rng.chance(0.5) ? Buffer.alloc(0) : Buffer.concat([node.value, rng.bytes(1 + rng.int(64))]);
      }
  }
}

/** A mutant of `seed` (DER): 1–3 structural changes, re-encoded; sometimes one byte-level change on top. */
export function mutateDer(rng: Rng, seed: DerNode, donors: readonly DerNode[]): Buffer {
  const tree = cloneDer(seed);
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) mutateNode(rng, tree, donors);
  const out = encodeDer(tree);
  return rng.chance(0.08) ? mutateBytes(rng, out) : out;
}

export function derSeeds(buffers: readonly Buffer[]): DerNode[] {
  return buffers.map((b) => {
    const t = decodeDer(b);
    if (t === undefined) throw new Error("a fuzz seed is not DER");
    return t;
  });
}

export const pemOf = (label: string, der: Buffer): Buffer =>
  Buffer.from(`-----BEGIN ${label}-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END ${label}-----\n`);

/** Names that reach Object.prototype when an object is used as a map. */
export const PROTO_NAMES = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "prototype"];

/** Text mutations: dictionary tokens, deletions, character changes, splices with another seed. */
export function mutateText(rng: Rng, seed: string, seeds: readonly string[], dictionary: readonly string[]): string {
  let s = seed;
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) {
    const p = rng.int(s.length + 1);
    switch (rng.int(6)) {
      case 0:
      case 1:
        s = s.slice(0, p) + rng.pick(dictionary) + s.slice(p);
        break;
      case 2:
        s = s.slice(0, p) + s.slice(p + 1 + rng.int(12));
        break;
      case 3:
        s = s.slice(0, p) + String.fromCharCode(rng.pick([0, 0x25, 0x3a, 0x3b, 0x3d, 0x3f, 0x26, 0x2f, 0x20, 0x7f, 0xe9, 0x2028, 0xd800, rng.int(0x80)])) + s.slice(p + 1);
        break;
      case 4: {
        const other = seeds.length > 0 ? rng.pick(seeds) : seed;
        const q = rng.int(other.length + 1);
        s = s.slice(0, p) + other.slice(q);
        break;
      }
      default:
        s = s.slice(0, p) + s.slice(p, p + 1 + rng.int(20)).repeat(2 + rng.int(3)) + s.slice(p + 1);
    }
  }
  return s;
}

const JSON_VALUES: readonly unknown[] = [null, true, false, 0, -1, 1.5, 1e308, 2 ** 53 + 1, "", "x".repeat(300), [], {}, [1, "a"], { a: 1 }, "arn:aws:iam::1:role/r", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "not a date", "file:/etc/passwd", "env:HOME", "pkcs11:token=a"];

type Json = unknown;

/** JSON mutations: a value replaced (other types, another seed's subtree), a key deleted, added or renamed. */
export function mutateJson(rng: Rng, seed: Json, seeds: readonly Json[], keys: readonly string[]): string {
  const doc = structuredClone(seed) as Json;
  const count = 1 + rng.int(3);
  let root = doc;
  for (let i = 0; i < count; i++) {
    const containers: Array<{ holder: Record<string, Json> | Json[]; key: string | number }> = [];
    const walk = (v: Json, depth: number) => {
      if (depth > 8 || v === null || typeof v !== "object") return;
      for (const [k, child] of Object.entries(v)) {
        containers.push({ holder: v as Record<string, Json>, key: Array.isArray(v) ? Number(k) : k });
        walk(child, depth + 1);
      }
    };
    walk(root, 0);
    if (containers.length === 0 || rng.chance(0.03)) {
      root = structuredClone(rng.pick([...JSON_VALUES, rng.pick(seeds)]));
      continue;
    }
    const { holder, key } = rng.pick(containers);
    const h = holder as Record<string | number, Json>;
    switch (rng.int(6)) {
      case 0:
      case 1:
        h[key] = structuredClone(rng.chance(0.2) ? rng.pick(containers).holder : rng.pick(JSON_VALUES));
        break;
      case 2:
        if (Array.isArray(holder)) holder.splice(key as number, 1);
        else delete h[key];
        break;
      case 3:
        if (!Array.isArray(holder)) Object.defineProperty(holder, rng.pick([...keys, ...PROTO_NAMES]), { value: structuredClone(rng.pick(JSON_VALUES)), enumerable: true, configurable: true, writable: true });
        break;
      case 4:
        if (!Array.isArray(holder)) {
          const value = h[key];
          delete h[key];
          Object.defineProperty(holder, rng.pick([...keys, ...PROTO_NAMES, `${String(key)}x`, String(key).toUpperCase()]), { value, enumerable: true, configurable: true, writable: true });
        }
        break;
      default:
        if (typeof h[key] === "string") h[key] = mutateText(rng, h[key] as string, [], [":", "/", "%", "\u0000", "..", " ", "*"]);
        else if (typeof h[key] === "number") h[key] = (h[key] as number) * rng.pick([-1, 0, 2, 1e6, 0.5]);
    }
  }
  const text = JSON.stringify(root) ?? "null";
  return rng.chance(0.05) ? mutateText(rng, text, [], ["{", "}", "[", "]", ",", ":", '"', "\\u0000", "\\ud800"]) : text;
}

/** What one case did. */
export type Outcome = { kind: "accepted" } | { kind: "refused"; code: string } | { kind: "internal"; detail: string } | { kind: "oracle"; detail: string };

/** Thrown by an oracle: the parser accepted something it should not have, or its result is wrong. */
export class OracleFailure extends Error {}

/** Thrown by a target whose refusals are not AgentErrors (the CLI's exit codes): counted as refused with `code`. */
export class Refused extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export interface Target {
  readonly name: string;
  /** The input of case `i` (deterministic from the rng). */
  generate(rng: Rng): Buffer;
  /** Runs the parser and its oracle; resolves when accepted, throws AgentError when refused. */
  run(input: Buffer): Promise<void>;
}

export async function runCase(target: Target, input: Buffer): Promise<Outcome> {
  try {
    await target.run(input);
    return { kind: "accepted" };
  } catch (error) {
    if (error instanceof OracleFailure) return { kind: "oracle", detail: error.message };
    if (error instanceof Refused) return { kind: "refused", code: error.code };
    if (error instanceof AgentError && error.code !== "INTERNAL") {
      const line = error.toOneLine();
      if (typeof line !== "string" || line.includes("\n")) return { kind: "internal", detail: "AgentError without a one-line message" };
      return { kind: "refused", code: error.code };
    }
    const detail = error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
    return { kind: "internal", detail: detail.slice(0, 300) };
  }
}

export interface Counts {
  cases: number;
  accepted: number;
  refused: Record<string, number>;
  aborts: number;
  internal: number;
  oracle: number;
  hangs: number;
  /** Slowest case, ms. */
  slowestMs: number;
  /** First few failures, with the case number, for reproduction. */
  failures: Array<{ index: number; kind: string; detail: string; input: string }>;
}

export const emptyCounts = (): Counts => ({ cases: 0, accepted: 0, refused: {}, aborts: 0, internal: 0, oracle: 0, hangs: 0, slowestMs: 0, failures: [] });

/**
 * A hang: a case that kept the event loop from turning for more than BLOCKED_MS while this process spent
 * that much CPU time (a wall-clock gap alone is only the machine being busy), or that used more than
 * HANG_CPU_MS of CPU in all (work on the thread pool, such as scrypt or PBKDF2, leaves the event loop free and
 * is bounded by the iteration limits: 8 decryptions of 10,000,000 PBKDF2 iterations at most, ~40–80 s).
 */
export const BLOCKED_MS = 1_000;
export const HANG_CPU_MS = 90_000;

/** Measures the longest event-loop gap during a case, with a 50 ms ticker. */
class LoopWatch {
  #last = performance.now();
  #maxGap = 0;
  readonly #timer = setInterval(() => this.#tick(), 50);
  #tick(): void {
    const now = performance.now();
    this.#maxGap = Math.max(this.#maxGap, now - this.#last);
    this.#last = now;
  }
  reset(): void {
    this.#last = performance.now();
    this.#maxGap = 0;
  }
  maxGap(): number {
    this.#tick();
    return this.#maxGap;
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Runs cases [start, end) of `target` with `seed`; `before` is called with each input (crash reproduction). */
export async function runTarget(target: Target, seed: number, start: number, end: number, counts: Counts, before?: (index: number, input: Buffer) => void): Promise<Counts> {
  const watch = new LoopWatch();
  try {
    for (let i = start; i < end; i++) await runOne(i);
  } finally {
    watch.stop();
  }
  return counts;

  async function runOne(i: number): Promise<void> {
    const input = target.generate(new Rng(seed, i));
    before?.(i, input);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    watch.reset();
    const outcome = await runCase(target, input);
    const ms = performance.now() - t0;
    const gap = watch.maxGap();
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    counts.cases++;
    if (ms > counts.slowestMs) counts.slowestMs = Math.round(ms);
    if ((gap > BLOCKED_MS && cpuMs > BLOCKED_MS) || cpuMs > HANG_CPU_MS) {
      counts.hangs++;
      const detail = `${Math.round(ms)} ms in all, event loop blocked ${Math.round(gap)} ms, ${Math.round(cpuMs)} ms CPU`;
      if (counts.failures.length < 10) counts.failures.push({ index: i, kind: "hang", detail, input: input.toString("base64") });
    }
    if (outcome.kind === "accepted") counts.accepted++;
    else if (outcome.kind === "refused") counts.refused[outcome.code] = (counts.refused[outcome.code] ?? 0) + 1;
    else {
      if (outcome.kind === "internal") counts.internal++;
      else counts.oracle++;
      if (counts.failures.length < 10) counts.failures.push({ index: i, kind: outcome.kind, detail: outcome.detail, input: input.toString("base64") });
    }
  }
}

export function formatCounts(name: string, c: Counts): string {
  const refusedTotal = Object.values(c.refused).reduce((a, b) => a + b, 0);
  const byCode = Object.entries(c.refused)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(", ");
  return `${name}: ${c.cases} cases, ${c.accepted} accepted, ${refusedTotal} refused (${byCode || "none"}), ${c.aborts} aborts, ${c.internal} internal errors, ${c.oracle} oracle failures, ${c.hangs} hangs (slowest ${c.slowestMs} ms)`;
}
