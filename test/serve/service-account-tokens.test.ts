import { afterAll, describe, expect, it } from "vitest";
import { createHmac, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { execFileSync } from "node:child_process";
import { chmodSync, closeSync, constants, mkdirSync, openSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { openServiceAccountTokens } from "../../src/serve/service-account-tokens.js";
import { makeTempDir } from "../helpers/pki.js";
import { agentContainer, flagValue, readManifests } from "../deploy/kubernetes-manifests.js";
import { runMain } from "../helpers/run-main.js";

const { dir, cleanup } = makeTempDir("raa-sa-tokens-");
afterAll(cleanup);

const ISSUER = "https://kubernetes.default.svc.cluster.local";
const NOW = 1_800_000_000;
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = (key: KeyObject, kid: string) => ({ ...key.export({ format: "jwk" }), kid, use: "sig" });
const jwksPath = join(dir, "jwks.json");
writeFileSync(jwksPath, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1"), jwk(ec.publicKey, "ec-1")] }));

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
function claims(over: Record<string, unknown> = {}, k8s: Record<string, unknown> = {}) {
  return {
    iss: ISSUER,
    aud: ["roles-anywhere-agent"],
    sub: "system:serviceaccount:billing:api",
    iat: NOW - 60,
    nbf: NOW - 60,
    exp: NOW + 3600,
    "kubernetes.io": { namespace: "billing", serviceaccount: { name: "api", uid: "u1" }, pod: { name: "api-7d9f", uid: "p1" }, node: { name: "node-1", uid: "n1" }, ...k8s },
    ...over,
  };
}
function jwt(payload: object, o: { alg?: string; kid?: string; key?: KeyObject } = {}): string {
  const alg = o.alg ?? "RS256";
  const head = b64({ alg, kid: o.kid ?? (alg.startsWith("ES") ? "ec-1" : "rsa-1") });
  const data = `${head}.${b64(payload)}`;
  const key = o.key ?? (alg.startsWith("ES") ? ec.privateKey : rsa.privateKey);
  const sig = alg.startsWith("ES") ? sign("sha256", Buffer.from(data), { key, dsaEncoding: "ieee-p1363" }) : sign("sha256", Buffer.from(data), key);
  return `${data}.${sig.toString("base64url")}`;
}

async function open(over: Partial<Parameters<typeof openServiceAccountTokens>[0]> = {}) {
  return openServiceAccountTokens({
    jwksPath,
    issuer: ISSUER,
    audience: "roles-anywhere-agent",
    nodeName: "node-1",
    bindings: [{ namespace: "billing", serviceAccount: "api", role: "reader" }],
    log: () => {},
    now: () => NOW * 1000,
    intervalMs: 60_000,
    ...over,
  });
}

describe("ECS consumers by projected ServiceAccount token (per pod)", () => {
  it("accepts a pod's RS256 or ES256 token for a bound ServiceAccount on this node", async () => {
    const t = await open();
    try {
      expect(t.find(jwt(claims()))).toMatchObject({ name: "billing/api", role: "reader" });
      expect(t.find(jwt(claims(), { alg: "ES256" }))).toMatchObject({ name: "billing/api" });
      expect(t.verify(jwt(claims()))).toEqual({ namespace: "billing", serviceAccount: "api", pod: "api-7d9f", node: "node-1" });
      expect(t.find(jwt(claims({ aud: "roles-anywhere-agent" })))).toBeDefined();
      expect(t.find(jwt(claims({ exp: NOW - 10 })))).toBeDefined(); // within the 30 s clock skew
      expect(t.find(jwt(claims({ aud: ["another", "roles-anywhere-agent"] })))).toBeDefined();
      // ES256 with a high S (n − s): Go's ecdsa.Sign, the API server's signer, makes one half the time, and Go's and
      // jose's verifiers take it as OpenSSL does; a low-S-only rule would refuse half the pods' tokens.
      const [h, p, s] = jwt(claims(), { alg: "ES256" }).split(".") as [string, string, string];
      const n = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
      const rs = Buffer.from(s, "base64url");
      const flipped = Buffer.from((n - BigInt(`0x${rs.subarray(32).toString("hex")}`)).toString(16).padStart(64, "0"), "hex");
      expect(t.find(`${h}.${p}.${Buffer.concat([rs.subarray(0, 32), flipped]).toString("base64url")}`)).toBeDefined();
      // Neither the audience in another shape nor none at all.
      for (const aud of [undefined, null, [], [["roles-anywhere-agent"]], { 0: "roles-anywhere-agent" }, "Roles-Anywhere-Agent"]) {
        expect(t.find(jwt(claims({ aud }))), JSON.stringify(aud)).toBeUndefined();
      }
    } finally {
      t.stop();
    }
  });

  it("refuses forged, foreign, expired, unbound and other nodes' tokens", async () => {
    const t = await open();
    try {
      const good = jwt(claims());
      const [h, p, s] = good.split(".") as [string, string, string];
      const refused: Record<string, string> = {
        "tampered payload": `${h}.${b64({ ...claims(), "kubernetes.io": { ...claims()["kubernetes.io"], namespace: "admin" } })}.${s}`,
        "signed by another key": jwt(claims(), { key: other.privateKey }),
        "unknown kid": jwt(claims(), { kid: "nope" }),
        "alg none": `${b64({ alg: "none", kid: "rsa-1" })}.${p}.`,
        "HS256 keyed with the public key": (() => {
          const head = b64({ alg: "HS256", kid: "rsa-1" });
          const mac = createHmac("sha256", rsa.publicKey.export({ format: "pem", type: "spki" })).update(`${head}.${p}`).digest("base64url");
          return `${head}.${p}.${mac}`;
        })(),
        "RS256 header on the EC key": jwt(claims(), { alg: "RS256", kid: "ec-1" }),
        "API server audience": jwt(claims({ aud: ["https://kubernetes.default.svc"] })),
        "other issuer": jwt(claims({ iss: "https://evil.example" })),
        expired: jwt(claims({ exp: NOW - 31 })),
        "not yet valid": jwt(claims({ nbf: NOW + 31 })),
        "no expiry (legacy Secret token)": jwt(claims({ exp: undefined })),
        "not bound to a pod": jwt(claims({}, { pod: undefined })),
        "sub of another ServiceAccount": jwt(claims({ sub: "system:serviceaccount:billing:other" })),
        "pod on another node": jwt(claims({}, { node: { name: "node-2" } })),
        "unbound ServiceAccount": jwt(claims({ sub: "system:serviceaccount:billing:worker" }, { serviceaccount: { name: "worker" } })),
        "embedded jwk of the signer's own": (() => {
          const mine = generateKeyPairSync("rsa", { modulusLength: 2048 });
          const head = b64({ alg: "RS256", kid: "rsa-1", jwk: mine.publicKey.export({ format: "jwk" }) });
          return `${head}.${p}.${sign("sha256", Buffer.from(`${head}.${p}`), mine.privateKey).toString("base64url")}`;
        })(),
        "jku, x5u and x5c of the signer's own": (() => {
          const mine = generateKeyPairSync("rsa", { modulusLength: 2048 });
          const head = b64({ alg: "RS256", kid: "rsa-1", jku: "https://evil.example/jwks", x5u: "https://evil.example/c", x5c: ["MII="] });
          return `${head}.${p}.${sign("sha256", Buffer.from(`${head}.${p}`), mine.privateKey).toString("base64url")}`;
        })(),
        "alg None": `${b64({ alg: "None", kid: "rsa-1" })}.${p}.`,
        "alg NONE": `${b64({ alg: "NONE", kid: "rsa-1" })}.${p}.${s}`,
        "kid __proto__": jwt(claims(), { kid: "__proto__" }),
        "ES256 with r = n": (() => {
          const [eh, ep, es] = jwt(claims(), { alg: "ES256" }).split(".") as [string, string, string];
          const n = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");
          return `${eh}.${ep}.${Buffer.concat([n, Buffer.from(es, "base64url").subarray(32)]).toString("base64url")}`;
        })(),
        "iss with a trailing slash": jwt(claims({ iss: `${ISSUER}/` })),
        "iss in upper case": jwt(claims({ iss: ISSUER.toUpperCase() })),
        "nbf as a string": jwt(claims({ nbf: String(NOW - 60) })),
        "four parts": `${good}.${s}`,
        // Names the API server would never sign, compared with the binding billing/api as they are:
        ...Object.fromEntries(
          [["billing/api", "x"], ["billing", "api/x"], ["bill", "ing/api"], ["billing", "api=reader"], ["bіlling", "api"], ["Billing", "api"]].map(
            ([ns, sa]) => [`names ${ns} ${sa}`, jwt(claims({ sub: `system:serviceaccount:${ns}:${sa}` }, { namespace: ns, serviceaccount: { name: sa } }))],
          ),
        ),
        "ES256 with a DER signature": (() => {
          const head = b64({ alg: "ES256", kid: "ec-1" });
          return `${head}.${p}.${sign("sha256", Buffer.from(`${head}.${p}`), ec.privateKey).toString("base64url")}`;
        })(),
        "ES256 with r = s = 0": `${jwt(claims(), { alg: "ES256" }).split(".").slice(0, 2).join(".")}.${Buffer.alloc(64).toString("base64url")}`,
        "exp as a string": jwt(claims({ exp: String(NOW + 3600) })),
        "Bearer prefix": `Bearer ${good}`,
        "two Authorization headers (joined)": `${good}, ${good}`,
        "no node claim": jwt(claims({}, { node: undefined })),
        "two parts": `${h}.${p}`,
        garbage: "x".repeat(60),
        huge: `${h}.${"A".repeat(20_000)}.${s}`,
      };
      for (const [why, token] of Object.entries(refused)) expect(t.find(token), why).toBeUndefined();
      expect(t.find(undefined)).toBeUndefined();
    } finally {
      t.stop();
    }
  });

  it("refuses what RFC 7515/7518 rule out though the signature verifies (before: accepted)", async () => {
    const t = await open();
    try {
      const good = jwt(claims());
      const [h, p, s] = good.split(".") as [string, string, string];
      const signed = (head: object, payload: object, hash: string, key: KeyObject) => {
        const data = `${b64(head)}.${b64(payload)}`;
        const dsa = key.asymmetricKeyType === "ec" ? { key, dsaEncoding: "ieee-p1363" as const } : key;
        return `${data}.${sign(hash, Buffer.from(data), dsa).toString("base64url")}`;
      };
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      const refused: Record<string, string> = {
        // One signature, many tokens: Node's base64 decoder skips what is not base64url.
        "signature with padding": `${h}.${p}.${s}==`,
        "signature in base64 (+/)": `${h}.${p}.${Buffer.from(s, "base64url").toString("base64")}`,
        "signature with a space": `${h}.${p}.${s.slice(0, 8)} ${s.slice(8)}`,
        "signature with stray characters": `${h}.${p}.${s}!*`,
        "signature with its unused trailing bits set": `${h}.${p}.${s.slice(0, -1)}${alphabet[alphabet.indexOf(s.at(-1)!) ^ 1]}`,
        "crit header": signed({ alg: "RS256", kid: "rsa-1", crit: ["exp"], exp: 0 }, claims(), "sha256", rsa.privateKey),
        "ES384 on a P-256 key": signed({ alg: "ES384", kid: "ec-1" }, claims(), "sha384", ec.privateKey),
        "issued in the future": jwt(claims({ iat: NOW + 3600, nbf: undefined })),
        "iat as a string": jwt(claims({ iat: String(NOW) })),
      };
      for (const [why, token] of Object.entries(refused)) expect(t.find(token), why).toBeUndefined();
      expect(t.find(signed({ alg: "RS512", kid: "rsa-1" }, claims(), "sha512", rsa.privateKey))).toBeDefined();
      // A JWK that names its algorithm (the API server's say "RS256") is not used with another one.
      const named = join(dir, "named-alg.json");
      writeFileSync(named, JSON.stringify({ keys: [{ ...jwk(rsa.publicKey, "rsa-1"), alg: "RS256" }] }));
      const strict = await open({ jwksPath: named });
      expect(strict.find(signed({ alg: "RS512", kid: "rsa-1" }, claims(), "sha512", rsa.privateKey)), "RS512 on an RS256 key").toBeUndefined();
      expect(strict.find(good)).toBeDefined();
      strict.stop();
      expect(t.find(jwt(claims({ iat: NOW + 20 })))).toBeDefined(); // within the 30 s clock skew
    } finally {
      t.stop();
    }
  });

  it("takes each limit at its edge: 16 KiB tokens, ±30 s, the one key when no kid", async () => {
    const t = await open();
    try {
      const signed = (head: object, payload: object) => {
        const data = `${b64(head)}.${b64(payload)}`;
        return `${data}.${sign("sha256", Buffer.from(data), rsa.privateKey).toString("base64url")}`;
      };
      // Validly signed tokens of 16384 and 16385 characters: a claim and a header field sized to fit.
      const signature = jwt(claims()).split(".")[2]!.length;
      const ofLength = (length: number) => {
        for (let pad = 11_000; pad < 12_500; pad++) {
          for (const typ of ["JWT", "JWTx", "JWTxy"]) {
            const [head, payload] = [{ alg: "RS256", kid: "rsa-1", typ }, claims({ pad: "x".repeat(pad) })];
            if (b64(head).length + b64(payload).length + signature + 2 === length) return signed(head, payload);
          }
        }
        throw new Error(`no token of ${length} characters`);
      };
      expect(t.find(ofLength(16_384)), "16384 characters").toBeDefined();
      expect(t.find(ofLength(16_385)), "16385 characters").toBeUndefined();
      expect(t.find(jwt(claims({ exp: NOW - 30 }))), "expired 30 s ago").toBeDefined();
      expect(t.find(jwt(claims({ nbf: NOW + 30 }))), "valid in 30 s").toBeDefined();
      expect(t.find(jwt(claims({ iat: NOW + 30 }))), "issued in 30 s").toBeDefined();
      expect(t.find(jwt(claims({ iat: NOW + 31 }))), "issued in 31 s").toBeUndefined();
      // No kid: the key when the file has one, none when it has several (here rsa-1 and ec-1).
      const noKid = signed({ alg: "RS256" }, claims());
      expect(t.find(noKid), "no kid, two keys").toBeUndefined();
      const one = join(dir, "one-key.json");
      writeFileSync(one, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] }));
      const single = await open({ jwksPath: one });
      expect(single.find(noKid), "no kid, one key").toBeDefined();
      // A kid that is not a string is a wrong header, not a missing kid (before: taken as none, so the one key).
      for (const kid of [1, null, ["rsa-1"], { id: "rsa-1" }]) {
        expect(single.find(signed({ alg: "RS256", kid }, claims())), `kid ${JSON.stringify(kid)}`).toBeUndefined();
      }
      single.stop();
    } finally {
      t.stop();
    }
  });

  it("refuses, without throwing, tokens whose signed parts are not what a JWT holds", async () => {
    // Before each check was tested a mutant dropping it threw a TypeError here: a 500 to the pod, not a 403.
    const t = await open();
    try {
      const signed = (head: unknown, payload: unknown) => {
        const data = `${b64(head)}.${b64(payload)}`;
        return `${data}.${sign("sha256", Buffer.from(data), rsa.privateKey).toString("base64url")}`;
      };
      const head = { alg: "RS256", kid: "rsa-1" };
      const refused: Record<string, string> = {
        "payload []": signed(head, []),
        "payload null": signed(head, null),
        "payload a string": signed(head, "claims"),
        "header []": signed([], claims()),
        "header null": signed(null, claims()),
        "alg [RS256]": signed({ ...head, alg: ["RS256"] }, claims()),
        "no alg": signed({ kid: "rsa-1" }, claims()),
        "no kubernetes.io claim (a legacy Secret token's)": signed(head, claims({ "kubernetes.io": undefined })),
        "kubernetes.io a string": signed(head, claims({ "kubernetes.io": "billing/api" })),
        "kubernetes.io without serviceaccount": signed(head, claims({}, { serviceaccount: undefined })),
        "namespace a number": signed(head, claims({ sub: "system:serviceaccount:7:api" }, { namespace: 7 })),
        "serviceaccount name a number": signed(
          head,
          claims({ sub: "system:serviceaccount:billing:7" }, { serviceaccount: { name: 7 } }),
        ),
      };
      const bindings = [
        { namespace: "7", serviceAccount: "api", role: "r" },
        { namespace: "billing", serviceAccount: "7", role: "r" },
      ];
      const numbers = await open({ bindings });
      for (const [why, token] of Object.entries(refused)) {
        expect(t.find(token), why).toBeUndefined();
        expect(numbers.find(token), why).toBeUndefined();
      }
      numbers.stop();
      // Without nbf and iat (optional in RFC 7519), and on the real clock when none is given.
      expect(t.find(jwt(claims({ nbf: undefined, iat: undefined }))), "no nbf, no iat").toBeDefined();
      const real = await open({ now: undefined });
      const at = Math.floor(Date.now() / 1000);
      expect(real.find(jwt(claims({ iat: at - 60, nbf: at - 60, exp: at + 600 }))), "real clock").toBeDefined();
      expect(real.find(jwt(claims())), "real clock, a token of 2027").toBeUndefined();
      real.stop();
    } finally {
      t.stop();
    }
  });

  it("refuses a signature of any length and content, and never throws on one", async () => {
    // verify() is not guarded by a try: a signature it threw on would give the pod a 500, not a 403.
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const path = join(dir, "any-signature.json");
    const keys = [jwk(rsa.publicKey, "rsa-1"), jwk(ec.publicKey, "ec-1"), jwk(p384.publicKey, "ec-384")];
    writeFileSync(path, JSON.stringify({ keys }));
    const t = await open({ jwksPath: path });
    try {
      for (const [alg, kid] of [["RS256", "rsa-1"], ["RS512", "rsa-1"], ["ES256", "ec-1"], ["ES384", "ec-384"]]) {
        const data = `${b64({ alg, kid })}.${b64(claims())}`;
        for (let length = 0; length <= 600; length++) {
          for (const bytes of [Buffer.alloc(length), Buffer.alloc(length, 0xff), randomBytes(length)]) {
            expect(t.verify(`${data}.${bytes.toString("base64url")}`), `${alg} ${length}`).toBeUndefined();
          }
        }
      }
    } finally {
      t.stop();
    }
  });

  it("verifies RS384 and ES384 (P-384) tokens, and lists its bindings", async () => {
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const path = join(dir, "p384.json");
    writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1"), jwk(p384.publicKey, "ec-384")] }));
    const t = await open({ jwksPath: path });
    try {
      const signed = (alg: string, kid: string, hash: string, key: KeyObject) => {
        const data = `${b64({ alg, kid })}.${b64(claims())}`;
        const dsa = key.asymmetricKeyType === "ec" ? { key, dsaEncoding: "ieee-p1363" as const } : key;
        return `${data}.${sign(hash, Buffer.from(data), dsa).toString("base64url")}`;
      };
      expect(t.find(signed("RS384", "rsa-1", "sha384", rsa.privateKey)), "RS384").toBeDefined();
      expect(t.find(signed("ES384", "ec-384", "sha384", p384.privateKey)), "ES384").toBeDefined();
      expect(t.find(signed("ES384", "ec-384", "sha256", p384.privateKey)), "ES384 over SHA-256").toBeUndefined();
      expect(t.find(signed("ES256", "ec-384", "sha256", p384.privateKey)), "ES256 on a P-384 key").toBeUndefined();
      expect(t.all()).toEqual([expect.objectContaining({ name: "billing/api", role: "reader" })]);
    } finally {
      t.stop();
    }
  });

  it("reads a claim given twice as JSON.parse does (the last), for the checks and the binding alike", async () => {
    const t = await open();
    try {
      const k8s = (namespace: string, name: string) => JSON.stringify({ ...claims()["kubernetes.io"], namespace, serviceaccount: { name } });
      const text = JSON.stringify(claims({ sub: "system:serviceaccount:reports:worker" })).replace(
        /"kubernetes.io":\{.*\}\}$/,
        `"kubernetes.io":${k8s("billing", "api")},"kubernetes.io":${k8s("reports", "worker")}}`,
      );
      const head = b64({ alg: "RS256", kid: "rsa-1" });
      const data = `${head}.${Buffer.from(text).toString("base64url")}`;
      const token = `${data}.${sign("sha256", Buffer.from(data), rsa.privateKey).toString("base64url")}`;
      expect(t.verify(token)).toMatchObject({ namespace: "reports", serviceAccount: "worker" });
      expect(t.find(token)).toBeUndefined(); // reports/worker is not bound; billing/api, first given, is not read
    } finally {
      t.stop();
    }
  });

  it("without a node name, accepts pods of any node", async () => {
    const t = await open({ nodeName: undefined });
    expect(t.find(jwt(claims({}, { node: { name: "node-2" } })))).toBeDefined();
    t.stop();
  });

  it("re-reads the keys when the file changes (key rotation), keeps them when the new file is bad", async () => {
    const path = join(dir, "rotating.json");
    writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] }));
    const lines: string[] = [];
    const t = await open({ jwksPath: path, log: (l) => lines.push(l) });
    try {
      const fromOther = jwt(claims(), { key: other.privateKey, kid: "rsa-2" });
      expect(t.find(fromOther)).toBeUndefined();
      writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1"), jwk(other.publicKey, "rsa-2")] }));
      await t.reload();
      expect(t.find(fromOther)).toBeDefined();
      expect(lines).toContainEqual(expect.stringMatching(/ServiceAccount keys reloaded .*\(2\)/));
      writeFileSync(path, "{not json");
      await t.reload();
      expect(t.find(fromOther)).toBeDefined();
      expect(lines).toContainEqual(expect.stringMatching(/not reloaded, the previous ones are kept: .*is not JSON/));
      // The timer re-reads a bad file every 5 s: one line for it, not one every 5 s, until the error changes.
      await t.reload();
      await t.reload();
      expect(lines.filter((l) => /not reloaded/.test(l))).toHaveLength(1);
      writeFileSync(path, "null");
      await t.reload();
      expect(lines.filter((l) => /not reloaded/.test(l))).toHaveLength(2);
      writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] }));
      await t.reload();
      writeFileSync(path, "{not json");
      await t.reload();
      expect(lines.filter((l) => /not reloaded/.test(l))).toHaveLength(3);
    } finally {
      t.stop();
    }
  });

  it("re-reads the keys by itself when the file changes, only then, and no more once stopped", async () => {
    const path = join(dir, "ticking.json");
    writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] }));
    const lines: string[] = [];
    const t = await open({ jwksPath: path, log: (l) => lines.push(l), intervalMs: 10 });
    const fromOther = jwt(claims(), { key: other.privateKey, kid: "rsa-2" });
    const wait = () => new Promise((r) => setTimeout(r, 100));
    try {
      await wait();
      expect(lines, "file unchanged").toEqual([]);
      writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1"), jwk(other.publicKey, "rsa-2")] }));
      for (let i = 0; i < 30 && !t.find(fromOther); i++) await wait(); // 3 s: well under the default 5 s
      expect(t.find(fromOther), "rsa-2 added").toBeDefined();
      expect(lines).toEqual([`ServiceAccount keys reloaded from ${path} (2)`]);
    } finally {
      t.stop();
    }
    writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] }));
    await wait();
    expect(t.find(fromOther), "stopped: not re-read, rsa-2 still taken").toBeDefined();
  });

  it("re-reads the keys one at a time: a FIFO put in the file's place holds one thread-pool thread, not one per tick", async () => {
    // Before: a re-read every tick, each waiting up to 30 s on the FIFO, took all 4 of libuv's pool threads.
    const path = join(dir, "fifo-jwks.json");
    writeFileSync(path, JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] }));
    const t = await open({ jwksPath: path, log: () => {}, intervalMs: 10 });
    rmSync(path);
    execFileSync("mkfifo", ["-m", "600", path]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const pool = readFile(jwksPath).then(() => "read");
      expect(await Promise.race([pool, new Promise((r) => setTimeout(() => r("thread pool full"), 2_000))])).toBe("read");
    } finally {
      t.stop();
      try {
        closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)); // wakes an open waiting for a writer
      } catch {
        // no reader waits
      }
    }
  });

  it("refuses a JWKS file with a private key, no keys, or keys not for signing", async () => {
    for (const [name, content] of [
      ["private", { keys: [{ ...rsa.privateKey.export({ format: "jwk" }), kid: "x" }] }],
      ["empty", { keys: [] }],
      ["enc", { keys: [{ ...jwk(rsa.publicKey, "x"), use: "enc" }] }],
      // Before: accepted, and tokens it verified let in, though its key_ops (RFC 7517 4.3) do not include "verify".
      ["key_ops-encrypt", { keys: [{ ...jwk(rsa.publicKey, "x"), use: undefined, key_ops: ["encrypt"] }] }],
      // Before: taken as a key without kid, so never found for a token's kid "1" (or kid 1: the only key's).
      ["kid-number", { keys: [{ ...jwk(rsa.publicKey, "x"), kid: 1 }, { ...jwk(other.publicKey, "y"), kid: 1 }] }],
      ["key_ops-string", { keys: [{ ...jwk(rsa.publicKey, "x"), use: undefined, key_ops: "verify" }] }],
      // JSON null, as the file or as a key, used to throw a TypeError instead.
      ["null", null],
      ["null-key", { keys: [null] }],
      // Before: all accepted. With e = 1 the signature is the padded digest itself: anyone signs any token.
      ["e=1", { keys: [{ ...jwk(rsa.publicKey, "x"), e: "AQ" }] }],
      ["e=2", { keys: [{ ...jwk(rsa.publicKey, "x"), e: "Ag" }] }],
      ["rsa-1024", { keys: [jwk(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey, "x")] }],
      ["ed25519", { keys: [jwk(generateKeyPairSync("ed25519").publicKey, "x")] }],
      ["p-521", { keys: [jwk(generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey, "x")] }],
      ["two-keys-one-kid", { keys: [jwk(rsa.publicKey, "x"), jwk(other.publicKey, "x")] }],
      // Held before too: a point off the curve, a symmetric key.
      ["off-curve", { keys: [{ ...jwk(ec.publicKey, "x"), y: (ec.publicKey.export({ format: "jwk" }) as { x: string }).x }] }],
      ["oct", { keys: [{ kty: "oct", k: "c2VjcmV0", kid: "x" }] }],
    ] as const) {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify(content));
      await expect(open({ jwksPath: path })).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    }
    // The edges of the RSA rule (2048–16384 bits, odd e ≥ 3), on moduli made up: no key is needed to load one.
    const modulus = (bits: number) => {
      const n = randomBytes(bits / 8);
      n[0]! |= 0x80;
      n[n.length - 1]! |= 1;
      return n.toString("base64url");
    };
    const edge = async (name: string, n: string, e: string) => {
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify({ keys: [{ kty: "RSA", n, e, kid: name }] }));
      return open({ jwksPath: path });
    };
    await expect(edge("rsa-16392", modulus(16_392), "AQAB")).rejects.toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringMatching(/has an RSA key of 16392 bits with e = 65537 \(kid rsa-16392\): 2048–16384 bits/),
    });
    await expect(edge("rsa-e-4", modulus(2048), "BA")).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    for (const [name, n, e] of [["rsa-16384", modulus(16_384), "AQAB"], ["rsa-e-3", modulus(2048), "Aw"]] as const) {
      (await edge(name, n, e)).stop();
    }
    // Each with its reason and the hint (the messages are the user's only clue to a JWKS gone wrong).
    const p521 = generateKeyPairSync("ec", { namedCurve: "P-521" }).publicKey;
    const taken = "2048–16384 bits and an odd e ≥ 3 are taken";
    const privateJwk = rsa.privateKey.export({ format: "jwk" });
    const e2 = { ...jwk(rsa.publicKey, "x"), e: "Ag" };
    const reasons: [string, unknown, string][] = [
      ["private", { keys: [{ ...privateJwk, kid: "x" }] }, "holds a private key: give the public keys only"],
      ["empty", { keys: [] }, "has no keys"],
      ["null", null, "has no keys"],
      ["not-json", "{", "is not JSON"],
      ["null-key", { keys: [null] }, "has a key that is not an RSA, P-256 or P-384 public key"],
      ["enc", { keys: [{ ...jwk(rsa.publicKey, "x"), use: "enc" }] }, "has a key not meant for signatures (use enc)"],
      [
        "key_ops-encrypt",
        { keys: [{ ...jwk(rsa.publicKey, "x"), use: undefined, key_ops: ["encrypt"] }] },
        "has a key not meant for verifying signatures (key_ops encrypt)",
      ],
      ["kid-number-one", { keys: [{ ...jwk(rsa.publicKey, "x"), kid: 1 }] }, "has a key whose kid is not a string"],
      ["p-521", { keys: [jwk(p521, "x")] }, "has a key that is not an RSA, P-256 or P-384 public key (kid x)"],
      ["e=2", { keys: [e2] }, `has an RSA key of 2048 bits with e = 2 (kid x): ${taken}`],
      ["two-keys-one-kid", { keys: [jwk(rsa.publicKey, "x"), jwk(other.publicKey, "x")] }, "has two keys with kid x"],
      ["rs256-on-ec", { keys: [{ ...jwk(ec.publicKey, "x"), alg: "RS256" }] }, 'has a P-256 key whose alg "RS256" is not ES256 (kid x)'],
      ["es384-on-p256", { keys: [{ ...jwk(ec.publicKey, "x"), alg: "ES384" }] }, 'has a P-256 key whose alg "ES384" is not ES256 (kid x)'],
      ["ps256-on-rsa", { keys: [{ ...jwk(rsa.publicKey, "x"), alg: "PS256" }] }, 'has an RSA key whose alg "PS256" is not RS256, RS384 or RS512 (kid x)'],
      ["alg-number", { keys: [{ ...jwk(rsa.publicKey, "x"), alg: 256 }] }, "has an RSA key whose alg 256 is not RS256, RS384 or RS512 (kid x)"],
      ["alg-proto", { keys: [{ ...jwk(rsa.publicKey, "x"), alg: "toString" }] }, 'has an RSA key whose alg "toString" is not RS256, RS384 or RS512 (kid x)'],
    ];
    for (const [name, content, why] of reasons) {
      const path = join(dir, `reason-${name}.json`);
      writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
      await expect(open({ jwksPath: path }), name).rejects.toMatchObject({
        code: "CONFIG_INVALID",
        message: `ServiceAccount JWKS file ${path} ${why}`,
        hint: "write it with: kubectl get --raw /openid/v1/jwks > jwks.json",
      });
    }
    // Keys without kid are taken, two of them too; a token without kid then finds none (it has two to choose from).
    const kidless = join(dir, "kidless.json");
    const { kid: _a, ...first } = jwk(rsa.publicKey, "x");
    const { kid: _b, ...second } = jwk(other.publicKey, "y");
    writeFileSync(kidless, JSON.stringify({ keys: [first, second] }));
    const both = await open({ jwksPath: kidless });
    both.stop();
    writeFileSync(kidless, JSON.stringify({ keys: [first] }));
    const alone = await open({ jwksPath: kidless });
    alone.stop();
    const noKid = `${b64({ alg: "RS256" })}.${b64(claims())}`;
    const token = `${noKid}.${sign("sha256", Buffer.from(noKid), rsa.privateKey).toString("base64url")}`;
    expect(both.verify(token), "two keys").toBeUndefined();
    expect(alone.verify(token), "one key").toMatchObject({ pod: "api-7d9f" });
    // The keys may come from an environment variable, which is no file to check the owner of.
    process.env["RAA_TEST_JWKS"] = JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] });
    try {
      const fromEnv = await open({ jwksPath: "env:RAA_TEST_JWKS" });
      fromEnv.stop();
      expect(fromEnv.verify(jwt(claims()))).toBeDefined();
    } finally {
      delete process.env["RAA_TEST_JWKS"];
    }
    const path = join(dir, "key_ops-verify.json");
    writeFileSync(path, JSON.stringify({ keys: [{ ...jwk(rsa.publicKey, "rsa-1"), use: undefined, key_ops: ["verify"] }] }));
    const t = await open({ jwksPath: path });
    t.stop();
    expect(t.verify(jwt(claims()))).toBeDefined();
  });

  it("opens the JWKS the way node-daemonset.yaml mounts it, laid out as the kubelet lays out that volume", async () => {
    // Before: a configMap volume, whose directory the kubelet makes 0777 (an emptyDir on disk, kubernetes#133641):
    // refused as writable by others, so the DaemonSet as shipped never started. Secret and projected volumes are
    // tmpfs, whose root is 1777 (sticky: nobody replaces root's links in it), which the trusted-path rule accepts.
    const manifests = readManifests();
    const agent = agentContainer(manifests, "node-daemonset.yaml");
    const path = flagValue(agent.args!, "ecs-jwks")!;
    const mount = agent.volumeMounts!.find((m) => path.startsWith(`${m.mountPath}/`))!;
    type Volume = { name: string; configMap?: unknown; secret?: unknown; projected?: unknown };
    const pod = manifests.find((m) => m.file === "node-daemonset.yaml" && m.kind === "DaemonSet") as unknown as {
      spec: { template: { spec: { volumes: Volume[] } } };
    };
    const volume = pod.spec.template.spec.volumes.find((v) => v.name === mount.name)!;
    const root = join(dir, "daemonset-jwks");
    mkdirSync(join(root, "..2026_01_01_00_00_00.1"), { recursive: true });
    chmodSync(root, volume.configMap ? 0o777 : volume.secret || volume.projected ? 0o1777 : 0o755);
    writeFileSync(join(root, "..2026_01_01_00_00_00.1", "jwks.json"), JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] }));
    symlinkSync("..2026_01_01_00_00_00.1", join(root, "..data"));
    symlinkSync("..data/jwks.json", join(root, "jwks.json"));
    const t = await open({ jwksPath: join(root, path.slice(mount.mountPath.length + 1)) });
    expect(t.find(jwt(claims()))).toBeDefined();
    t.stop();
  });

  it("refuses a JWKS file, or a directory on its way, that other users can write (they could add a key of theirs)", async () => {
    // Before: read as it was; whoever could write it could sign a token for any ServiceAccount served.
    const keys = JSON.stringify({ keys: [jwk(rsa.publicKey, "rsa-1")] });
    const path = join(dir, "shared-jwks.json");
    writeFileSync(path, keys);
    chmodSync(path, 0o666);
    await expect(open({ jwksPath: path })).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `ServiceAccount JWKS file ${path} can be written by other users (mode 666)`,
    });
    const open777 = join(dir, "open");
    mkdirSync(open777);
    chmodSync(open777, 0o777);
    writeFileSync(join(open777, "jwks.json"), keys);
    await expect(open({ jwksPath: join(open777, "jwks.json") })).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `directory ${open777} can be written by other users (mode 777)`,
    });
    await expect(open({ jwksPath: join(dir, "missing.json") })).rejects.toMatchObject({ code: "FILE_NOT_FOUND" });
  });
});

describe("serve --ecs-service-account on the command line", () => {
  const ARGS = [
    "serve", "--ecs", "--port", "0", "--certificate", join(dir, "missing.pem"), "--private-key", join(dir, "missing.key"),
    "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
    "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
    "--role-arn", "arn:aws:iam::111122223333:role/reader",
    "--ecs-service-account", "billing/api", "--ecs-jwks", jwksPath, "--ecs-issuer", ISSUER,
  ];
  const run = (argv: readonly string[]) => runMain(argv, { XDG_RUNTIME_DIR: "/nonexistent", CI: "true" });

  it("refuses the API server's audience (its issuer, kubernetes.default.svc…): exit 2, one line", async () => {
    // Before: taken; every bound pod's own API token (kube-api-access) got credentials, and the agent was sent
    // tokens that work against the API server, which the docs say cannot happen.
    for (const audience of [ISSUER, "https://kubernetes.default.svc"]) {
      const r = await run([...ARGS, "--ecs-audience", audience]);
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toBe(
        `roles-anywhere-agent: --ecs-audience ${audience} is the API server's: the pods would send the agent tokens ` +
          "that work against it (give the pods' projected token volume an audience of the agent's own (default: " +
          "roles-anywhere-agent))\n",
      );
    }
  });

  it("refuses the per-pod flags where they would be ignored: exit 2, one line, before any signer", async () => {
    // Before: ignored. --ecs-node-name with --ecs-token-dir restricted nothing; --ecs-service-account without --ecs
    // served IMDS (any local process, every role) instead. The key files do not exist: a run not refused says so.
    const base = ARGS.slice(0, -6).filter((a) => a !== "--ecs");
    const cases: [string[], string][] = [
      [[...base, "--ecs", "--ecs-token-dir", dir, "--ecs-node-name", "node-1"], "--ecs-node-name applies to --ecs-service-account only"],
      [[...base, "--ecs", "--ecs-jwks", jwksPath], "--ecs-jwks applies to --ecs-service-account only"],
      [[...base, "--ecs-audience", "a", "--ecs-issuer", ISSUER], "--ecs-issuer applies to --ecs-service-account only"],
      [[...base, "--ecs-service-account", "billing/api", "--ecs-jwks", jwksPath, "--ecs-issuer", ISSUER], "--ecs-service-account applies to --ecs only"],
      [[...base, "--ecs-token-dir", dir], "--ecs-token-dir applies to --ecs only"],
    ];
    for (const [argv, line] of cases) {
      const r = await run(argv);
      expect([r.code, r.stderr], argv.join(" ")).toEqual([2, `roles-anywhere-agent: ${line}, which is not given\n`]);
    }
  });

  it("refuses a JWKS with a weak key in one line, exit 3", async () => {
    const weak = join(dir, "cli-weak.json");
    writeFileSync(weak, JSON.stringify({ keys: [{ ...jwk(rsa.publicKey, "k1"), e: "AQ" }] }));
    const r = await run([...ARGS.slice(0, -4), "--ecs-jwks", weak, "--ecs-issuer", ISSUER]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^roles-anywhere-agent: ServiceAccount JWKS file .*cli-weak\.json has an RSA key of 2048 bits with e = 1 \(kid k1\)/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
