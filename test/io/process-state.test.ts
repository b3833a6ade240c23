import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { buildSync } from "esbuild";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/io/atomic-write.js";
import { withFileLock } from "../../src/io/file-lock.js";
import { openCheckedDirectory } from "../../src/io/trusted-path.js";
import { writeThenRename } from "../../src/io/write-new-file.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-umask-");
const uid = process.getuid!();
let runs = 0;
const mode = (path: string) => statSync(path).mode & 0o777;
afterAll(cleanup);

// Before: under umask 777 the directories made were d--------- (EACCES for the next one, as a user) and the files 000.
describe.each([0o777, 0o277, 0o000])("what src/io creates gets its documented mode under umask %o", (mask) => {
  let before: number;
  let base: string;
  beforeEach(() => {
    base = join(dir, `${mask.toString(8)}-${++runs}`);
    mkdirSync(base);
    chmodSync(base, 0o755); // explicitly: the test's own umask (077 in some shells) would make it 0700
    before = process.umask(mask);
  });
  afterEach(() => process.umask(before));

  it("the checked walk makes missing directories 0700 (the agent's socket directory), and leaves existing ones alone", () => {
    mkdirSync(join(base, "kept"), { mode: 0o711 });
    openCheckedDirectory(join(base, "kept", "new", "sock-dir"), { uid, createMode: 0o700 }).close();
    expect([mode(join(base, "kept", "new")), mode(join(base, "kept", "new", "sock-dir"))]).toEqual([0o700, 0o700]);
    expect(mode(join(base, "kept"))).toBe(0o711 & ~mask);
  });

  it("writeThenRename makes its file with the mode asked for (the code caches)", () => {
    writeThenRename(join(base, ".cache.tmp"), join(base, "cache"), 0o600, [Buffer.from("data")]);
    expect(mode(join(base, "cache"))).toBe(0o600);
  });

  it("writeFileAtomic makes missing directories 0700 and the file its mode (a new credentials file)", async () => {
    await writeFileAtomic(join(base, "new", "aws", "credentials"), "data", 0o600);
    expect([mode(join(base, "new")), mode(join(base, "new", "aws"))]).toEqual([0o700, 0o700]);
    expect(mode(join(base, "new", "aws", "credentials"))).toBe(0o600);
    expect(readFileSync(join(base, "new", "aws", "credentials"), "utf8")).toBe("data");
    expect(mode(base)).toBe(0o755);
  });

  it("the lock file (credentials.lock, serve's .serve.lock) is 0600, its holder readable by the next", async () => {
    const lock = join(base, "credentials.lock");
    const seen = await withFileLock(lock, async () => [mode(lock), readFileSync(lock, "utf8").split(" ")[0]]);
    expect(seen).toEqual([0o600, String(process.pid)]);
  });
});

describe("a relative path from a working directory that cannot be read (mode 0)", () => {
  it("says so, not 'cannot create directory .: EACCES'", () => {
    // Another user for root (who reads any directory); the entry is bundled so that plain node runs it.
    const cwd = join(dir, "cwd");
    mkdirSync(cwd);
    chmodSync(cwd, 0o700);
    if (uid === 0) chownSync(cwd, 65534, 65534);
    const entry = join(dir, "entry.ts");
    const atomic = join(import.meta.dirname, "../../src/io/atomic-write.ts");
    writeFileSync(entry, `import { makeDirectories, mkdirError, writeFileAtomic } from ${JSON.stringify(atomic)};
      const report = (e) => console.log(e.message, "|", e.hint);
      await writeFileAtomic("creds", "data").catch(report);
      await makeDirectories(".").then(() => { throw Object.assign(new Error(), { code: "EACCES" }) }).catch((e) => report(mkdirError(".", e)));`);
    buildSync({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: join(dir, "entry.mjs"), logLevel: "silent" });
    // Modes set, not left to the umask (077: nobody could not read the bundle); `cwd`'s restored whatever happens.
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "entry.mjs"), 0o644);
    const user = uid === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const script = `${user.join(" ")} sh -c 'cd ${cwd} && chmod 0 . && node ${join(dir, "entry.mjs")}'`;
    let out: string;
    try {
      out = execFileSync("sh", ["-c", script], { encoding: "utf8" });
    } finally {
      chmodSync(cwd, 0o700);
    }
    const hint = "give an absolute path, or run from a directory this user can read";
    expect(out.trim().split("\n")).toEqual([
      `cannot write creds: the working directory cannot be read | ${hint}`,
      `cannot create directory .: the working directory cannot be read | ${hint}`,
    ]);
  });
});
