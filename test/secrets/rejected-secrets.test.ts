/** The keyed digests rejected PINs and passwords are remembered by (rejected-secrets.ts). */
import { describe, expect, it } from "vitest";
import { forgetRejectedSecrets, rememberRejected, secretDigest, wasRejected } from "../../src/secrets/rejected-secrets.js";
import { Secret } from "../../src/secrets/secret.js";

describe("secretDigest", () => {
  it("keeps what a secret is presented to apart part by part: ('ab','c') is not ('a','bc')", () => {
    // Without the separator, a password rejected for one key or role was taken as rejected for another whose parts
    // join to the same text (and never presented there).
    const pin = Secret.fromUtf8("1234");
    expect(secretDigest(["unix:/tpm", "parent", "0x81000001"], pin)).not.toBe(secretDigest(["unix:/tpmparent", "", "0x81000001"], pin));
    expect(secretDigest(["ab", "c"], pin)).not.toBe(secretDigest(["a", "bc"], pin));
    expect(secretDigest(["ab", "c"], pin)).toBe(secretDigest(["ab", "c"], Secret.fromUtf8("1234")));
  });

  it("remembers why: rejected by default, or unanswered", () => {
    forgetRejectedSecrets();
    const [a, b] = [secretDigest(["a"], Secret.fromUtf8("x")), secretDigest(["b"], Secret.fromUtf8("x"))];
    rememberRejected(a);
    rememberRejected(b, "unanswered");
    expect([wasRejected(a), wasRejected(b)]).toEqual(["rejected", "unanswered"]);
    forgetRejectedSecrets();
    expect(wasRejected(a)).toBeUndefined();
  });
});
