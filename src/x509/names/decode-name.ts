import { children, decodeOid, expectTag, TAG, type DerElement } from "../../encoding/der.js";
import { attributeName } from "./attribute-names.js";
import { decodeDirectoryString } from "./directory-string.js";

/** One AttributeTypeAndValue of a distinguished name, in certificate order. */
export interface NameAttribute {
  readonly oid: string;
  /** Short name (`CN`, `OU`, …) when the type is known. */
  readonly name: string | undefined;
  readonly documented: boolean;
  /** The value as text, or undefined when it is not a character string. */
  readonly value: string | undefined;
  /** Index of the RDN (SET) it belongs to: attributes of a multi-valued RDN share it. */
  readonly rdn: number;
}

/**
 * Flattens a Name (`SEQUENCE OF SET OF AttributeTypeAndValue`) into its attributes, keeping the order in
 * which they are encoded, also inside multi-valued RDNs (`CN=a+OU=b`).
 */
export function decodeName(el: DerElement): NameAttribute[] {
  const out: NameAttribute[] = [];
  children(expectTag(el, TAG.SEQUENCE)).forEach((set, rdn) => {
    for (const atv of children(expectTag(set, TAG.SET))) {
      const [type, value] = children(expectTag(atv, TAG.SEQUENCE));
      const oid = decodeOid(type);
      const known = attributeName(oid);
      out.push({
        oid,
        name: known?.name,
        documented: known?.documented ?? false,
        value: value === undefined ? undefined : decodeDirectoryString(value),
        rdn,
      });
    }
  });
  return out;
}
