/**
 * Round 40, M44: readCredentialsTarget's checks on the opened descriptor, which no unit test reached (Stryker: no
 * coverage): the name swapped between the type check (lstat/stat) and the open. What is read is what was checked.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { execFileSync } from "node:child_process";
import { rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { makeTempDir } from "../helpers/pki.js";

/** Runs after the type check of the path, before it is opened: another process swapping the name meanwhile. */
let afterCheck: (path: string) => Promise<void> = async () => {};
vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const checked = <T>(check: (path: string) => Promise<T>) => async (path: string) => {
    const result = await check(path);
    await afterCheck(path);
    return result;
  };
  return { ...real, default: real, lstat: checked(real.lstat as never), stat: checked(real.stat as never) };
});
const { readCredentialsTarget } = await import("../../src/update/credentials-target.js");

describe("readCredentialsTarget: the name swapped after its type was checked", () => {
  const { dir, cleanup } = makeTempDir("raa-update-swap-");
  afterAll(cleanup);
  afterEach(() => (afterCheck = async () => {}));
  const regular = (name: string) => {
    const path = join(dir, name);
    writeFileSync(path, "[gw]\n");
    return path;
  };

  it("a symbolic link swapped in after a checked walk is refused (O_NOFOLLOW: ELOOP), never followed", async () => {
    const path = regular("link");
    writeFileSync(join(dir, "secret"), "[other]\nk = v\n");
    afterCheck = async () => {
      rmSync(path);
      symlinkSync(join(dir, "secret"), path);
    };
    await expect(readCredentialsTarget(path, "/shown")).rejects.toMatchObject({
      code: "FILE_NOT_REGULAR",
      message: "/shown is not a regular file (it is a symbolic link); it was left as it is",
      hint: "point --credentials-file (or AWS_SHARED_CREDENTIALS_FILE) at a regular file, or at a path that does not exist yet",
    });
  });

  it("a FIFO swapped in is refused on the open descriptor (O_NONBLOCK: the read never blocks)", async () => {
    const path = regular("fifo");
    afterCheck = async () => {
      rmSync(path);
      execFileSync("mkfifo", [path]);
    };
    await expect(readCredentialsTarget(path)).rejects.toMatchObject({
      code: "FILE_NOT_REGULAR",
      message: `${path} is not a regular file (it is a FIFO); it was left as it is`,
    });
  });

  it("a socket swapped in is refused (its open fails with ENXIO)", async () => {
    const path = regular("socket");
    let server: Server | undefined;
    afterCheck = async () => {
      rmSync(path);
      server = createServer();
      await new Promise<void>((resolve) => server!.listen(path, resolve));
    };
    try {
      await expect(readCredentialsTarget(path)).rejects.toMatchObject({
        code: "FILE_NOT_REGULAR",
        message: `${path} is not a regular file (it is a socket or device); it was left as it is`,
      });
    } finally {
      await new Promise((resolve) => server?.close(resolve));
    }
  });

  it("a file removed after the check reads as absent (update then creates it)", async () => {
    const path = regular("gone");
    afterCheck = async () => rmSync(path);
    expect(await readCredentialsTarget(path)).toEqual({ bytes: Buffer.alloc(0), identity: "absent" });
  });
});
