import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { writeProfileCredentials } from "../../src/update/write-credentials.js";
import { makeTempDir } from "../helpers/pki.js";

// An installation without the native helper (none shipped for this platform): no ACL can be read.
vi.mock("../../src/os/native-helper.js", () => ({ loadNativeHelper: () => ({ reason: "none here (test)" }) }));

describe("update without the native helper: whether the file has a POSIX ACL cannot be known", () => {
  const { dir, cleanup } = makeTempDir("raa-no-helper-");
  afterAll(cleanup);
  const creds = { accessKeyId: "N1", secretAccessKey: "s", sessionToken: "t", expiration: new Date(Date.now() + 3600_000) };
  const warnings = async (write: () => Promise<unknown>) => {
    const spy = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      await write();
      return spy.mock.calls.map(([message]) => String(message));
    } finally {
      spy.mockRestore();
    }
  };

  it("a file its group may read (the bits may be an ACL's mask) is written 0600, with one line, once per process", async () => {
    const file = join(dir, "shared");
    writeFileSync(file, "", { mode: 0o640 });
    chmodSync(file, 0o640);
    const why = "was readable by its group, and a POSIX ACL it may have cannot be kept (none here (test)) (mode 640); written 600";
    expect(await warnings(() => writeProfileCredentials(file, "gw", creds))).toEqual([`credentials file ${file} ${why}`]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toContain("aws_access_key_id = N1\n");
    chmodSync(file, 0o640);
    expect(await warnings(() => writeProfileCredentials(file, "gw", creds))).toEqual([]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("a 0600 file and a new one: 0600, without a word", async () => {
    const file = join(dir, "own");
    writeFileSync(file, "", { mode: 0o600 });
    expect(await warnings(() => writeProfileCredentials(file, "gw", creds))).toEqual([]);
    expect(await warnings(() => writeProfileCredentials(join(dir, "new"), "gw", creds))).toEqual([]);
    expect([statSync(file).mode & 0o777, statSync(join(dir, "new")).mode & 0o777]).toEqual([0o600, 0o600]);
  });
});
