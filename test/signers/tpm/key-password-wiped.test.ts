/**
 * openTpmSigner reads the key's password, then the parent's: one that cannot be read (a missing file) must not leave
 * the key's password it already holds unwiped. Observed on a prompt's held answer, whose copy readSecret hands out.
 */
import { join } from "node:path";
import { afterAll, afterEach, expect, it, vi } from "vitest";
import { heldAnswer } from "../../../src/secrets/secret-source.js";
import { Secret } from "../../../src/secrets/secret.js";
import { openTpmSigner } from "../../../src/signers/tpm/tpm-signer.js";
import { makeTempDir } from "../../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-tpm-password-wiped-");
afterAll(cleanup);
afterEach(() => vi.restoreAllMocks());

it("a parent password that cannot be read: the key password already read is wiped", async () => {
  const copies: Secret[] = [];
  const clone = Secret.prototype.clone;
  vi.spyOn(Secret.prototype, "clone").mockImplementation(function (this: Secret) {
    const copy = clone.call(this);
    copies.push(copy);
    return copy;
  });
  const error = await openTpmSigner({
    key: { kind: "handle", handle: 0x81000101 },
    keyPassword: heldAnswer(Secret.fromUtf8("key-password")),
    parentPassword: { kind: "file", path: join(dir, "no-such-parent-password") },
  }).catch((e: unknown) => e);
  expect(error).toMatchObject({ category: "input" });
  expect(copies).toHaveLength(1);
  expect(() => copies[0]!.use(() => 0)).toThrow(/wiped/);
});
