import { afterAll, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, symlinkSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sourceFingerprint } from "../../src/credentials/source-registry.js";
import { makeTempDir } from "../helpers/pki.js";
import { standInSettings } from "../helpers/stand-in.js";

const { dir, cleanup } = makeTempDir("raa-fingerprint-");
afterAll(cleanup);

// Swaps `x` between a link to key.pem and one to the FIFO, 20,000 times; then writes `done` and, until killed,
// opens the FIFO for writing whenever a reader waits on it (so that a reader stuck in open() returns).
const SWAPPER = `
const fs = require("node:fs");
const d = process.argv[1];
for (let i = 0; i < 20000; i++) {
  fs.symlinkSync(i % 2 ? "fifo" : "key.pem", d + "/tmp");
  fs.renameSync(d + "/tmp", d + "/x");
}
fs.writeFileSync(d + "/done", "");
setInterval(() => {
  try {
    const fd = fs.openSync(d + "/fifo", fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(fd, "what the signer was to read");
    fs.closeSync(fd);
  } catch {}
}, 5);
`;

it("a name swapped between a file and a FIFO while a reload reads it: the FIFO is never opened to be read", async () => {
  // Before: statSync(path), then readFileSync(path) by name again: a FIFO put there in between was opened blocking
  // (the daemon's event loop waited for a writer) and its content taken; a file grown in between read whole.
  writeFileSync(join(dir, "key.pem"), "key\n");
  execFileSync("mkfifo", [join(dir, "fifo")]);
  const path = join(dir, "x");
  const settings = standInSettings(undefined, path);
  symlinkSync("key.pem", path);
  const asFile = sourceFingerprint(settings);
  symlinkSync("fifo", join(dir, "tmp"));
  renameSync(join(dir, "tmp"), path);
  const asFifo = sourceFingerprint(settings);
  expect(asFifo).not.toBe(asFile);

  const swapper = spawn(process.execPath, ["-e", SWAPPER, dir], { stdio: "ignore" });
  const exited = new Promise((resolve) => swapper.once("exit", resolve));
  const seen = new Set<string>();
  let reads = 0;
  try {
    while (!existsSync(join(dir, "done"))) {
      seen.add(sourceFingerprint(settings));
      reads++;
    }
  } finally {
    swapper.kill();
    await exited;
  }
  expect(reads).toBeGreaterThan(0);
  expect([...seen].filter((f) => f !== asFile && f !== asFifo)).toEqual([]);
});

it("an empty file copied over with the same (no) bytes is the same; one that reports no size but holds bytes is not read", () => {
  // An empty PIN file (an empty PIN) rewritten by configuration management at each run must not rebuild the source.
  const pin = join(dir, "empty.pin");
  writeFileSync(pin, "");
  const settings = (path: string) => {
    const base = standInSettings(undefined, join(dir, "key.pem"));
    return { ...base, signer: { ...base.signer, keyPassword: { kind: "file" as const, path } } };
  };
  const before = sourceFingerprint(settings(pin));
  writeFileSync(`${pin}.new`, "");
  renameSync(`${pin}.new`, pin);
  expect(sourceFingerprint(settings(pin))).toBe(before);
  // /proc/self/pagemap reports no size and would read on for gigabytes: its identity stands for it.
  expect(sourceFingerprint(settings("/proc/self/pagemap"))).toMatch(/ [0-9a-f]{64}$/);
});
