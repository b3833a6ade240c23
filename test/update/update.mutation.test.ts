/**
 * Round 40, M44: Stryker survivors of src/update/ (credentials-target.ts, write-credentials.ts, file-updater.ts), each
 * pinned by what a user would see: the refusal's exact text, the bytes read, which credentials end up written.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { chmodSync, chownSync, lchownSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readCredentialsTarget } from "../../src/update/credentials-target.js";
import { sharedCredentialsPath, writeProfileCredentials } from "../../src/update/write-credentials.js";
import { credentialsFileUpdater } from "../../src/update/file-updater.js";
import { MAX_INPUT_BYTES } from "../../src/io/read-opened-file.js";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";
import { makeTempDir } from "../helpers/pki.js";

const creds = (id: string): Credentials => ({
  accessKeyId: id,
  secretAccessKey: `secret-${id}`,
  sessionToken: `token-${id}`,
  expiration: new Date(Date.now() + 3600_000),
});
const root = process.geteuid?.() === 0;
const { dir, cleanup } = makeTempDir("raa-update-walk-");
afterAll(cleanup);

describe("readCredentialsTarget", () => {
  it("after a checked walk (shownAs), refuses a symbolic link at the name instead of reading the file it points at", async () => {
    // Survivor: `noFollow` false (stat, no O_NOFOLLOW) read the link's target: a link planted after the walk was followed.
    const target = join(dir, "elsewhere");
    writeFileSync(target, "[other]\nk = secret\n");
    const link = join(dir, "swapped");
    symlinkSync(target, link);
    await expect(readCredentialsTarget(link, "/shown/credentials")).rejects.toMatchObject({
      code: "FILE_NOT_REGULAR",
      message: "/shown/credentials is not a regular file (it is a symbolic link); it was left as it is",
    });
    expect((await readCredentialsTarget(link)).bytes.toString()).toBe("[other]\nk = secret\n"); // without a walk: followed
  });

  it("a path it cannot look up is an error naming the path and errno, not a file that does not exist (which would be written)", async () => {
    // Survivor: every stat error read as ENOENT (absent), and update went on to write there.
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    await expect(readCredentialsTarget(join(file, "credentials"))).rejects.toMatchObject({
      code: "FILE_UNREADABLE",
      message: `cannot read ${join(file, "credentials")}: ENOTDIR`,
    });
    expect(await readCredentialsTarget(join(dir, "missing"))).toEqual({ bytes: Buffer.alloc(0), identity: "absent" });
  });

  it("reads a file of exactly 16 MiB; one byte more is refused, with the hint", async () => {
    const big = join(dir, "big");
    writeFileSync(big, "");
    truncateSync(big, MAX_INPUT_BYTES); // sparse
    expect((await readCredentialsTarget(big)).bytes.length).toBe(MAX_INPUT_BYTES);
    truncateSync(big, MAX_INPUT_BYTES + 1);
    await expect(readCredentialsTarget(big)).rejects.toMatchObject({
      code: "FILE_UNREADABLE",
      message: `${big} is 16.0 MiB, too large for a credentials file (16 MiB at most); it was left as it is`,
      hint: "point --credentials-file (or AWS_SHARED_CREDENTIALS_FILE) at the right file, or shrink this one",
    });
  }, 30_000);
});

describe.skipIf(!root)("root writing another user's file: the directories above it", () => {
  it("refuses her file two directories of hers below one anyone can write (/tmp/x/y/credentials)", async () => {
    // Survivor: `if (by)` → true stopped the walk up at the first directory above (hers, not writable by others), so
    // root wrote session credentials into a file whose whole tree the user controls from /tmp.
    const shared = join(dir, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777); // not through mkdir's mode, which the umask narrows
    const x = join(shared, "x");
    const y = join(x, "y");
    mkdirSync(y, { recursive: true, mode: 0o755 });
    const file = join(y, "credentials");
    writeFileSync(file, "[other]\nk = v\n", { mode: 0o600 });
    for (const p of [x, y, file]) chownSync(p, 65534, 65534);
    await expect(writeProfileCredentials(file, "gw", creds("T1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${file}: it belongs to uid 65534 and its directory ${y} is in ${shared}, which anyone can write`,
      hint: "remove it, or point --credentials-file at a file in a directory only its owner can write",
    });
    expect(readFileSync(file, "utf8")).toBe("[other]\nk = v\n");
  });

  it("writes her file (hers it stays) where no directory above, up to /, is writable by others", async () => {
    // Survivor: the walk up not stopping at "/" (`sub !== "/"` → true, or "/" → "") never ended. Outside /tmp, which
    // anyone can write: beside the checkout (every directory up to / is root's, 0755).
    const home = mkdtempSync(join(process.cwd(), ".raa-update-walk-"));
    try {
      const hers = join(home, "hers");
      mkdirSync(hers, { mode: 0o755 });
      const file = join(hers, "credentials");
      writeFileSync(file, "", { mode: 0o600 });
      for (const p of [hers, file]) chownSync(p, 65534, 65534);
      await writeProfileCredentials(file, "gw", creds("T2"));
      expect(readFileSync(file, "utf8")).toBe("[gw]\naws_access_key_id = T2\naws_secret_access_key = secret-T2\naws_session_token = token-T2\n");
      expect(statSync(file).uid).toBe(65534);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("the refusals' hints (each the one line that says what to do; none was compared)", () => {
  it("a path that is not UTF-8, and no HOME to default to, say which setting to change", () => {
    const thrown = (run: () => unknown) => { try { run(); } catch (error) { return error; } return undefined; };
    expect(thrown(() => sharedCredentialsPath({}, "/home/u", "/srv/cr\uFFFDd"))).toMatchObject({
      hint: "Node.js would write a file of another name, which the AWS SDKs do not read: use a path in UTF-8",
    });
    expect(thrown(() => sharedCredentialsPath({}, "rel"))).toMatchObject({
      message: "no default credentials file: HOME ('rel') is not an absolute path",
      hint: "pass --credentials-file, or set HOME or AWS_SHARED_CREDENTIALS_FILE",
    });
  });

  it("a file with other names (hard links) says how to keep them", async () => {
    const file = join(dir, "linked");
    writeFileSync(file, "", { mode: 0o600 });
    linkSync(file, join(dir, "linked-2"));
    await expect(writeProfileCredentials(file, "gw", creds("H1"))).rejects.toMatchObject({
      message: `not writing ${file}: it has 2 names (hard links), and the others would keep the old credentials`,
      hint: "remove the other names (find / -samefile FILE) and give them a symbolic link to it instead",
    });
  });

  it.skipIf(!root)("another user's symbolic link on the way says who can run update instead", async () => {
    const target = join(dir, "their-target");
    writeFileSync(target, "");
    const link = join(dir, "their-link");
    symlinkSync(target, link);
    lchownSync(link, 65534, 65534);
    await expect(writeProfileCredentials(link, "gw", creds("L1"))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `not writing ${link}: symbolic link ${link} belongs to uid 65534, not to this user (0) or root`,
      hint: "point --credentials-file at the file itself, or have its owner run update",
    });
  });
});

describe("credentialsFileUpdater", () => {
  afterEach(() => vi.useRealTimers());

  it("a failed write whose credentials were superseded meanwhile is not retried: the older set never overwrites the newer", async () => {
    // Survivor: `!pending && usable()` → `usable()` set the retry timer for the failed (older) set even though a newer
    // one was waiting; the newer was written, then the timer wrote the older set over it.
    vi.useFakeTimers();
    const writes: string[] = [];
    let release!: () => void;
    const write = async (_path: string, _profile: string, c: Credentials) => {
      writes.push(c.accessKeyId);
      if (c.accessKeyId === "OLD") {
        await new Promise<void>((resolve) => (release = resolve));
        throw new Error("disk full");
      }
    };
    const updater = credentialsFileUpdater({ path: "/p", profile: "gw", log: () => {}, retryMs: 1000, write });
    updater.offer(creds("OLD"));
    await vi.waitFor(() => expect(release).toBeDefined());
    updater.offer(creds("NEW")); // arrives while OLD is being written
    release();
    await updater.idle();
    await vi.advanceTimersByTimeAsync(5000);
    await updater.idle();
    expect(writes).toEqual(["OLD", "NEW"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stop() ends the updater: no write after it, and no retry timer left to hold the process", async () => {
    // Survivors: `stopped = true` → false (a set offered after stop was written) and the retry timer not cleared (it kept
    // a stopping daemon's event loop alive for retryMs, 30 s by default).
    vi.useFakeTimers();
    const writes: string[] = [];
    const write = async (_path: string, _profile: string, c: Credentials) => {
      writes.push(c.accessKeyId);
      if (c.accessKeyId === "FAIL") throw new Error("disk full");
    };
    const updater = credentialsFileUpdater({ path: "/p", profile: "gw", log: () => {}, retryMs: 1000, write });
    updater.offer(creds("FAIL"));
    await updater.idle();
    expect(vi.getTimerCount()).toBe(1); // the retry
    await updater.stop();
    expect(vi.getTimerCount()).toBe(0);
    updater.offer(creds("AFTER"));
    await updater.idle();
    await vi.advanceTimersByTimeAsync(5000);
    expect(writes).toEqual(["FAIL"]);
  });
});
