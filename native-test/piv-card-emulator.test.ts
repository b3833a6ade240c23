/**
 * The PIV card emulator the YubiKey tests rely on, spoken to in APDUs directly: if it drifted from
 * SP 800-73-4 (retry counter, blocking, PIN-always, response and command chaining, signatures), the tests
 * built on it would prove nothing.
 */
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { DIGEST_INFO_PREFIX } from "../src/encoding/signature-encoding.js";
import { findTlv, parseTlvs, tlv } from "./helpers/piv/ber-tlv.js";
import { certificateObject, PIV_AID, PIV_OBJECT, PivCard, type PivKey } from "./helpers/piv/piv-card.js";

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ec384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const keys = new Map<number, PivKey>([
  [0x9a, { algorithm: "P-256", ...ec, pinPolicy: "once", touchPolicy: "always", origin: "generated" }],
  [0x9c, { algorithm: "RSA-2048", ...rsa, pinPolicy: "always", touchPolicy: "never", origin: "generated" }],
  [0x9e, { algorithm: "P-384", ...ec384, pinPolicy: "never", touchPolicy: "never", origin: "imported" }],
]);
const bigObject = Buffer.alloc(700, 0x42);

let card: PivCard;
beforeEach(() => {
  card = new PivCard({
    atr: Buffer.from("3b00", "hex"),
    serial: 12345678,
    version: [5, 4, 3],
    pin: "123456",
    puk: "12345678",
    keys,
    objects: new Map([[PIV_OBJECT.CERT_9A, certificateObject(bigObject)]]),
  });
  expect(send("00a40400" + hex(PIV_AID, true)).sw).toBe(0x9000);
});

function hex(bytes: Buffer, withLength = false): string {
  return (withLength ? bytes.length.toString(16).padStart(2, "0") : "") + bytes.toString("hex");
}

function send(apdu: string): { data: Buffer; sw: number } {
  const out = card.transmit(Buffer.from(apdu, "hex"));
  return { data: out.subarray(0, -2), sw: out.readUInt16BE(out.length - 2) };
}

const pin = (value: string) => Buffer.concat([Buffer.from(value), Buffer.alloc(8 - value.length, 0xff)]);
const verifyPin = (value: string) => send("00200080" + hex(pin(value), true)).sw;

/** GENERAL AUTHENTICATE, chained in 255-byte parts the way ykpiv sends an RSA block, with GET RESPONSE after. */
function generalAuthenticate(algorithm: number, key: number, challenge: Buffer): { signature: Buffer | undefined; sw: number } {
  const data = tlv(0x7c, tlv(0x82), tlv(0x81, challenge));
  let out: { data: Buffer; sw: number } = { data: Buffer.alloc(0), sw: 0 };
  for (let offset = 0; offset < data.length; offset += 255) {
    const part = data.subarray(offset, offset + 255);
    const cla = offset + 255 < data.length ? "10" : "00";
    out = send(cla + "87" + algorithm.toString(16).padStart(2, "0") + key.toString(16) + hex(part, true) + "00");
  }
  let response = out.data;
  while ((out.sw & 0xff00) === 0x6100) {
    out = send("00c00000" + (out.sw & 0xff).toString(16).padStart(2, "0"));
    response = Buffer.concat([response, out.data]);
  }
  if (out.sw !== 0x9000) return { signature: undefined, sw: out.sw };
  return { signature: findTlv(parseTlvs(findTlv(parseTlvs(response), 0x7c)!), 0x82), sw: out.sw };
}

describe("the PIN", () => {
  it("counts down with 63 Cx on each wrong PIN, blocks at 0 with 69 83, and a right one no longer helps", () => {
    expect(send("00200080").sw).toBe(0x63c3);
    expect(verifyPin("000000")).toBe(0x63c2);
    expect(verifyPin("000000")).toBe(0x63c1);
    expect(verifyPin("000000")).toBe(0x63c0);
    expect(verifyPin("123456")).toBe(0x6983);
    expect(send("00200080").sw).toBe(0x6983);
    expect(card.pinRetries).toBe(0);
    expect(card.pinPresentations()).toEqual({ ok: 0, failed: 3 });
  });

  it("a right PIN resets the counter; the PUK unblocks a blocked PIN and sets a new one", () => {
    verifyPin("000000");
    expect(verifyPin("123456")).toBe(0x9000);
    expect(card.pinRetries).toBe(3);
    for (let i = 0; i < 3; i++) verifyPin("000000");
    expect(send("002c0080" + hex(Buffer.concat([pin("87654321"), pin("654321")]), true)).sw).toBe(0x63c2);
    expect(send("002c0080" + hex(Buffer.concat([pin("12345678"), pin("654321")]), true)).sw).toBe(0x9000);
    expect(verifyPin("654321")).toBe(0x9000);
  });

  it("selecting the application again forgets the verification", () => {
    expect(verifyPin("123456")).toBe(0x9000);
    expect(send("00200080").sw).toBe(0x9000);
    send("00a40400" + hex(PIV_AID, true));
    expect(send("00200080").sw).toBe(0x63c3);
  });
});

describe("signatures", () => {
  const message = Buffer.from("CreateSession request");

  it("ECDSA P-256 over the digest the host sends, only after VERIFY for a PIN-once key, counted as a touch", () => {
    const digest = createHash("sha256").update(message).digest();
    expect(generalAuthenticate(0x11, 0x9a, digest).sw).toBe(0x6982);
    verifyPin("123456");
    for (let i = 0; i < 2; i++) {
      const { signature } = generalAuthenticate(0x11, 0x9a, digest);
      expect(verify("sha256", message, ec.publicKey, signature!)).toBe(true);
    }
    expect(card.signatures(0x9a)).toBe(2);
    expect(card.events.filter((e) => e.kind === "sign").every((e) => e.kind === "sign" && e.touched)).toBe(true);
  });

  it("RSA-2048 over the padded block (command chaining and GET RESPONSE), a PIN-always key needing VERIFY before each", () => {
    const t = Buffer.concat([DIGEST_INFO_PREFIX.SHA256, createHash("sha256").update(message).digest()]);
    const block = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - t.length, 0xff), Buffer.from([0]), t]);
    verifyPin("123456");
    const first = generalAuthenticate(0x07, 0x9c, block);
    expect(verify("sha256", message, rsa.publicKey, first.signature!)).toBe(true);
    expect(generalAuthenticate(0x07, 0x9c, block).sw).toBe(0x6982);
    verifyPin("123456");
    expect(generalAuthenticate(0x07, 0x9c, block).sw).toBe(0x9000);
  });

  it("ECDSA P-384 without a PIN (PIN policy never) over a SHA-256 digest padded to the field size", () => {
    const digest = createHash("sha256").update(message).digest();
    const { signature } = generalAuthenticate(0x14, 0x9e, Buffer.concat([Buffer.alloc(16), digest]));
    expect(verify("sha256", message, ec384.publicKey, signature!)).toBe(true);
    expect(card.pinPresentations()).toEqual({ ok: 0, failed: 0 });
  });

  it("the algorithm must be the key's, and the challenge the key's size", () => {
    verifyPin("123456");
    expect(generalAuthenticate(0x14, 0x9a, Buffer.alloc(48)).sw).toBe(0x6a86);
    expect(generalAuthenticate(0x11, 0x9a, Buffer.alloc(20)).sw).toBe(0x6a80);
    expect(generalAuthenticate(0x11, 0x9d, Buffer.alloc(32)).sw).toBe(0x6a88);
  });
});

describe("data objects", () => {
  it("a certificate longer than one response comes in 256-byte pieces through GET RESPONSE", () => {
    let out = send("00cb3fff055c035fc10500");
    let data = out.data;
    expect(data).toHaveLength(256);
    while ((out.sw & 0xff00) === 0x6100) {
      out = send("00c00000" + (out.sw & 0xff).toString(16).padStart(2, "0"));
      data = Buffer.concat([data, out.data]);
    }
    expect(out.sw).toBe(0x9000);
    expect(findTlv(parseTlvs(findTlv(parseTlvs(data), 0x53)!), 0x70)).toEqual(bigObject);
  });

  it("an absent object is 6A 82; Yubico's version and serial answer", () => {
    expect(send("00cb3fff055c035fc10a00").sw).toBe(0x6a82);
    expect(send("00fd000003").data).toEqual(Buffer.from([5, 4, 3]));
    expect(send("00f8000004").data.readUInt32BE(0)).toBe(12345678);
  });
});
