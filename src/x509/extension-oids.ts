import { children, decodeOid, expectTag, readSingle, TAG } from "../encoding/der.js";

const EXTENSIONS_TAG = 0xa3;

/**
 * The extnID of every extension of a DER certificate (RFC 5280 §4.1: `[3] EXPLICIT Extensions` at the end
 * of the TBSCertificate), in order; throws DerError when the certificate is malformed.
 */
export function extensionOids(der: Uint8Array): string[] {
  const [tbs] = children(readSingle(Buffer.from(der), TAG.SEQUENCE));
  const wrapper = children(expectTag(tbs, TAG.SEQUENCE)).find((field) => field.tag === EXTENSIONS_TAG);
  if (wrapper === undefined) return [];
  const [extensions] = children(wrapper);
  return children(expectTag(extensions, TAG.SEQUENCE)).map((extension) => decodeOid(expectTag(children(extension)[0], TAG.OID)));
}
