import type { Certificate } from "./certificate.js";

/** The certificates that may have issued `child`, most likely first; read lazily, so that the first match ends the reading. */
export type IssuerCandidates = (child: Certificate) => Iterable<Certificate>;

/**
 * The intermediates to send with `leaf`, picked from `pool` (the CA certificates found on a token, the other
 * certificates of a PKCS#12 file): issuer after issuer, subject and signature checked, up to a self-signed root (the
 * trust anchor, which the service already has; sent too `withRoot`, as a PKCS#12 file that holds it gives it).
 * Unlike the Go helper, an unrelated certificate never gets in and the leaf is never repeated.
 */
export function chainFromPool(
  leaf: Certificate,
  pool: readonly Certificate[] | IssuerCandidates,
  { maxDepth = 8, withRoot = false }: { maxDepth?: number; withRoot?: boolean } = {},
): Certificate[] {
  const candidates = typeof pool === "function" ? pool : () => pool;
  const chain: Certificate[] = [];
  const used = new Set<string>([leaf.sha256Fingerprint()]);
  let current = leaf;
  while (chain.length < maxDepth) {
    const issuer = first(candidates(current), (candidate) => !used.has(candidate.sha256Fingerprint()) && issues(candidate, current));
    if (issuer === undefined) break;
    const root = issues(issuer, issuer); // self-signed: the trust anchor
    if (root && !withRoot) break;
    chain.push(issuer);
    if (root) break;
    used.add(issuer.sha256Fingerprint());
    current = issuer;
  }
  return chain;
}

function first<T>(items: Iterable<T>, test: (item: T) => boolean): T | undefined {
  for (const item of items) if (test(item)) return item;
  return undefined;
}

function issues(issuer: Certificate, child: Certificate): boolean {
  if (!child.x509.checkIssued(issuer.x509)) return false;
  const key = issuer.publicKey;
  return key !== undefined && child.signedWith(key);
}
