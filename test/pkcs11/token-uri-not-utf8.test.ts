/**
 * A token's text fields as pkcs11js reads them: bytes that are not UTF-8 come back as U+FFFD, and a URI naming that
 * text names no token (p11tool and the agent match the token's own bytes). Round 38 (H4) left `token=` out for such a
 * label; round 39: `manufacturer=`, `model=` and `serial=` too (S35 found them still in), the other fields still
 * selecting the token.
 */
import { describe, expect, it } from "vitest";
import { describeToken, slotMatches, tokenUri, type TokenSlot } from "../../src/pkcs11/slots.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../../src/pkcs11/uri.js";

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

/** A label read by raa_native's pkcs11TokenInfo: its bytes, when they are not UTF-8, with pkcs11js's text beside them. */
const latin1 = (byte: number, fields: Partial<NonNullable<TokenSlot["token"]["bytes"]>> = {}): TokenSlot => {
  const base = slot({ label: "caf\ufffd" });
  const text = base.token;
  const bytes = { label: Buffer.from([0x63, 0x61, 0x66, byte]), manufacturer: Buffer.from(text.manufacturer), model: Buffer.from(text.model), serial: Buffer.from(text.serial), ...fields };
  return { ...base, token: { ...text, bytes } };
};
const LIBRARY = { manufacturer: "SoftHSM", description: "d", version: { major: 2, minor: 6 } };

describe("a token field read as bytes (round 41, L1)", () => {
  it("the URI names the label by its bytes (token=caf%E9), which selects that token and not caf\\xff", () => {
    const [e9, ff] = [latin1(0xe9), latin1(0xff)];
    const printed = formatPkcs11Uri(tokenUri(e9));
    expect(printed).toBe("pkcs11:manufacturer=Maker%20Inc;model=HSM%202;serial=0a1b;token=caf%E9");
    const parsed = parsePkcs11Uri(printed);
    expect([slotMatches(parsed, e9, LIBRARY), slotMatches(parsed, ff, LIBRARY)]).toEqual([true, false]);
    expect(slotMatches(parsePkcs11Uri("pkcs11:token=caf%FF"), ff, LIBRARY)).toBe(true);
  });

  it("the text pkcs11js gave (caf\\ufffd) no longer selects a token whose bytes are known; without them, as before", () => {
    const text = parsePkcs11Uri("pkcs11:token=caf%EF%BF%BD");
    expect(slotMatches(text, latin1(0xe9), LIBRARY)).toBe(false);
    expect(slotMatches(text, slot({ label: "caf\ufffd" }), LIBRARY)).toBe(true);
    expect(slotMatches(parsePkcs11Uri("pkcs11:token=caf%E9"), slot({ label: "caf\ufffd" }), LIBRARY)).toBe(false);
    expect(slotMatches(parsePkcs11Uri("pkcs11:token=device"), slot({}), LIBRARY)).toBe(true);
  });

  it("describeToken shows a byte that is not UTF-8 as \\xe9, a typed backslash doubled, the rest escaped as escapeQuoted does", () => {
    expect(describeToken(latin1(0xe9).token)).toBe('token "caf\\xe9" (serial 0a1b)');
    expect(describeToken(latin1(0xe9, { label: Buffer.concat([Buffer.from('a\\"\u00ad', "utf8"), Buffer.from([0xe9])]) }).token)).toBe('token "a\\\\\\"\\u00ad\\xe9" (serial 0a1b)');
    expect(describeToken(latin1(0xe9, { label: Buffer.concat([Buffer.from("\u00e9\\xe9", "utf8"), Buffer.from([0xe9, 0xc3])]) }).token)).toBe('token "\u00e9\\\\xe9\\xe9\\xc3" (serial 0a1b)');
    expect(describeToken(slot({ label: "caf\\xe9" }).token)).toBe('token "caf\\\\xe9" (serial 0a1b)');
  });
});
