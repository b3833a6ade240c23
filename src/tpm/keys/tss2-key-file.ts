/**
 * TSS2 PRIVATE KEY files (draft-bottomley-tpm2-keys), read as real producers write them: PEM or DER, emptyAuth as
 * any non-zero octet, persistent parents as negative INTEGERs (old 32-bit producers), description [4], rsaParent
 * [5]; and written for keygen.
 */
import { InputError } from "../../errors.js";
import { encode, tpm2b, u32 } from "../wire/codec.js";
import { TPM_RH, handleType, hashInfo, hex32, isTpmHashAlg, TPM_ALG, TPM_HT } from "../wire/constants.js";
import { decodePolicyStatement, encodePolicyStatement, type PolicyStatement } from "./policy.js";
import { decodePublicArea, describeKey, type PublicArea } from "./public-area.js";
import {
  children, decodeOid, decodeSignedInteger, DerError, expectTag, malformedPrimitive, readElement, readSingle, TAG, type DerElement,
} from "../../encoding/der.js";
import { derOid, derSequence, derTlv, derUnsignedInteger } from "../../encoding/der-writer.js";
import { decodePemBlocks, encodePem, indexOfText } from "../../encoding/pem.js";
import { LEGACY_TSS2_PEM_LABEL, TSS2_PEM_LABEL } from "./tss2-detect.js";

export { containsTss2Key } from "./tss2-detect.js";
export { policyUsesPassword } from "./policy.js"; // for the factory, which loads this module alone

const OID_LOADABLE_KEY = "2.23.133.10.1.3";
const OID_IMPORTABLE = "2.23.133.10.1.4";
const OID_SEALED = "2.23.133.10.1.5";
const UTF8_STRING = 0x0c;

export interface Tss2KeyFile {
  /** TRUE when the file says the key has no password (absent means a password is needed). */
  readonly emptyAuth: boolean;
  /** Policy statements to replay in a policy session, in order (empty when the key uses plain auth). */
  readonly policy: readonly PolicyStatement[];
  readonly description: string | undefined;
  /** The hierarchy primary is the RSA-2048 SRK instead of ECC P-256. */
  readonly rsaParent: boolean;
  /** 0x40xxxxxx hierarchy (primary re-created) or 0x81xxxxxx persistent parent. */
  readonly parent: number;
  readonly public: PublicArea;
  /** TPM2B_PRIVATE contents (without the size), passed to TPM2_Load untouched. */
  readonly privateBlob: Buffer;
}

/**
 * The DER of the first TSS2 PRIVATE KEY block in PEM text, or the bytes themselves when they are DER. A string is
 * taken as latin1, one byte per character, as the factory makes it of the file's bytes (DER too).
 */
function tss2Der(data: string | Buffer, what: string): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  // The one PEM decoder (headers, CRLF, strict base64), on the TSS2 block alone: other blocks around it are not read.
  // Looked for before DER, as openssl does: text before the block may start with "0", the byte of a SEQUENCE.
  const [begin, endLine] = [indexOfText(bytes, `-----BEGIN ${TSS2_PEM_LABEL}-----`), `-----END ${TSS2_PEM_LABEL}-----`];
  const end = begin < 0 ? -1 : indexOfText(bytes, endLine, begin);
  if (end >= 0) return decodePemBlocks(bytes.subarray(begin, end + endLine.length), what)[0]!.der;
  if (bytes[0] === TAG.SEQUENCE) return bytes;
  if (indexOfText(bytes, `-----BEGIN ${LEGACY_TSS2_PEM_LABEL}-----`) >= 0) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: the legacy "${LEGACY_TSS2_PEM_LABEL}" format is not supported`, {
      hint: "convert it to a TSS2 PRIVATE KEY file with openssl_tpm2_engine's tools, or load it yourself and use handle:0x81…",
    });
  }
  throw new InputError("PEM_INVALID", `${what}: no "-----BEGIN ${TSS2_PEM_LABEL}-----" block found`);
}

/**
 * TPMKey: type, [0] emptyAuth, [1] policy, [2] secret, [3] authPolicy, [4] description, [5] rsaParent, parent,
 * pubkey, privkey. Every tag is EXPLICIT, as all producers encode them; context tags above [5] (fields later
 * drafts may add) are skipped.
 */
function readTpmKey(der: Buffer, what: string) {
  // tpm2-openssl ignores bytes after the key; the agent refuses them, as after any key file.
  const outer = readElement(der);
  if (outer.raw.length < der.length) {
    const extra = der.length - outer.raw.length;
    throw new InputError("TPM_KEY_INVALID", `${what}: the TSS2 PRIVATE KEY is followed by ${extra} bytes that are not part of it`, {
      hint: "write it again without them: openssl pkey -provider tpm2 -provider default -in KEY -out NEW.pem",
    });
  }
  const fields = children(expectTag(outer, TAG.SEQUENCE)).filter((el) => !((el.tag & 0xc0) === 0x80 && (el.tag & 0x1f) > 5));
  let i = 0;
  const next = (tag: number) => expectTag(fields[i++], tag).content;
  const tagged = (n: number) => (fields[i]?.tag === (0xa0 | n) ? readSingle(fields[i++]!.content) : undefined);
  const boolean = (el: DerElement | undefined) => {
    if (el && expectTag(el, TAG.BOOLEAN).content.length !== 1) throw new DerError("BOOLEAN of the wrong length");
    return el !== undefined && el.content[0] !== 0;
  };
  const sequence = (el: DerElement | undefined) => (el ? children(expectTag(el, TAG.SEQUENCE)) : []);
  // Padded with a 00 or FF it does not need: OpenSSL (so tpm2-openssl) and Go refuse such a file. Empty: refused below.
  const integer = (el: DerElement) => {
    if (el.content.length > 1 && malformedPrimitive(el)) throw new DerError("a non-minimal INTEGER (not DER)");
    return el.content;
  };
  const type = decodeOid(expectTag(fields[i++], TAG.OID));
  const emptyAuth = boolean(tagged(0));
  const policy = sequence(tagged(1)).map((entry) => {
    const [code, body, ...rest] = sequence(entry);
    if (code?.tag !== 0xa0 || body?.tag !== 0xa1 || rest.length > 0) throw new DerError("invalid TPMPolicy");
    const bytes = integer(readSingle(code.content, TAG.INTEGER));
    const commandCode = bytes.length > 0 && bytes.length <= 5 ? decodeSignedInteger(bytes) : -1n;
    if (commandCode < 0n || commandCode >= 2n ** 32n) throw new DerError("TPMPolicy commandCode is not a TPM_CC");
    return { commandCode: Number(commandCode), commandPolicy: readSingle(body.content, TAG.OCTET_STRING).content };
  });
  const secret = tagged(2);
  if (secret) expectTag(secret, TAG.OCTET_STRING);
  const authPolicies = sequence(tagged(3)).length;
  const description = tagged(4);
  const rsaParent = boolean(tagged(5));
  const key = { parent: integer(expectTag(fields[i++], TAG.INTEGER)), pubkey: next(TAG.OCTET_STRING), privkey: next(TAG.OCTET_STRING) };
  if (i !== fields.length) throw new DerError("unexpected fields after privkey");
  const text = description && expectTag(description, UTF8_STRING).content.toString("utf8");
  return { type, emptyAuth, policy, secret: secret !== undefined, authPolicies, description: text, rsaParent, ...key };
}

/** Two's-complement INTEGER bytes → handle (mod 2^32), as tpm2-openssl reads it. */
function parentHandle(bytes: Buffer, what: string): number {
  const v = bytes.length > 0 && bytes.length <= 5 ? decodeSignedInteger(bytes) : undefined;
  if (v === undefined || v < -(2n ** 31n) || v >= 2n ** 32n) {
    throw new InputError("TPM_KEY_INVALID", `${what}: the parent handle is not a 32-bit value`);
  }
  const handle = Number(BigInt.asUintN(32, v));
  // tpm2-openssl and tpm2-tss-engine map a zero parent to the owner hierarchy.
  return handle === 0 ? TPM_RH.OWNER : handle;
}

const HIERARCHY_PARENTS: ReadonlySet<number> = new Set([TPM_RH.OWNER, TPM_RH.NULL, TPM_RH.ENDORSEMENT, TPM_RH.PLATFORM]);

/** Splits a TPM2B (UINT16 size ‖ data) and checks the size against what follows; an empty one is no key's. */
function sizedContents(bytes: Buffer, what: string, field: "PUBLIC" | "PRIVATE"): Buffer {
  if (bytes.length <= 2 || bytes.readUInt16BE(0) !== bytes.length - 2) {
    throw new InputError("TPM_KEY_INVALID", `${what}: invalid length for TPMv2 ${field} blob`);
  }
  return Buffer.from(bytes.subarray(2));
}

export async function parseTss2KeyFile(data: string | Buffer, what: string): Promise<Tss2KeyFile> {
  let asn: ReturnType<typeof readTpmKey>;
  try {
    asn = readTpmKey(tss2Der(data, what), what);
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    throw new InputError("TPM_KEY_INVALID", `${what}: not a valid TSS2 PRIVATE KEY structure`, { cause });
  }

  if (asn.type === OID_IMPORTABLE) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: importable TPM keys (${OID_IMPORTABLE}) are not supported`, {
      hint: "import it once with tpm2_import + tpm2_load + tpm2_evictcontrol and use handle:0x81…",
    });
  }
  if (asn.type === OID_SEALED) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: this is sealed TPM data (${OID_SEALED}), not a signing key`);
  }
  if (asn.type !== OID_LOADABLE_KEY) {
    // The file's own OID, named only when short (a crafted one can be thousands of characters long).
    const oid = asn.type.length <= 64 ? `:${asn.type}` : "";
    throw new InputError("TPM_KEY_INVALID", `${what}: invalid OID for TPMv2 key${oid}`);
  }
  if (asn.authPolicies > 0) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: signed policies (authPolicy with TPM2_PolicyAuthorize) are not supported`);
  }
  if (asn.secret) throw new InputError("TPM_KEY_INVALID", `${what}: TPMv2 key has 'secret' field which should not be set`);

  const parent = parentHandle(asn.parent, what);
  if (!HIERARCHY_PARENTS.has(parent) && handleType(parent) !== TPM_HT.PERSISTENT) {
    throw new InputError("TPM_KEY_INVALID", `${what}: invalid parent ${hex32(parent)} for TPMv2 key`, {
      hint: "the parent must be a hierarchy (0x40000001 owner…) or a persistent key (0x81…)",
    });
  }

  const publicBytes = sizedContents(asn.pubkey, what, "PUBLIC");
  const privateBlob = sizedContents(asn.privkey, what, "PRIVATE");
  const area = decodePublicArea(publicBytes, what);
  const pub = area.public;
  if (pub.type !== TPM_ALG.RSA && pub.type !== TPM_ALG.ECC) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: unsupported TPMv2 key type (${describeKey(pub)})`);
  }
  if (!isTpmHashAlg(pub.nameAlg)) throw new InputError("PRIVATE_KEY_UNSUPPORTED", `${what}: unsupported name algorithm 0x${pub.nameAlg.toString(16)}`);
  const digestSize = hashInfo(pub.nameAlg).size;
  const policy = asn.policy.map((p) => decodePolicyStatement(p.commandCode, Buffer.from(p.commandPolicy), digestSize, what));

  const { emptyAuth, description, rsaParent } = asn;
  return { emptyAuth, policy, description, rsaParent, parent, public: area, privateBlob };
}

const explicit = (n: number, element: Uint8Array) => derTlv(0xa0 | n, element);
const octetString = (bytes: Uint8Array) => derTlv(TAG.OCTET_STRING, bytes);

/**
 * emptyAuth is always written, FALSE for a key with a password: tpm2-openssl 1.1.1 asks for no password when the
 * field is absent, so omitting it, as draft-bottomley-tpm2-keys allows, makes such keys unusable there.
 */
export function encodeTss2KeyFile(contents: Pick<Tss2KeyFile, "parent" | "public" | "privateBlob" | "emptyAuth" | "policy">): string {
  const policy = contents.policy.map((statement) => {
    const { code, body } = encodePolicyStatement(statement);
    return derSequence(explicit(0, derUnsignedInteger(encode(u32, code))), explicit(1, octetString(body)));
  });
  const der = derSequence(
    derOid(OID_LOADABLE_KEY),
    explicit(0, derTlv(TAG.BOOLEAN, Buffer.from([contents.emptyAuth ? 0xff : 0]))),
    ...(policy.length > 0 ? [explicit(1, derSequence(...policy))] : []),
    derUnsignedInteger(encode(u32, contents.parent)),
    octetString(encode(tpm2b, contents.public.bytes)),
    octetString(encode(tpm2b, contents.privateBlob)),
  );
  return encodePem(TSS2_PEM_LABEL, der);
}
