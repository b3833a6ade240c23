/**
 * Shared pieces of the hardening property tests: mutation arbitraries over valid inputs and the one
 * property every outside-data parser must have — it returns, or it throws an AgentError. Anything else
 * (TypeError, RangeError, a DerError/TpmWireError that escaped its wrapper, an asn1 library exception) fails
 * the property, and fast-check shrinks it to a small reproducer.
 */
import fc from "fast-check";
import { connect } from "node:net";
import { createCredentialSource } from "../../src/credentials/credential-source.js";
import { SourceRegistry } from "../../src/credentials/source-registry.js";
import { AgentError, NetworkError } from "../../src/errors.js";
import type { IssuedCredentials } from "../../src/rolesanywhere/credentials.js";
import { standInSigner } from "../helpers/stand-in.js";

/**
 * A fixed seed by default, so the suite is reproducible (same cases, same counts) and cannot turn red by
 * luck in CI; FUZZ_SEED=random (or a number) explores other cases locally. A failure prints its seed/path.
 */
const seedSetting = process.env["FUZZ_SEED"];
export const SEED = seedSetting === "random" ? Date.now() ^ (Math.random() * 2 ** 31) : Number(seedSetting ?? "20261123") | 0;
fc.configureGlobal({ seed: SEED });

/** Cases per property; FUZZ_RUNS scales them (e.g. FUZZ_RUNS=5 for a longer local run). */
export const SCALE = Math.max(0.1, Number(process.env["FUZZ_RUNS"] ?? "1") || 1);
export const runs = (n: number): number => Math.max(10, Math.round(n * SCALE));

export interface Tally {
  cases: number;
  parsed: number;
  rejected: number;
}

const tallies = new Map<string, Tally>();

/** Counts per parser, printed by {@link printTallies} (the figures SECURITY.md quotes). */
export function tally(name: string): Tally {
  let t = tallies.get(name);
  if (!t) tallies.set(name, (t = { cases: 0, parsed: 0, rejected: 0 }));
  return t;
}

export function printTallies(file: string): void {
  for (const [name, t] of tallies) {
    console.log(`FUZZ ${file} ${name}: ${t.cases} cases, ${t.parsed} parsed, ${t.rejected} rejected with AgentError, 0 other exceptions`);
  }
}

/** Runs `fn`; parse → true, AgentError → false, anything else is rethrown (the property fails). */
export async function parsesOrAgentError(name: string, fn: () => unknown): Promise<boolean> {
  const t = tally(name);
  t.cases++;
  try {
    await fn();
    t.parsed++;
    return true;
  } catch (e) {
    if (e instanceof AgentError) {
      // The message is printed on one line by the CLI; it must be a string.
      if (typeof e.toOneLine() !== "string" || typeof e.code !== "string") throw new Error("malformed AgentError", { cause: e });
      t.rejected++;
      return false;
    }
    throw e;
  }
}

/** Bytes with a few bit flips, byte overwrites, truncations, insertions or DER-length-like corruptions. */
export function mutationOf(valid: Buffer): fc.Arbitrary<Buffer> {
  const n = valid.length;
  const pos = fc.nat({ max: Math.max(0, n - 1) });
  const one: fc.Arbitrary<(b: Buffer) => Buffer> = fc.oneof(
    fc.tuple(pos, fc.integer({ min: 0, max: 7 })).map(([p, bit]) => (b: Buffer) => {
      const c = Buffer.from(b);
      if (p < c.length) c[p]! ^= 1 << bit;
      return c;
    }),
    fc.tuple(pos, fc.integer({ min: 0, max: 255 })).map(([p, v]) => (b: Buffer) => {
      const c = Buffer.from(b);
      if (p < c.length) c[p] = v;
      return c;
    }),
    pos.map((p) => (b: Buffer) => b.subarray(0, p)),
    fc.tuple(pos, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([p, ins]) => (b: Buffer) =>
      Buffer.concat([b.subarray(0, p), Buffer.from(ins), b.subarray(p)]),
    ),
    fc.tuple(pos, fc.integer({ min: 1, max: 16 })).map(([p, len]) => (b: Buffer) => Buffer.concat([b.subarray(0, p), b.subarray(p + len)])),
    // Length-field corruption: overwrite with long-form lengths, 0x80 (indefinite), 0xff…, or small values.
    fc.tuple(pos, fc.constantFrom([0x80], [0x84, 0xff, 0xff, 0xff, 0xff], [0x83, 0x7f, 0xff, 0xff], [0x81, 0x00], [0x00], [0xff, 0xff], [0x7f], [0x88, 1, 0, 0, 0, 0, 0, 0, 0]))
      .map(([p, bytes]) => (b: Buffer) => {
        const c = Buffer.from(b);
        for (let i = 0; i < bytes.length && p + i < c.length; i++) c[p + i] = bytes[i]!;
        return c;
      }),
  );
  return fc.array(one, { minLength: 1, maxLength: 4 }).map((ops) => ops.reduce((b, op) => op(b), valid));
}

/** PEM text mutated at the text level (base64 characters, header lines, line breaks). */
export function pemMutationOf(pem: string): fc.Arbitrary<Buffer> {
  return fc.oneof(
    mutationOf(Buffer.from(pem, "latin1")),
    fc.tuple(fc.nat({ max: pem.length }), fc.constantFrom("-----END X-----", "-----BEGIN ", "\n", "=", "====", "\r\n", "A", "*", "\u00ff"))
      .map(([p, s]) => Buffer.from(pem.slice(0, p) + s + pem.slice(p), "latin1")),
  );
}

export const randomBytes = (maxLength = 512): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));

/** One HTTP/1.1 response as it came on the wire (several when requests were pipelined). */
/** Sources that sign with a stand-in and get `issued(role)` for a role ARN's last part; the role "broken" gets a 503. */
export function registryIssuing(issued: (role: string) => IssuedCredentials): SourceRegistry {
  return new SourceRegistry((spec) =>
    createCredentialSource({
      ...spec,
      createSigner: async () => standInSigner(),
      createSession: async (_signer, s) => {
        const role = s.session.roleArn.split("/").pop()!;
        if (role === "broken") throw new NetworkError("SERVICE_UNAVAILABLE", "CreateSession answered 503 three times");
        return issued(role);
      },
    }),
  );
}

/** A path segment percent-decoded as a server would, or as it is when it is not valid percent-encoding. */
export function percentDecodedOrSame(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface WireResponse {
  readonly status: number;
  readonly headers: string;
  readonly body: string;
}

/**
 * Writes `bytes` to a fresh connection (TCP port on loopback, or a UNIX socket path), half-closes it, and reads
 * responses until the server closes: `heads` says which requests were HEAD (their answers have no body). Raw bytes,
 * not node:http's client, so that header case, repeated headers, odd targets and framing are the test's choice.
 */
export function exchange(to: { port: number } | { path: string }, bytes: Buffer, heads: readonly boolean[] = []): Promise<WireResponse[]> {
  return new Promise((resolve, reject) => {
    const socket = connect("port" in to ? { host: "127.0.0.1", port: to.port } : { path: to.path });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => resolve(parseResponses(Buffer.concat(chunks).toString("latin1"), heads)));
    socket.end(bytes);
  });
}

function parseResponses(text: string, heads: readonly boolean[]): WireResponse[] {
  const out: WireResponse[] = [];
  while (text.length > 0) {
    const end = text.indexOf("\r\n\r\n");
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(text);
    if (end < 0 || !status) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`);
    const headers = text.slice(0, end);
    const length = /\r\ncontent-length: (\d+)/i.exec(headers);
    const bodyLength = heads[out.length] ? 0 : length ? Number(length[1]) : text.length - end - 4;
    out.push({ status: Number(status[1]), headers, body: text.slice(end + 4, end + 4 + bodyLength) });
    text = text.slice(end + 4 + bodyLength);
  }
  return out;
}
