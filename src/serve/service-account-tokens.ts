import { createPublicKey, verify, type JsonWebKey } from "node:crypto";
import { oneLine } from "../daemon/signals.js";
import { InputError } from "../errors.js";
import { checkTrustedFile } from "../io/trusted-path.js";
import { fileError, isFileInput, readInputFile, sameStamp, stampOf } from "../io/input-file.js";
import { parseJson } from "../io/json.js";
import { isPlainObject, ownValue } from "../own-value.js";
import { repeatWithoutOverlap } from "../daemon/repeat.js";
import { MAX_RSA_MODULUS_BITS } from "../x509/certificate.js";
import type { ReloadingConsumers } from "./ecs-consumers.js";
import type { ServiceAccountIdentity } from "./ecs-identity.js";

interface ServiceAccountTokenOptions extends Omit<ServiceAccountIdentity, "kind" | "accounts"> {
  /** Kubernetes ServiceAccounts allowed one role each. */
  readonly bindings: readonly { readonly namespace: string; readonly serviceAccount: string; readonly role: string }[];
  readonly log: (line: string) => void;
  readonly now?: () => number;
  readonly intervalMs?: number;
}

const MAX_TOKEN_LENGTH = 16 * 1024;
const CLOCK_SKEW_SECONDS = 30;
/** Each algorithm with the kind of key it takes (RFC 7518: ES256 is P-256 and SHA-256, ES384 P-384 and SHA-384). */
const ALGORITHMS: Record<string, { hash: string; key: KeyKind }> = {
  RS256: { hash: "sha256", key: "RSA" },
  RS384: { hash: "sha384", key: "RSA" },
  RS512: { hash: "sha512", key: "RSA" },
  ES256: { hash: "sha256", key: "P-256" },
  ES384: { hash: "sha384", key: "P-384" },
};
type KeyKind = "RSA" | "P-256" | "P-384";
const CURVES: Record<string, KeyKind> = { prime256v1: "P-256", secp384r1: "P-384" };

type KubernetesClaim = { namespace?: unknown; serviceaccount?: { name?: unknown }; pod?: { name?: unknown }; node?: { name?: unknown } };
type PodIdentity = { readonly namespace: string; readonly serviceAccount: string; readonly pod: string; readonly node: string | undefined };

interface ServiceAccountTokens extends ReloadingConsumers {
  verify(token: string): PodIdentity | undefined;
}

type Jwks = Awaited<ReturnType<typeof readJwks>>;

/**
 * ECS consumers identified per pod: the Authorization header carries the pod's projected ServiceAccount token
 * (a JWT the kubelet writes to a file, bound to the pod, rotated, with an audience of its own), which the
 * SDK reads from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE. It is accepted when its signature verifies with one
 * of the cluster's ServiceAccount keys (the JWKS file, re-read when it changes), `iss` and `aud` are the ones
 * configured, it is within its validity (±30 s), it is bound to a pod (and to this node, with `nodeName`),
 * and its namespace/ServiceAccount is bound to a role. A deleted pod's token stops working when it expires
 * (TokenReview, which would notice sooner, needs the API server; not used).
 */
export async function openServiceAccountTokens(options: ServiceAccountTokenOptions): Promise<ServiceAccountTokens> {
  let jwks = await readJwks(options.jwksPath);
  let lastError: string | undefined;
  const consumers = options.bindings.map((b) => ({ name: `${b.namespace}/${b.serviceAccount}`, role: b.role, token: "" }));
  const tokens: ServiceAccountTokens = {
    /** The binding whose pod presented this token, or undefined when it is not a valid token for us. */
    find(token) {
      const claims = token === undefined ? undefined : tokens.verify(token);
      if (!claims) return undefined;
      const name = `${claims.namespace}/${claims.serviceAccount}`;
      const consumer = consumers.find((c) => c.name === name);
      return consumer && { ...consumer, token: token! };
    },
    all: () => consumers,
    verify: (token) => verifyToken(token, jwks, options),
    async reload() {
      try {
        const stamp = await stampOf(options.jwksPath, "ServiceAccount JWKS file");
        if (sameStamp(stamp, jwks.stamp)) return;
        jwks = await readJwks(options.jwksPath);
        lastError = undefined;
        options.log(`ServiceAccount keys reloaded from ${options.jwksPath} (${jwks.keys.length})`);
      } catch (error) {
        // A bad file is read again at every tick: it is logged once, until its error changes.
        const line = oneLine(error);
        if (line !== lastError) options.log(`ServiceAccount keys not reloaded, the previous ones are kept: ${line}`);
        lastError = line;
      }
    },
    stop: () => stop(),
  };
  const stop = repeatWithoutOverlap(() => tokens.reload(), options.intervalMs ?? 5_000);
  return tokens;
}

function verifyToken(token: string, jwks: Jwks, options: ServiceAccountTokenOptions): PodIdentity | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const parts = token.split(".");
  // Each part in base64url as RFC 7515 writes it (Node's decoder skips padding, `+/`, spaces and stray characters).
  if (parts.length !== 3 || !parts.every(isBase64url)) return undefined;
  const header = jsonPart(parts[0]!);
  const payload = jsonPart(parts[1]!);
  if (!header || !payload || typeof header["alg"] !== "string") return undefined;
  const alg = ownValue(ALGORITHMS, header["alg"]);
  if (!alg) return undefined; // "none", HS256 (a public key as an HMAC secret) and the rest
  // RFC 7515: extensions named in `crit` must be understood, and none is. `jwk`, `jku`, `x5u`, `x5c` are ignored.
  if (header["crit"] !== undefined) return undefined;
  const kid = header["kid"];
  if (kid !== undefined && typeof kid !== "string") return undefined; // RFC 7515 §4.1.4: a string; not "no kid"
  const signature = Buffer.from(parts[2]!, "base64url");
  const data = Buffer.from(`${parts[0]}.${parts[1]}`);
  const found = jwks.keys.find((k) => (kid === undefined ? jwks.keys.length === 1 : k.kid === kid));
  // A key whose JWK names its algorithm (the API server's do) verifies that one only.
  if (!found || found.kind !== alg.key || (found.alg !== undefined && found.alg !== header["alg"])) return undefined;
  const key = found.key;
  const verifier = alg.key === "RSA" ? key : { key, dsaEncoding: "ieee-p1363" as const };
  // verify() throws for a wrong hash, key or dsaEncoding (ours, from the tables above), never for a signature's bytes.
  if (!verify(alg.hash, data, verifier, signature)) return undefined;

  const now = Math.floor((options.now?.() ?? Date.now()) / 1000);
  if (payload["iss"] !== options.issuer) return undefined;
  const aud = payload["aud"];
  if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) return undefined;
  if (typeof payload["exp"] !== "number" || payload["exp"] + CLOCK_SKEW_SECONDS < now) return undefined;
  for (const claim of ["nbf", "iat"]) {
    const at = payload[claim];
    if (at !== undefined && (typeof at !== "number" || at - CLOCK_SKEW_SECONDS > now)) return undefined;
  }
  const k8s = payload["kubernetes.io"] as KubernetesClaim | undefined;
  const namespace = k8s?.namespace;
  const serviceAccount = k8s?.serviceaccount?.name;
  const pod = k8s?.pod?.name;
  const node = typeof k8s?.node?.name === "string" ? k8s.node.name : undefined;
  if (typeof namespace !== "string" || typeof serviceAccount !== "string" || typeof pod !== "string") return undefined;
  if (payload["sub"] !== `system:serviceaccount:${namespace}:${serviceAccount}`) return undefined;
  if (options.nodeName !== undefined && node !== options.nodeName) return undefined;
  return { namespace, serviceAccount, pod, node };
}

function isBase64url(part: string): boolean {
  return Buffer.from(part, "base64url").toString("base64url") === part;
}

function jsonPart(part: string): Record<string, unknown> | undefined {
  const value = parseJson(Buffer.from(part, "base64url"));
  return isPlainObject(value) ? value : undefined;
}

/** The keys that decide which pods get credentials: a file another user could write (or swap) would let them in. */
async function readJwks(path: string) {
  const what = "ServiceAccount JWKS file";
  try {
    if (isFileInput(path)) checkTrustedFile(path, what, process.getuid?.() ?? 0);
  } catch (cause) {
    throw fileError(cause, path, what);
  }
  const { bytes, stamp } = await readInputFile(path, what);
  const invalid = (why: string) =>
    new InputError("CONFIG_INVALID", `ServiceAccount JWKS file ${path} ${why}`, { hint: "write it with: kubectl get --raw /openid/v1/jwks > jwks.json" });
  const parsed = parseJson(bytes);
  if (parsed === undefined) throw invalid("is not JSON");
  const list = isPlainObject(parsed) ? parsed["keys"] : undefined;
  if (!Array.isArray(list) || list.length === 0) throw invalid("has no keys");
  const kids = new Set<string>();
  const keys = list.map((jwk: JsonWebKey & { kid?: unknown; use?: unknown; alg?: unknown }) => {
    if (!isPlainObject(jwk)) throw invalid("has a key that is not an RSA, P-256 or P-384 public key");
    if (jwk.use !== undefined && jwk.use !== "sig") throw invalid(`has a key not meant for signatures (use ${String(jwk.use)})`);
    const ops = jwk.key_ops as unknown;
    if (ops !== undefined && !(Array.isArray(ops) && ops.includes("verify"))) {
      throw invalid(`has a key not meant for verifying signatures (key_ops ${String(ops)})`);
    }
    if (jwk.d !== undefined) throw invalid("holds a private key: give the public keys only");
    let key;
    try {
      key = createPublicKey({ key: jwk, format: "jwk" });
    } catch {
      key = undefined;
    }
    if (jwk.kid !== undefined && typeof jwk.kid !== "string") throw invalid("has a key whose kid is not a string");
    const kid = jwk.kid;
    const details = key?.asymmetricKeyDetails;
    const kind = key?.asymmetricKeyType === "rsa" ? "RSA" : ownValue(CURVES, details?.namedCurve ?? "");
    if (!key || !kind) throw invalid(`has a key that is not an RSA, P-256 or P-384 public key (kid ${String(kid)})`);
    // Whoever could factor n, or sign with e = 1 (the signature is the padded digest), would sign any token.
    const { modulusLength: bits = 0, publicExponent: e = 0n } = details ?? {};
    if (kind === "RSA" && (bits < 2048 || bits > MAX_RSA_MODULUS_BITS || e < 3n || e % 2n === 0n)) {
      const taken = "2048–16384 bits and an odd e ≥ 3 are taken";
      throw invalid(`has an RSA key of ${bits} bits with e = ${e} (kid ${String(kid)}): ${taken}`);
    }
    // A key that names an algorithm it cannot verify would load and then refuse every token, pod after pod.
    if (jwk.alg !== undefined && (typeof jwk.alg !== "string" || ownValue(ALGORITHMS, jwk.alg)?.key !== kind)) {
      const known = Object.keys(ALGORITHMS).filter((name) => ALGORITHMS[name]!.key === kind).join(", ").replace(/, (?!.*, )/, " or ");
      const a = kind === "RSA" ? "an" : "a";
      throw invalid(`has ${a} ${kind} key whose alg ${JSON.stringify(jwk.alg)} is not ${known} (kid ${String(kid)})`);
    }
    if (kid !== undefined && kids.has(kid)) throw invalid(`has two keys with kid ${kid}`);
    if (kid !== undefined) kids.add(kid);
    return { kid, key, kind, alg: jwk.alg as string | undefined };
  });
  return { keys, stamp };
}
