/**
 * Round 40 (T4): the CLI's hint for a missing path holding U+FFFD, with real names made of bytes. The path's string
 * cannot tell a name that is not UTF-8 (Node decoded its bytes to U+FFFD) from one holding a real U+FFFD (EF BF BD);
 * the directory can. Before, every missing path holding U+FFFD was told to rename a name that is not UTF-8.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleCliInto } from "../helpers/bundle-cli.js";
import { makeTempDir } from "../helpers/pki.js";

const RENAME = "a name that is not UTF-8 shows \ufffd where its bytes are not, and this program cannot open it: rename it";

describe("read-certificate-data --certificate PATH, PATH missing as given and holding U+FFFD", () => {
  const tmp = makeTempDir("raa-not-utf8-cli-");
  let cli = "";
  beforeAll(async () => {
    cli = await bundleCliInto(join(tmp.dir, "bundle"));
  }, 60_000);
  afterAll(() => tmp.cleanup());

  /** The CLI run by sh, the path's bytes made by printf (Node's argv would take a string, UTF-8 only). */
  const run = (printfPath: string, cwd?: string) =>
    spawnSync("sh", ["-c", `exec "$0" "$1" read-certificate-data --certificate "$(printf "$2")"`, process.execPath, cli, printfPath], {
      encoding: "utf8",
      timeout: 30_000,
      cwd,
    });

  it("for a name of Latin-1 bytes that is there (k\\xff.pem): exit 3, and the hint says to rename it", () => {
    const dir = join(tmp.dir, "latin1");
    mkdirSync(dir);
    writeFileSync(Buffer.from(`${dir}/k\xff.pem`, "latin1"), "x");
    const r = run(`${dir}/k\\377.pem`);
    expect([r.status, r.stderr]).toEqual([3, expect.stringContaining(`${dir}/k\ufffd.pem does not exist`)]);
    expect(r.stderr).toContain(RENAME);
  }, 60_000);

  it("for a relative path, a name in the working directory (k\\xff.pem, run there): the hint says to rename it", () => {
    const dir = join(tmp.dir, "relative");
    mkdirSync(dir);
    writeFileSync(Buffer.from(`${dir}/k\xff.pem`, "latin1"), "x");
    const r = run("k\\377.pem", dir);
    expect([r.status, r.stderr]).toEqual([3, expect.stringContaining("certificate file k\ufffd.pem does not exist")]);
    expect(r.stderr).toContain(RENAME);
  }, 60_000);

  it("for a directory of Latin-1 bytes that is there (d\\xe9/k.pem): the hint says to rename it", () => {
    mkdirSync(Buffer.from(`${tmp.dir}/d\xe9`, "latin1"));
    writeFileSync(Buffer.from(`${tmp.dir}/d\xe9/k.pem`, "latin1"), "x");
    const r = run(`${tmp.dir}/d\\351/k.pem`);
    expect([r.status, r.stderr]).toEqual([3, expect.stringContaining(RENAME)]);
  }, 60_000);

  it("for a valid UTF-8 name holding a real U+FFFD (EF BF BD) that is missing: exit 3, check the path, no renaming", () => {
    const dir = join(tmp.dir, "utf8");
    mkdirSync(dir);
    writeFileSync(join(dir, "k.pem"), "x");
    const r = run(`${dir}/k\\357\\277\\275.pem`);
    expect([r.status, r.stderr]).toEqual([3, expect.stringContaining(`${dir}/k\ufffd.pem does not exist`)]);
    expect(r.stderr).toContain("check the path");
    expect(r.stderr).not.toContain("rename");
    // The same name, there: opened (its text is no certificate), so nothing says it does not exist.
    writeFileSync(join(dir, "k\ufffd.pem"), "x");
    expect(run(`${dir}/k\\357\\277\\275.pem`).stderr).not.toContain("does not exist");
  }, 60_000);

  it("for Latin-1 bytes that name nothing there either: check the path, no renaming", () => {
    const r = run(`${tmp.dir}/absent\\377.pem`);
    expect([r.status, r.stderr]).toEqual([3, expect.stringContaining("check the path")]);
    expect(r.stderr).not.toContain("rename");
  }, 60_000);
});
