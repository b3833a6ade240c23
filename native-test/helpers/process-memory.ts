/**
 * The memory oracle of the secret-in-memory tests: how many times each needle occurs in another process's readable
 * memory (/proc/PID/maps, then /proc/PID/mem), as a core file or a crash tool would have it. Root reads any process's
 * memory, a non-dumpable one's included. Run by python3, so this process's own heap (which holds the needles) is not
 * the one read.
 */
import { execFileSync } from "node:child_process";

/** Occurrences of each needle's bytes in `pid`'s readable mappings ([vvar] skipped: reading it faults). */
export function occurrencesInMemory(pid: number, needles: readonly Uint8Array[]): number[] {
  const hex = needles.map((n) => Buffer.from(n).toString("hex"));
  const out = execFileSync("/usr/bin/python3", ["-c", COUNTER, String(pid), ...hex], { encoding: "utf8", maxBuffer: 1 << 20 });
  return out.trim().split(" ").map(Number);
}

/** A text as V8 may hold it: its UTF-8 bytes (a one-byte string of ASCII, a Buffer) and its UTF-16LE bytes (a two-byte string). */
export const textForms = (text: string): [Buffer, Buffer] => [Buffer.from(text, "utf8"), Buffer.from(text, "utf16le")];

/** argv: pid, then needles in hex. Prints the count of each over every readable mapping. */
const COUNTER = `
import re, sys
pid = sys.argv[1]
needles = [bytes.fromhex(h) for h in sys.argv[2:]]
counts = [0] * len(needles)
mem = open(f"/proc/{pid}/mem", "rb", 0)
for line in open(f"/proc/{pid}/maps").read().splitlines():
    m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\\S+)", line)
    start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
    if perms[0] != "r" or line.endswith("[vvar]") or line.endswith("[vvar_vclock]"):
        continue
    try:
        mem.seek(start)
        data = mem.read(end - start)
    except OSError:
        continue
    for i, needle in enumerate(needles):
        counts[i] += data.count(needle)
print(" ".join(map(str, counts)))
`;
