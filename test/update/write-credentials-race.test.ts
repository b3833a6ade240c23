import { afterAll, describe, expect, it, vi } from "vitest";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";
import { makeTempDir } from "../helpers/pki.js";

/** Runs after each read of the credentials file, before update writes it back: an editor saving meanwhile. */
let afterRead: (path: string) => void = () => {};
vi.mock("../../src/update/credentials-target.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/update/credentials-target.js")>();
  return {
    ...real,
    readCredentialsTarget: async (path: string, shownAs?: string) => {
      const target = await real.readCredentialsTarget(path, shownAs);
      afterRead(shownAs ?? path);
      return target;
    },
  };
});
const { writeProfileCredentials } = await import("../../src/update/write-credentials.js");

const creds: Credentials = {
  accessKeyId: "R1",
  secretAccessKey: "secret-R1",
  sessionToken: "token-R1",
  expiration: new Date(Date.now() + 3600_000),
};

describe("update against an editor saving the credentials file while it writes", () => {
  const { dir, cleanup } = makeTempDir("raa-update-race-");
  afterAll(cleanup);

  it("keeps the user's edit made in place after update read the file (the rename would have dropped it)", async () => {
    // writeFileAtomic's own test passes `replaces` by hand: a mutant of writeProfileCredentials not passing the
    // identity it read survived, and renamed over the edit.
    const path = join(dir, "credentials");
    writeFileSync(path, "[a]\nk = v\n", { mode: 0o600 });
    const edited = "[a]\nk = v\n[mine]\nregion = x\n";
    afterRead = (read) => {
      afterRead = () => {};
      writeFileSync(read, edited, { flag: "r+" }); // same inode, as nano or `>>` write
    };
    // The edit's ctime must differ from the one read. A fixed 5 ms sleep did not ensure that where the kernel stamps
    // files with a coarse clock (one tick: up to 10 ms at HZ=100, before multigrain timestamps): wait until a file
    // written now gets a later ctime than this one.
    const probe = join(dir, "ctime-probe");
    const written = statSync(path).ctimeMs;
    for (let tries = 0; tries < 200; tries++) {
      writeFileSync(probe, "");
      if (statSync(probe).ctimeMs > written) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await expect(writeProfileCredentials(path, "gw", creds)).rejects.toMatchObject({
      code: "FILE_WRITE_FAILED",
      message: `${path} changed while it was being updated; it was left as it is`,
    });
    expect(readFileSync(path, "utf8")).toBe(edited);
  });

  it("does not overwrite a file another program created after update found none", async () => {
    const path = join(dir, "new-credentials");
    afterRead = (read) => {
      afterRead = () => {};
      writeFileSync(read, "theirs\n", { mode: 0o600 });
    };
    await expect(writeProfileCredentials(path, "gw", creds)).rejects.toMatchObject({ code: "FILE_WRITE_FAILED" });
    expect(readFileSync(path, "utf8")).toBe("theirs\n");
  });
});
