/** keygen's TPM key file, csr's request and install-certificate's certificate: --force replaces a regular file only. */
import { execFileSync } from "node:child_process";
import {
  chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync,
  statSync, symlinkSync, writeFileSync,
} from "node:fs";
import { buildSync } from "esbuild";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { checkOutputFile, writeOutputFile } from "../../src/provisioning/output-file.js";

// planted.key: another user's symbolic link (to planted-target) put there right after the check found nothing.
vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const lstat = (async (path: string, ...rest: unknown[]) => {
    try {
      return await (fs.lstat as (...a: unknown[]) => ReturnType<typeof fs.lstat>)(path, ...rest);
    } finally {
      if (String(path).endsWith("/planted.key") && !existsSync(path)) {
        symlinkSync(join(path, "../../planted-target"), path);
        lchownSync(path, 65534, 65534);
      }
    }
  }) as typeof fs.lstat;
  // planted-file.key: another user's regular file put there right after the stat that found nothing.
  const stat = (async (path: string, ...rest: unknown[]) => {
    try {
      return await (fs.stat as (...a: unknown[]) => ReturnType<typeof fs.stat>)(path, ...rest);
    } finally {
      if (String(path).endsWith("/planted-file.key") && !existsSync(path)) {
        writeFileSync(path, "theirs", { mode: 0o666 });
        chownSync(path, 65534, 65534);
      }
    }
  }) as typeof fs.stat;
  return { ...fs, lstat, stat };
});

const dir = mkdtempSync(join(tmpdir(), "raa-output-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const options = { what: "TPM key file", overwrite: true, mode: 0o600 };

describe("writeOutputFile with overwrite", () => {
  it("replaces a regular file's contents (a longer old file leaves nothing behind)", async () => {
    const path = join(dir, "key.tss2");
    writeFileSync(path, "x".repeat(100));
    await writeOutputFile(path, "new", options);
    expect(readFileSync(path, "utf8")).toBe("new");
    await writeOutputFile(join(dir, "fresh.tss2"), "k", options);
    expect(statSync(join(dir, "fresh.tss2")).mode & 0o777).toBe(0o600);
  });

  it("a replaced file gets the private mode too: --force over a world-readable file does not leave the key readable", async () => {
    const path = join(dir, "old.tss2");
    writeFileSync(path, "old", { mode: 0o644 });
    await writeOutputFile(path, "key", options);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it("a FIFO without a reader is refused at once, not written into forever", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    await expect(writeOutputFile(fifo, "key", options)).rejects.toMatchObject({
      code: "FILE_NOT_REGULAR",
      message: `TPM key file ${fifo} is a FIFO, not a regular file; it was left as it is`,
    });
  }, 5000);

  it("a character device is refused, not handed the key while success is reported", async () => {
    await expect(writeOutputFile("/dev/null", "key", options)).rejects.toMatchObject({
      code: "FILE_NOT_REGULAR",
      message: "TPM key file /dev/null is a character device, not a regular file; it was left as it is",
    });
  });

  it("a directory is named as one", async () => {
    mkdirSync(join(dir, "d"));
    await expect(writeOutputFile(join(dir, "d"), "key", options)).rejects.toMatchObject({ code: "FILE_NOT_REGULAR", message: expect.stringMatching(/is a directory, not a regular file/) });
  });

  it("without overwrite an existing regular file is OBJECT_EXISTS; anything else is named, not 'pass --force'", async () => {
    writeFileSync(join(dir, "taken"), "x");
    await expect(writeOutputFile(join(dir, "taken"), "key", { what: "x" })).rejects.toMatchObject({ code: "OBJECT_EXISTS" });
    await expect(writeOutputFile(join(dir, "fifo"), "key", { what: "x" })).rejects.toMatchObject({ code: "FILE_NOT_REGULAR" });
    await expect(writeOutputFile(dir, "key", { what: "x" })).rejects.toMatchObject({
      code: "FILE_NOT_REGULAR",
      message: `x ${dir} is a directory, not a regular file; it was left as it is`,
    });
  });
});

describe("writeOutputFile when the write fails (ulimit -f, a full disk)", () => {
  // Before: --force truncated the old file first, so EFBIG left half of the new one (a torn CSR or key file); and
  // --force to a path where nothing was left half a file there.
  it("leaves the replaced file whole and no new file half written", () => {
    const entry = join(dir, "entry.ts");
    const module = join(import.meta.dirname, "../../src/provisioning/output-file.ts");
    writeFileSync(entry, `import { writeOutputFile } from ${JSON.stringify(module)};
      const report = (e) => console.log(e.code, e.message);
      await writeOutputFile(process.argv[2], "n".repeat(4096), { what: "certificate request", overwrite: true }).catch(report);
      await writeOutputFile(process.argv[3], "n".repeat(4096), { what: "certificate request" }).catch(report);
      await writeOutputFile(process.argv[4], "n".repeat(4096), { what: "certificate request", overwrite: true }).catch(report);`);
    buildSync({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: join(dir, "entry.mjs"), logLevel: "silent" });
    const [old, fresh, forced] = [join(dir, "old.csr"), join(dir, "fresh.csr"), join(dir, "forced.csr")];
    writeFileSync(old, "old request\\n", { mode: 0o640 });
    // 1 block of 512 bytes: the 4 KiB write fails with EFBIG (Node ignores SIGXFSZ).
    const out = execFileSync("sh", ["-c", `ulimit -f 1; exec node ${join(dir, "entry.mjs")} ${old} ${fresh} ${forced}`], { encoding: "utf8" });
    expect(out).toMatch(/^FILE_WRITE_FAILED cannot write .*old\.csr: EFBIG\nFILE_WRITE_FAILED cannot write certificate request .*fresh\.csr: EFBIG\n.*forced\.csr: EFBIG\n$/);
    expect(readFileSync(old, "utf8")).toBe("old request\\n");
    expect(statSync(old).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).filter((name) => name.includes(".csr"))).toEqual(["old.csr"]);
  });

  it("a replaced file keeps its own mode, narrowed to the one asked for", async () => {
    const path = join(dir, "kept.csr");
    writeFileSync(path, "old");
    chmodSync(path, 0o640);
    await writeOutputFile(path, "new", { what: "certificate request", overwrite: true });
    expect([readFileSync(path, "utf8"), statSync(path).mode & 0o777]).toEqual(["new", 0o640]);
    await writeOutputFile(path, "key", options);
    expect([readFileSync(path, "utf8"), statSync(path).mode & 0o777]).toEqual(["key", 0o600]);
  });
});

describe("writeOutputFile --force in a directory another user can write (sticky, as /tmp)", () => {
  // Before: root's --force over a file another user had put there first gave them the new file (the key chowned
  // to them: "keeps its owner"), and a symbolic link of theirs was followed to replace a file of root's elsewhere.
  it("refuses a file or a symbolic link that belongs to another user, and leaves both alone", async () => {
    if (process.geteuid?.() !== 0) return; // another user's file needs root (chown)
    const sticky = join(dir, "sticky");
    mkdirSync(sticky, { mode: 0o1777 });
    chmodSync(sticky, 0o1777);
    const theirs = join(sticky, "agent.key");
    writeFileSync(theirs, "planted", { mode: 0o666 });
    chownSync(theirs, 65534, 65534);
    const ours = join(dir, "ours.conf");
    writeFileSync(ours, "ours");
    const link = join(sticky, "link.key");
    symlinkSync(ours, link);
    lchownSync(link, 65534, 65534);
    for (const path of [theirs, link]) {
      await expect(writeOutputFile(path, "private key", options)).rejects.toMatchObject({
        code: "FILE_UNSAFE",
        message: `TPM key file ${path} exists and belongs to uid 65534 (another user); it was left as it is`,
      });
      // And up front, before a key is made on the token or TPM for nothing.
      await expect(checkOutputFile("TPM key file", path, true)).rejects.toMatchObject({ code: "FILE_UNSAFE" });
    }
    expect([readFileSync(theirs, "utf8"), statSync(theirs).uid, readFileSync(ours, "utf8")]).toEqual(["planted", 65534, "ours"]);
  });
});

describe("writeOutputFile --force over another user's symbolic link planted after the check", () => {
  it("refuses it and creates nothing where it points (was: the file created there, as root)", async () => {
    if (process.geteuid?.() !== 0) return; // another user's link needs root (lchown)
    const sticky = join(dir, "sticky-race");
    mkdirSync(sticky, { mode: 0o1777 });
    chmodSync(sticky, 0o1777);
    const path = join(sticky, "planted.key");
    await expect(writeOutputFile(path, "private key", options)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `TPM key file ${path} was created by another program meanwhile; it was left as it is`,
      hint: "choose another path, in a directory only this user can write",
    });
    expect(readdirSync(dir)).not.toContain("planted-target");
    expect(lstatSync(path).uid).toBe(65534);
  });

  it("and their regular file put there between the two looks (stat, lstat) is refused, not written into", async () => {
    if (process.geteuid?.() !== 0) return; // another user's file needs root (chown)
    const path = join(dir, "sticky-race", "planted-file.key");
    await expect(writeOutputFile(path, "private key", options)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `TPM key file ${path} exists and belongs to uid 65534 (another user); it was left as it is`,
    });
    expect(readFileSync(path, "utf8")).toBe("theirs");
  });

  it("this user's own link that leads nowhere is still followed: the file is created where it points", async () => {
    const link = join(dir, "own-link.key");
    symlinkSync(join(dir, "own-target.key"), link);
    await writeOutputFile(link, "private key", options);
    expect([readFileSync(join(dir, "own-target.key"), "utf8"), lstatSync(link).isSymbolicLink()]).toEqual(["private key", true]);
  });
});

describe("writeOutputFile --force over another user's dangling symbolic link", () => {
  it("refuses it, up front too, and creates nothing where it points (was: the file created there, as root)", async () => {
    if (process.geteuid?.() !== 0) return; // another user's link needs root (lchown)
    // Their own directory, not sticky: fs.protected_symlinks does not stop root from following their link there.
    const theirs = join(dir, "their-dir");
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, 65534, 65534);
    const target = join(dir, "created-elsewhere");
    const link = join(theirs, "device.key");
    symlinkSync(target, link);
    lchownSync(link, 65534, 65534);
    const refused = { code: "FILE_UNSAFE", message: `TPM key file ${link} exists and belongs to uid 65534 (another user); it was left as it is` };
    await expect(checkOutputFile("TPM key file", link, true)).rejects.toMatchObject(refused);
    await expect(writeOutputFile(link, "private key", options)).rejects.toMatchObject(refused);
    expect(readdirSync(dir)).not.toContain("created-elsewhere");
    // Without --force the link is "already exists" (O_EXCL never follows it), as before.
    await expect(writeOutputFile(link, "private key", { what: "TPM key file", mode: 0o600 })).rejects.toMatchObject({ code: "OBJECT_EXISTS" });
    expect(readdirSync(dir)).not.toContain("created-elsewhere");
  });
});

describe("checkOutputFile: refuses up front what writeOutputFile would refuse, before a key is made", () => {
  it("a FIFO or directory is named (with or without --force); an existing file without it is OBJECT_EXISTS with the caller's option", async () => {
    const fifo = join(dir, "check-fifo");
    execFileSync("mkfifo", [fifo]);
    for (const overwrite of [true, false]) {
      for (const path of [fifo, dir]) {
        await expect(checkOutputFile("TPM key file", path, overwrite)).rejects.toMatchObject({
          code: "FILE_NOT_REGULAR",
          hint: "choose the path of a regular file, or one that does not exist yet",
        });
      }
    }
    const file = join(dir, "check-existing");
    writeFileSync(file, "old");
    await expect(checkOutputFile("TPM key file", file, false, "--overwrite")).rejects.toMatchObject({
      code: "OBJECT_EXISTS",
      message: `TPM key file ${file} already exists`,
      hint: "choose another path, or pass --overwrite to replace it",
    });
    await expect(checkOutputFile("TPM key file", file, true)).resolves.toBeUndefined();
    await expect(checkOutputFile("TPM key file", join(dir, "check-absent"), false)).resolves.toBeUndefined();
  });

  // A new gateway has no /etc/roles-anywhere: keygen made the key (RSA in a TPM: tens of seconds), then failed with ENOENT.
  it("a path in a directory that does not exist: refused before the key is made, naming the directory", async () => {
    const missing = join(dir, "no-such-dir", "etc");
    for (const overwrite of [true, false]) {
      await expect(checkOutputFile("TPM key file", join(missing, "device.tss2"), overwrite)).rejects.toMatchObject({
        code: "FILE_WRITE_FAILED",
        message: `cannot write TPM key file ${join(missing, "device.tss2")}: the directory ${missing} does not exist`,
        hint: `create it first: mkdir -p -m 700 ${missing}`,
      });
    }
  });

  it("another user's file says what to do; their FIFO is named as a FIFO; without --force their file is OBJECT_EXISTS", async () => {
    if (process.geteuid?.() !== 0) return; // another user's file needs root (chown)
    const theirs = join(dir, "their-file");
    writeFileSync(theirs, "x");
    chownSync(theirs, 65534, 65534);
    await expect(writeOutputFile(theirs, "key", options)).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      hint: "choose another path, in a directory only this user can write",
    });
    await expect(writeOutputFile(theirs, "key", { what: "TPM key file" })).rejects.toMatchObject({ code: "OBJECT_EXISTS" });
    const fifo = join(dir, "their-fifo");
    execFileSync("mkfifo", [fifo]);
    chownSync(fifo, 65534, 65534);
    await expect(writeOutputFile(fifo, "key", options)).rejects.toMatchObject({ code: "FILE_NOT_REGULAR" });
    expect(readFileSync(theirs, "utf8")).toBe("x");
  });
});
