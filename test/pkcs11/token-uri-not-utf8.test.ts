/**
 * A token's text fields as pkcs11js reads them: bytes that are not UTF-8 come back as U+FFFD, and a URI naming that
 * text names no token (p11tool and the agent match the token's own bytes). Round 38 (H4) left `token=` out for such a
 * label; round 39: `manufacturer=`, `model=` and `serial=` too (S35 found them still in), the other fields still
 * selecting the token.
 */
import { describe, expect, it } from "vitest";
import { tokenUri, type TokenSlot } from "../../src/pkcs11/slots.js";
import { formatPkcs11Uri } from "../../src/pkcs11/uri.js";

const slot = (token: Partial<TokenSlot["token"]>): TokenSlot => ({
  handle: Buffer.alloc(8),
  slotId: 1n,
  slotDescription: "slot",
  slotManufacturer: "maker",
  token: { label: "device", manufacturer: "Maker Inc", model: "HSM 2", serial: "0a1b", ...token },
  flags: 0,
});

describe("tokenUri with a field that is not UTF-8", () => {
  it("names the token by each field read whole", () => {
    expect(formatPkcs11Uri(tokenUri(slot({})))).toBe("pkcs11:manufacturer=Maker%20Inc;model=HSM%202;serial=0a1b;token=device");
  });

  it.each([
    ["label", "token"],
    ["manufacturer", "manufacturer"],
    ["model", "model"],
    ["serial", "serial"],
  ] as const)("a %s holding U+FFFD is left out of the URI, the other fields kept", (field, attribute) => {
    const uri = tokenUri(slot({ [field]: "caf\ufffd" }));
    expect(uri).not.toHaveProperty(attribute);
    expect(formatPkcs11Uri(uri)).not.toContain("%EF%BF%BD");
    expect(Object.keys(uri)).toHaveLength(3);
  });
});
