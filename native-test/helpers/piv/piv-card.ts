/**
 * A PIV card application (NIST SP 800-73-4 Part 2) with the YubiKey extensions Yubico documents (version,
 * serial, metadata, attestation), answering APDUs with real keys held in memory. It keeps the state a real
 * card keeps — selection, PIN retry counter and blocking, PIN-always consumption, command chaining and
 * pending response data — and counts what tests judge by: PIN presentations and signatures (touches).
 */
import type { KeyObject } from "node:crypto";
import { findTlv, parseTlvs, tlv } from "./ber-tlv.js";
import { challengeBytes, ecdsaSignDigest, rsaRawPrivate, type PivAlgorithm } from "./card-signatures.js";
import { MalformedApdu, parseCommandApdu, response, status, SW, type CommandApdu } from "./command-apdu.js";

export const PIV_AID = Buffer.from("a000000308000010000100", "hex");
/** YubiKey's management application: selecting it leaves the PIV application (and its PIN state). */
const YUBIKEY_MGMT_AID = Buffer.from("a000000527471117", "hex");

/** SP 800-73-4 Part 1 Table 3 (and Yubico's attestation object 5FFF01). */
export const PIV_OBJECT = {
  CHUID: 0x5fc102,
  CCC: 0x5fc107,
  DISCOVERY: 0x7e,
  KEY_HISTORY: 0x5fc10c,
  PRINTED_INFO: 0x5fc109,
  CERT_9A: 0x5fc105,
  CERT_9C: 0x5fc10a,
  CERT_9D: 0x5fc10b,
  CERT_9E: 0x5fc101,
  YUBICO_ATTESTATION: 0x5fff01,
} as const;

/** The certificate object of each key reference (f9: Yubico's attestation key). */
export const CERTIFICATE_OBJECT: Readonly<Record<number, number>> = {
  0x9a: PIV_OBJECT.CERT_9A,
  0x9c: PIV_OBJECT.CERT_9C,
  0x9d: PIV_OBJECT.CERT_9D,
  0x9e: PIV_OBJECT.CERT_9E,
  0xf9: PIV_OBJECT.YUBICO_ATTESTATION,
};

/** SP 800-78-4 Table 6-2 algorithm identifiers. */
const ALGORITHM_ID: Readonly<Record<PivAlgorithm, number>> = { "RSA-2048": 0x07, "P-256": 0x11, "P-384": 0x14 };

export type PinPolicy = "never" | "once" | "always";
export type TouchPolicy = "never" | "always" | "cached";
/** Yubico's encodings (GET METADATA tag 02, attestation extension 1.3.6.1.4.1.41482.3.8). */
export const PIN_POLICY_BYTE: Readonly<Record<PinPolicy, number>> = { never: 1, once: 2, always: 3 };
export const TOUCH_POLICY_BYTE: Readonly<Record<TouchPolicy, number>> = { never: 1, always: 2, cached: 3 };

export interface PivKey {
  readonly algorithm: PivAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly pinPolicy: PinPolicy;
  readonly touchPolicy: TouchPolicy;
  readonly origin: "generated" | "imported";
}

export interface PivCardOptions {
  /** Answer to reset, as the reader reports it. */
  readonly atr: Buffer;
  readonly serial: number;
  /** Firmware version, e.g. [5, 4, 3]. */
  readonly version: readonly [number, number, number];
  readonly pin: string;
  readonly puk: string;
  readonly pinTries?: number;
  readonly pukTries?: number;
  /** Keys by reference (0x9a, 0x9c, 0x9d, 0x9e, 0xf9). */
  readonly keys: ReadonlyMap<number, PivKey>;
  /** Data objects by tag, each the content that goes inside tag 53. */
  readonly objects: ReadonlyMap<number, Buffer>;
  /** What ATTEST answers for a key reference: an X.509 certificate signed by the f9 key. */
  readonly attestations?: ReadonlyMap<number, Buffer>;
}

/** What happened on the card, in order. */
export type CardEvent =
  | { readonly kind: "verify"; readonly ok: boolean; readonly retriesLeft: number }
  | { readonly kind: "sign"; readonly key: number; readonly touched: boolean }
  | { readonly kind: "refused"; readonly ins: number; readonly sw: number };

const MAX_SHORT_RESPONSE = 256;

export class PivCard {
  readonly #options: PivCardOptions;
  readonly #pinTries: number;
  readonly #pukTries: number;
  #pin: Buffer;
  #pinRetries: number;
  #pukRetries: number;
  #pivSelected = false;
  #pinVerified = false;
  /** A VERIFY since the last signature: what a PIN-always key needs. */
  #pinFresh = false;
  /** Data of a chained command (CLA bit 0x10) waiting for its last part. */
  #chain: { ins: number; p1: number; p2: number; data: Buffer[] } | undefined;
  /** Response data not yet fetched with GET RESPONSE. */
  #pending: Buffer | undefined;
  readonly events: CardEvent[] = [];

  constructor(options: PivCardOptions) {
    this.#options = options;
    this.#pinTries = options.pinTries ?? 3;
    this.#pukTries = options.pukTries ?? 3;
    this.#pinRetries = this.#pinTries;
    this.#pukRetries = this.#pukTries;
    this.#pin = padded(options.pin);
  }

  get atr(): Buffer {
    return this.#options.atr;
  }

  get pinRetries(): number {
    return this.#pinRetries;
  }

  /** Signatures made with `key` (every one of them a touch when its touch policy is not "never"). */
  signatures(key?: number): number {
    return this.events.filter((e) => e.kind === "sign" && (key === undefined || e.key === key)).length;
  }

  pinPresentations(): { ok: number; failed: number } {
    const verifies = this.events.filter((e): e is Extract<CardEvent, { kind: "verify" }> => e.kind === "verify");
    return { ok: verifies.filter((e) => e.ok).length, failed: verifies.filter((e) => !e.ok).length };
  }

  /** Power on, warm reset and power off all end the session: nothing selected, nothing verified. */
  reset(): void {
    this.#pivSelected = false;
    this.#loseSecurityState();
    this.#chain = undefined;
    this.#pending = undefined;
  }

  /** One command APDU in, one response APDU (data and status word) out. */
  transmit(apdu: Buffer): Buffer {
    let command: CommandApdu;
    try {
      command = parseCommandApdu(apdu);
    } catch (error) {
      if (error instanceof MalformedApdu) return status(SW.WRONG_LENGTH);
      throw error;
    }
    const out = this.#process(command);
    if (out.length >= 2) {
      const sw = out.readUInt16BE(out.length - 2);
      if (sw !== SW.OK && (sw & 0xff00) !== 0x6100) this.events.push({ kind: "refused", ins: command.ins, sw });
    }
    return out;
  }

  #process(command: CommandApdu): Buffer {
    if ((command.cla & ~0x10) !== 0) return status(SW.CLA_NOT_SUPPORTED);
    if (command.ins === 0xc0) return this.#getResponse(command);
    this.#pending = undefined;
    if (command.cla & 0x10) {
      if (this.#chain && (this.#chain.ins !== command.ins || this.#chain.p1 !== command.p1 || this.#chain.p2 !== command.p2)) this.#chain = undefined;
      this.#chain ??= { ins: command.ins, p1: command.p1, p2: command.p2, data: [] };
      this.#chain.data.push(command.data);
      return status(SW.OK);
    }
    let whole = command;
    if (this.#chain) {
      const chain = this.#chain;
      this.#chain = undefined;
      if (chain.ins !== command.ins || chain.p1 !== command.p1 || chain.p2 !== command.p2) return status(SW.CONDITIONS_NOT_SATISFIED);
      whole = { ...command, data: Buffer.concat([...chain.data, command.data]) };
    }
    if (whole.ins === 0xa4) return this.#select(whole);
    if (!this.#pivSelected) return status(SW.INS_NOT_SUPPORTED);
    const [data, sw] = this.#dispatch(whole);
    return this.#respond(data, sw, whole);
  }

  #dispatch(c: CommandApdu): [Buffer, number] {
    switch (c.ins) {
      case 0xcb:
        return this.#getData(c);
      case 0x20:
        return this.#verify(c);
      case 0x2c:
        return this.#resetRetryCounter(c);
      case 0x87:
        return this.#generalAuthenticate(c);
      case 0xfd: // Yubico: GET VERSION
        return [Buffer.from(this.#options.version), SW.OK];
      case 0xf8: {
        // Yubico: GET SERIAL
        const serial = Buffer.alloc(4);
        serial.writeUInt32BE(this.#options.serial);
        return [serial, SW.OK];
      }
      case 0xf7:
        return this.#metadata(c);
      case 0xf9:
        return this.#attest(c);
      default:
        return [Buffer.alloc(0), SW.INS_NOT_SUPPORTED];
    }
  }

  /** Response data longer than the reader takes at once comes in pieces: 61 XX, then GET RESPONSE. */
  #respond(data: Buffer, sw: number, c: CommandApdu): Buffer {
    const limit = c.extended ? c.le || 65536 : Math.min(c.le || MAX_SHORT_RESPONSE, MAX_SHORT_RESPONSE);
    if (sw !== SW.OK || data.length <= limit) return response(data, sw);
    this.#pending = data.subarray(limit);
    return response(data.subarray(0, limit), 0x6100 | (Math.min(this.#pending.length, 256) & 0xff));
  }

  #getResponse(c: CommandApdu): Buffer {
    const pending = this.#pending;
    if (pending === undefined) return status(SW.CONDITIONS_NOT_SATISFIED);
    const size = Math.min(c.le || MAX_SHORT_RESPONSE, pending.length);
    const rest = pending.subarray(size);
    this.#pending = rest.length > 0 ? rest : undefined;
    return response(pending.subarray(0, size), rest.length > 0 ? 0x6100 | (Math.min(rest.length, 256) & 0xff) : SW.OK);
  }

  #select(c: CommandApdu): Buffer {
    if (c.p1 !== 0x04) {
      this.#leavePiv();
      return status(SW.NOT_FOUND);
    }
    // A right-truncated AID selects (SP 800-73-4 Part 2 §3.1.1); the PIX alone does not.
    if (c.data.length >= 5 && c.data.length <= PIV_AID.length && PIV_AID.subarray(0, c.data.length).equals(c.data)) {
      this.#pivSelected = true;
      this.#loseSecurityState();
      const template = tlv(0x61, tlv(0x4f, PIV_AID.subarray(5)), tlv(0x79, tlv(0x4f, PIV_AID.subarray(0, 5))));
      return this.#respond(c.p2 === 0x0c ? Buffer.alloc(0) : template, SW.OK, c);
    }
    // YubiKeys lose the PIV application's state when another application is selected (OpenSC knows this
    // as CI_OTHER_AID_LOSE_STATE); an application the card does not have fails.
    this.#leavePiv();
    return c.data.equals(YUBIKEY_MGMT_AID) ? status(SW.OK) : status(SW.NOT_FOUND);
  }

  #getData(c: CommandApdu): [Buffer, number] {
    if (c.p1 !== 0x3f || c.p2 !== 0xff) return [Buffer.alloc(0), SW.INCORRECT_P1P2];
    let tag: number;
    try {
      const wanted = findTlv(parseTlvs(c.data), 0x5c);
      if (wanted === undefined || wanted.length < 1 || wanted.length > 3) return [Buffer.alloc(0), SW.INCORRECT_DATA];
      tag = wanted.readUIntBE(0, wanted.length);
    } catch {
      return [Buffer.alloc(0), SW.INCORRECT_DATA];
    }
    const content = this.#options.objects.get(tag);
    if (content === undefined) return [Buffer.alloc(0), SW.NOT_FOUND];
    if (tag === PIV_OBJECT.PRINTED_INFO && !this.#pinVerified) return [Buffer.alloc(0), SW.SECURITY_STATUS_NOT_SATISFIED];
    // The discovery object is returned under its own tag; every other object inside tag 53.
    return [tag === PIV_OBJECT.DISCOVERY ? tlv(0x7e, content) : tlv(0x53, content), SW.OK];
  }

  #verify(c: CommandApdu): [Buffer, number] {
    if (c.p1 === 0xff && c.data.length === 0) {
      this.#loseSecurityState();
      return [Buffer.alloc(0), SW.OK];
    }
    if (c.p1 !== 0x00 || c.p2 !== 0x80) return [Buffer.alloc(0), SW.REFERENCE_NOT_FOUND];
    if (c.data.length === 0) {
      // The retry counter, without presenting anything (SP 800-73-4 Part 2 §3.2.1).
      if (this.#pinRetries === 0) return [Buffer.alloc(0), SW.AUTH_METHOD_BLOCKED];
      return [Buffer.alloc(0), this.#pinVerified ? SW.OK : 0x63c0 | this.#pinRetries];
    }
    if (c.data.length !== 8) return [Buffer.alloc(0), SW.INCORRECT_DATA];
    if (this.#pinRetries === 0) return [Buffer.alloc(0), SW.AUTH_METHOD_BLOCKED];
    if (c.data.equals(this.#pin)) {
      this.#pinRetries = this.#pinTries;
      this.#pinVerified = true;
      this.#pinFresh = true;
      this.events.push({ kind: "verify", ok: true, retriesLeft: this.#pinRetries });
      return [Buffer.alloc(0), SW.OK];
    }
    this.#pinRetries--;
    this.#loseSecurityState();
    this.events.push({ kind: "verify", ok: false, retriesLeft: this.#pinRetries });
    return [Buffer.alloc(0), 0x63c0 | this.#pinRetries];
  }

  /** RESET RETRY COUNTER (SP 800-73-4 Part 2 §3.2.3): the PUK unblocks the PIN and sets a new one. */
  #resetRetryCounter(c: CommandApdu): [Buffer, number] {
    if (c.p1 !== 0x00 || c.p2 !== 0x80) return [Buffer.alloc(0), SW.REFERENCE_NOT_FOUND];
    if (c.data.length !== 16) return [Buffer.alloc(0), SW.INCORRECT_DATA];
    if (this.#pukRetries === 0) return [Buffer.alloc(0), SW.AUTH_METHOD_BLOCKED];
    if (!c.data.subarray(0, 8).equals(padded(this.#options.puk))) {
      this.#pukRetries--;
      return [Buffer.alloc(0), 0x63c0 | this.#pukRetries];
    }
    this.#pukRetries = this.#pukTries;
    this.#pin = Buffer.from(c.data.subarray(8));
    this.#pinRetries = this.#pinTries;
    this.#loseSecurityState();
    return [Buffer.alloc(0), SW.OK];
  }

  #generalAuthenticate(c: CommandApdu): [Buffer, number] {
    const key = this.#options.keys.get(c.p2);
    if (key === undefined) return [Buffer.alloc(0), SW.REFERENCE_NOT_FOUND];
    if (ALGORITHM_ID[key.algorithm] !== c.p1) return [Buffer.alloc(0), SW.INCORRECT_P1P2];
    let challenge: Buffer | undefined;
    try {
      const template = findTlv(parseTlvs(c.data), 0x7c);
      const inner = template === undefined ? [] : parseTlvs(template);
      if (findTlv(inner, 0x82)?.length !== 0) return [Buffer.alloc(0), SW.INCORRECT_DATA];
      challenge = findTlv(inner, 0x81);
    } catch {
      return [Buffer.alloc(0), SW.INCORRECT_DATA];
    }
    if (challenge === undefined || challenge.length !== challengeBytes(key.algorithm)) return [Buffer.alloc(0), SW.INCORRECT_DATA];
    if (key.pinPolicy !== "never" && !this.#pinVerified) return [Buffer.alloc(0), SW.SECURITY_STATUS_NOT_SATISFIED];
    if (key.pinPolicy === "always" && !this.#pinFresh) return [Buffer.alloc(0), SW.SECURITY_STATUS_NOT_SATISFIED];
    const signature = key.algorithm === "RSA-2048" ? rsaRawPrivate(key.privateKey, challenge) : ecdsaSignDigest(key.privateKey, key.algorithm, challenge);
    this.#pinFresh = false;
    this.events.push({ kind: "sign", key: c.p2, touched: key.touchPolicy !== "never" });
    return [tlv(0x7c, tlv(0x82, signature)), SW.OK];
  }

  /** Yubico GET METADATA (firmware 5.3+): algorithm, policies, origin and public key of a slot; PIN counters. */
  #metadata(c: CommandApdu): [Buffer, number] {
    if (c.p2 === 0x80) {
      const isDefault = this.#pin.equals(padded("123456")) ? 1 : 0;
      return [Buffer.concat([tlv(0x01, Buffer.from([0xff])), tlv(0x05, Buffer.from([isDefault])), tlv(0x06, Buffer.from([this.#pinTries, this.#pinRetries]))]), SW.OK];
    }
    const key = this.#options.keys.get(c.p2);
    if (key === undefined) return [Buffer.alloc(0), SW.REFERENCE_NOT_FOUND];
    return [
      Buffer.concat([
        tlv(0x01, Buffer.from([ALGORITHM_ID[key.algorithm]])),
        tlv(0x02, Buffer.from([PIN_POLICY_BYTE[key.pinPolicy], TOUCH_POLICY_BYTE[key.touchPolicy]])),
        tlv(0x03, Buffer.from([key.origin === "generated" ? 1 : 2])),
        tlv(0x04, publicKeyTemplate(key)),
      ]),
      SW.OK,
    ];
  }

  /** Yubico ATTEST: a certificate for a key generated on the card, signed by the attestation key f9. */
  #attest(c: CommandApdu): [Buffer, number] {
    const key = this.#options.keys.get(c.p1);
    if (key === undefined) return [Buffer.alloc(0), SW.REFERENCE_NOT_FOUND];
    const certificate = this.#options.attestations?.get(c.p1);
    if (key.origin !== "generated" || certificate === undefined) return [Buffer.alloc(0), SW.INCORRECT_DATA];
    return [certificate, SW.OK];
  }

  #loseSecurityState(): void {
    this.#pinVerified = false;
    this.#pinFresh = false;
  }

  #leavePiv(): void {
    this.#pivSelected = false;
    this.#loseSecurityState();
  }
}

/** PINs and PUKs travel as 8 bytes padded with FF (SP 800-73-4 Part 2 §2.4.3). */
function padded(value: string): Buffer {
  const out = Buffer.alloc(8, 0xff);
  Buffer.from(value, "utf8").copy(out);
  return out;
}

/** SP 800-73-4 Part 2 Table 14: RSA as 81 modulus, 82 exponent; ECC as 86 uncompressed point. */
function publicKeyTemplate(key: PivKey): Buffer {
  const jwk = key.publicKey.export({ format: "jwk" });
  if (key.algorithm === "RSA-2048") return Buffer.concat([tlv(0x81, Buffer.from(jwk.n!, "base64url")), tlv(0x82, Buffer.from(jwk.e!, "base64url"))]);
  return tlv(0x86, Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]));
}

/** The certificate data object (SP 800-73-4 Part 1 Table 10): 70 certificate, 71 CertInfo (not compressed), FE LRC. */
export function certificateObject(der: Buffer): Buffer {
  return Buffer.concat([tlv(0x70, der), tlv(0x71, Buffer.from([0])), tlv(0xfe)]);
}

/** A CHUID (Part 1 Table 9) with the given GUID: FASC-N of a test card, GUID, expiration, empty signature. */
export function chuidObject(guid: Buffer): Buffer {
  const fascn = Buffer.from("d4e739da739ced39ce739d836858210842108421c84210c3eb", "hex");
  return Buffer.concat([tlv(0x30, fascn), tlv(0x34, guid), tlv(0x35, Buffer.from("20991231", "ascii")), tlv(0x3e), tlv(0xfe)]);
}

/** The discovery object (Part 1 Table 18): the PIV AID and a PIN usage policy of "PIV PIN only". */
export function discoveryObject(): Buffer {
  return Buffer.concat([tlv(0x4f, PIV_AID), tlv(0x5f2f, Buffer.from([0x40, 0x00]))]);
}
