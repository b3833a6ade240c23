import { afterAll, describe, expect, it } from "vitest";
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeProfileCredentials } from "../../src/update/write-credentials.js";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";
import { makeTempDir } from "../helpers/pki.js";

const creds = (id: string): Credentials => ({
  accessKeyId: id,
  secretAccessKey: `secret-${id}`,
  sessionToken: `token-${id}`,
  expiration: new Date(Date.now() + 3600_000),
});

// Mutation survivors of write-credentials.ts (round 32), in a file of their own while another helper owns that module.
describe("credentials file writing: mutation survivors", () => {
  const { dir, cleanup } = makeTempDir("raa-update-mut-");
  afterAll(cleanup);
  const root = process.geteuid?.() === 0;

  it.skipIf(!root)("without a uid (no checked walk), another user's file in a directory anyone can write is still refused", async () => {
    // The directory's mode then comes from stat(), not the walk's handle (`??` → `&&` left it undefined: a TypeError).
    const shared = join(dir, "anyone");
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const planted = join(shared, "credentials");
    writeFileSync(planted, "", { mode: 0o644 });
    chownSync(planted, 65534, 65534);
    const geteuid = process.geteuid;
    process.geteuid = undefined;
    try {
      await expect(writeProfileCredentials(planted, "gw", creds("N1"))).rejects.toMatchObject({
        code: "FILE_UNSAFE",
        message: `not writing ${planted}: it belongs to uid 65534 and its directory ${shared} can be written by anyone`,
      });
    } finally {
      process.geteuid = geteuid;
    }
    expect([readFileSync(planted, "utf8"), statSync(planted).uid]).toEqual(["", 65534]);
  });
});
