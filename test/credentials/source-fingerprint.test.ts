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
