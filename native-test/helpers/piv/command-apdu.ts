/** Command and response APDUs (ISO 7816-4 §5.1): the four cases, short and extended lengths. */

export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Buffer;
  /** Bytes the reader will take; 256 (short) or 65536 (extended) when it said 0. */
  readonly le: number;
  readonly extended: boolean;
}

export class MalformedApdu extends Error {}

export function parseCommandApdu(apdu: Buffer): CommandApdu {
  if (apdu.length < 4) throw new MalformedApdu(`APDU of ${apdu.length} bytes`);
  const [cla, ins, p1, p2] = [apdu[0]!, apdu[1]!, apdu[2]!, apdu[3]!];
  const head = { cla, ins, p1, p2 };
  const body = apdu.subarray(4);
  if (body.length === 0) return { ...head, data: Buffer.alloc(0), le: 0, extended: false };
  if (body.length === 1) return { ...head, data: Buffer.alloc(0), le: body[0] || 256, extended: false };
  if (body[0] !== 0) {
    const lc = body[0]!;
    if (body.length === 1 + lc) return { ...head, data: body.subarray(1), le: 0, extended: false };
    if (body.length === 2 + lc) return { ...head, data: body.subarray(1, 1 + lc), le: body[1 + lc] || 256, extended: false };
    throw new MalformedApdu(`Lc ${lc} does not fit an APDU body of ${body.length} bytes`);
  }
  // Extended: 00 then two-byte lengths.
  if (body.length === 3) return { ...head, data: Buffer.alloc(0), le: body.readUInt16BE(1) || 65536, extended: true };
  const lc = body.readUInt16BE(1);
  if (lc === 0 || body.length < 3 + lc) throw new MalformedApdu("bad extended Lc");
  const data = body.subarray(3, 3 + lc);
  const rest = body.length - 3 - lc;
  if (rest === 0) return { ...head, data, le: 0, extended: true };
  if (rest === 2) return { ...head, data, le: body.readUInt16BE(3 + lc) || 65536, extended: true };
  throw new MalformedApdu("bad extended Le");
}

/** Status words this card answers with (ISO 7816-4 §5.6, SP 800-73-4 Part 2 Table 6). */
export const SW = {
  OK: 0x9000,
  WRONG_LENGTH: 0x6700,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  INCORRECT_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  NOT_FOUND: 0x6a82,
  INCORRECT_P1P2: 0x6a86,
  REFERENCE_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  CONDITIONS_NOT_SATISFIED: 0x6985,
} as const;

export function response(data: Uint8Array, sw: number): Buffer {
  return Buffer.concat([data, Buffer.from([sw >> 8, sw & 0xff])]);
}

export function status(sw: number): Buffer {
  return Buffer.from([sw >> 8, sw & 0xff]);
}
