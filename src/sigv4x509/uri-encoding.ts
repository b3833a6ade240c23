import { codePointName, UsageError } from "../errors.js";

/**
 * Percent-encoding as SigV4 defines it: everything but the RFC 3986 unreserved characters
 * (A–Z a–z 0–9 - _ . ~) is encoded as UTF-8 bytes with upper-case hex.
 */
export function uriEncode(text: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(text);
  } catch {
    const lone = codePointName([...text].find((c) => c.length === 1 && c >= "\ud800" && c <= "\udfff")!);
    throw new UsageError("USAGE", `a query or path to sign holds a lone surrogate (${lone}), which has no UTF-8 form`);
  }
  // encodeURIComponent leaves these five; the pattern is compiled only when one is there (ARNs have none).
  const left = ["!", "'", "(", ")", "*"].some((c) => encoded.includes(c));
  return left ? encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : encoded;
}

/** The canonical URI: dot segments resolved, empty segments dropped, each byte encoded, `/` kept; `/` when empty. */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const leading = path.startsWith("/") || segments.length === 0 ? "/" : "";
  const trailing = segments.length > 0 && path.endsWith("/") ? "/" : "";
  return uriEncode(`${leading}${segments.join("/")}${trailing}`).replaceAll("%2F", "/");
}

/** The canonical query string: keys and values encoded, sorted by key then value, `&`-joined. */
export function canonicalQuery(query: ReadonlyArray<readonly [string, string]>): string {
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return query
    .map(([key, value]) => [uriEncode(key), uriEncode(value)] as const)
    .sort(([k1, v1], [k2, v2]) => order(k1, k2) || order(v1, v2))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}
