import { editDistance } from "../nearest-names.js";
import { encodePathValue } from "./uri.js";

/**
 * What a token says about one object, enough to name it: CKA_LABEL, CKA_ID and CKO_* class. Only certificates and
 * private keys: a suggestion must work pasted back, and the signer refuses a URI naming any other (`type=data`).
 */
export interface TokenObjectRecord {
  readonly label: string;
  readonly id: Uint8Array;
  readonly class: "cert" | "private";
}

/** What a URI asked for: `object=` and `id=`, either or both. */
type ObjectQuery = Partial<Pick<TokenObjectRecord, "label" | "id">>;

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** `object=rsa-key;id=%01;type=private`: the URI attributes that name one object, encoded as in a URI. */
export function describeObject(o: TokenObjectRecord): string {
  const label = o.label ? `object=${encodePathValue(o.label)}` : "";
  return [label, o.id.length ? `id=${encodePathValue(o.id)}` : "", `type=${o.class}`].filter(Boolean).join(";");
}

function distance(query: ObjectQuery, o: TokenObjectRecord): number {
  let d = 0;
  // Past the query's own length an object is too far to be named anyway (nearestObjects keeps a third of it).
  const scaled = (q: string, v: string) => editDistance(q, v, q.length) / Math.max(1, q.length);
  if (query.label !== undefined) d += scaled(query.label.toLowerCase(), o.label.toLowerCase());
  if (query.id !== undefined) d += scaled(hex(query.id), hex(o.id));
  return d;
}

/**
 * The objects nearest to what a URI asked for, best first (at most three, and only those reasonably
 * close: a token with 200 objects must not turn an error into a page). Objects of `wantClass` come first.
 */
export function nearestObjects(query: ObjectQuery, objects: readonly TokenObjectRecord[], wantClass: TokenObjectRecord["class"]): TokenObjectRecord[] {
  const limit = 3;
  const asked = (query.label !== undefined ? 1 : 0) + (query.id !== undefined ? 1 : 0);
  if (asked === 0) return objects.filter((o) => o.class === wantClass).slice(0, limit);
  return objects
    .map((o) => ({ o, d: distance(query, o) + (o.class === wantClass ? 0 : 0.01) }))
    .filter(({ d }) => d <= 0.34 * asked)
    .sort((a, b) => a.d - b.d || a.o.label.localeCompare(b.o.label))
    .slice(0, limit)
    .map(({ o }) => o);
}

/** The object of another class that the query names exactly (a key asked for as a certificate, say). */
function exactOtherClass(query: ObjectQuery, objects: readonly TokenObjectRecord[], wantClass: TokenObjectRecord["class"]): TokenObjectRecord | undefined {
  if (query.label === undefined && query.id === undefined) return undefined;
  return objects.find(
    (o) => o.class !== wantClass && (query.label === undefined || o.label === query.label) && (query.id === undefined || hex(o.id) === hex(query.id)),
  );
}

/** The hint for a URI that matched nothing; `certificate`: how the caller names that option (flag or option). */
export function objectNotFoundHint(
  query: ObjectQuery, objects: readonly TokenObjectRecord[], wantClass: "cert" | "private", certificate: string,
): string {
  const other = exactOtherClass(query, objects, wantClass);
  if (other?.class === "private") { // so a certificate was wanted
    const install = "install one with 'roles-anywhere-agent install-certificate', or give the certificate file with";
    return `the key exists (${describeObject(other)}) but has no certificate on the token: ${install} ${certificate}`;
  }
  const near = nearestObjects(query, objects, wantClass);
  if (near.length > 0) return `nearest objects on the token: ${near.map(describeObject).join(", ")}`;
  const count = objects.filter((o) => o.class === wantClass).length;
  return count > 0
    ? `the token holds ${count} ${wantClass === "cert" ? "certificate" : "private key"}(s), none close to that name; list them with 'roles-anywhere-agent read-certificate-data --certificate "pkcs11:token=…"' or p11tool --list-all`
    : wantClass === "cert"
      ? `the token shows no certificates; give the certificate as a file with ${certificate}`
      : "the token shows no private keys";
}
