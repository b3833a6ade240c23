/**
 * othersCouldPlant on real files (round 36 mutation, M41): the path at fault when one cannot be read, the walk's two
 * ends (`top`, or / when `top` is not above the path). The owner's fix is in test/os/own-package.test.ts; an unmapped
 * owner's (user namespaces) in test/user-namespace.test.ts.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { othersCouldPlant } from "../../src/os/planted-code.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-planted-code-");
afterAll(cleanup);

describe("othersCouldPlant", () => {
  it("a path that cannot be read is the path at fault, with its errno and a fix that only looks", () => {
    const missing = join(dir, "gone", "native.node");
    expect(othersCouldPlant(missing, dir, process.getuid?.() ?? 0)).toEqual({
      path: missing, why: "not readable here (ENOENT)", fix: `ls -ld ${missing}`,
    });
  });

  it.runIf(process.getuid?.() === 0)("judges up to `top` and no higher: a fault above it is not the code's", () => {
    const above = join(dir, "above");
    mkdirSync(join(above, "top"), { recursive: true });
    writeFileSync(join(above, "top", "f.js"), "");
    chmodSync(above, 0o777); // others could rename `top` away: not this rule's to judge (the loading code lives there too)
    chownSync(above, 4242, 4242);
    expect(othersCouldPlant(join(above, "top", "f.js"), join(above, "top"), 0)).toBeUndefined();
    expect(othersCouldPlant(join(above, "top", "f.js"), above, 0)).toMatchObject({ path: above });
  });

  it.runIf(process.getuid?.() === 0)("a `top` not above the path: the walk ends at /, judging every directory on the way", () => {
    const file = join(dir, "lone.js");
    writeFileSync(file, "");
    expect(othersCouldPlant(file, "/nonexistent-top", 0)).toBeUndefined(); // the test's tmpdir and its parents are root's
    chownSync(dir, 4242, 4242);
    try {
      expect(othersCouldPlant(file, "/nonexistent-top", 0)).toMatchObject({ path: dir, why: "owned by uid 4242, neither root nor this code's owner" });
    } finally {
      chownSync(dir, 0, 0);
    }
  });
});
