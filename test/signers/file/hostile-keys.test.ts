/**
 * Issue 20, defects 1–3: private keys that made Node abort (SIGABRT in asymmetricKeyDetails), RSA keys with
 * inconsistent components that loaded and then failed or signed wrongly, and RSA moduli so large that one
 * signature froze the event loop for seconds. Each is refused when the key is loaded: exit 3, one line
 * naming the file. The abort reproducers run in a child process (they would take the test runner down).
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, verify, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { bundleCliInto } from "../../helpers/bundle-cli.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadKeyFile } from "../../../src/signers/file/key-material.js";
import { Certificate } from "../../../src/x509/certificate.js";
import { parseCertificateBytes } from "../../../src/x509/read-certificates.js";
import { makeTempDir, openssl } from "../../helpers/pki.js";
import { workOf } from "../../helpers/work-counted.js";
import { cloneDer, decodeDer, der, encodeDer, integerBytes, integerValue, type DerNode } from "../../fuzz/der-tree.js";

const tmp = makeTempDir("raa-hostile-keys-");
afterAll(() => tmp.cleanup());
const path = (name: string) => join(tmp.dir, name);
const pem = (label: string, body: Buffer) => `-----BEGIN ${label}-----\n${body.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END ${label}-----\n`;

function write(name: string, label: string, body: Buffer): string {
  writeFileSync(path(name), pem(label, body), { mode: 0o600 });
  return path(name);
}

const pkcs8 = (key: KeyObject) => key.export({ type: "pkcs8", format: "der" });
const p256 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;

/** The PKCS#8 tree with the inner key decoded (PKCS#8 → [version, algorithm, OCTET STRING { key }]). */
function tree(key: KeyObject): DerNode {
  return decodeDer(pkcs8(key))!;
}
const innerKey = (t: DerNode) => t.children![2]!.children![0]!;

/** EC key variants (PKCS#8) that Node 20 aborts on or that are not the key they claim to be. */
function ecVariant(kind: "long-scalar" | "explicit-bogus-order" | "zero-scalar" | "scalar-ge-order" | "wrong-public-point"): Buffer {
  const t = tree(p256);
  const ec = innerKey(t); // ECPrivateKey: [version, OCTET STRING d, [1] public key]
  const d = ec.children![1]!;
  switch (kind) {
    case "long-scalar":
      d.value = Buffer.alloc(50, 0x11);
      ec.children = ec.children!.slice(0, 2);
      break;
    case "zero-scalar":
      d.value = Buffer.alloc(32);
      break;
    case "scalar-ge-order":
      d.value = Buffer.alloc(32, 0xff);
      break;
    case "wrong-public-point": {
      const other = decodeDer(pkcs8(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey))!;
      ec.children![2] = cloneDer(innerKey(other).children![2]!);
      break;
    }
    case "explicit-bogus-order":
      return explicitBogusOrder();
  }
  return encodeDer(t);
}

/** `openssl ecparam -param_enc explicit` key whose curve order was replaced by a small bogus one. */
function explicitBogusOrder(): Buffer {
  openssl(["ecparam", "-name", "prime256v1", "-param_enc", "explicit", "-genkey", "-noout", "-out", path("explicit.pem")]);
  openssl(["pkcs8", "-topk8", "-nocrypt", "-in", path("explicit.pem"), "-outform", "DER", "-out", path("explicit.der")]);
  const t = decodeDer(readFileSync(path("explicit.der")))!;
  const params = t.children![1]!.children![1]!; // SEQUENCE { version, fieldID, curve, base, order, cofactor }
  params.children![4]!.value = integerBytes(0xfffffffffn);
  return encodeDer(t);
}

/** RSA key variants (PKCS#1 inside PKCS#8) with inconsistent or oversized components. */
function rsaVariant(kind: "negative-prime" | "wrong-dp" | "wrong-qinv" | "wrong-d" | "p-times-q-not-n"): Buffer {
  const t = tree(rsa);
  const fields = innerKey(t).children!; // version, n, e, d, p, q, dP, dQ, qInv
  const set = (i: number, v: bigint) => (fields[i]!.value = integerBytes(v));
  const get = (i: number) => integerValue(fields[i]!);
  switch (kind) {
    case "negative-prime":
      set(4, -get(4));
      break;
    case "wrong-dp":
      set(6, get(6) + 2n);
      break;
    case "wrong-qinv":
      set(8, get(8) + 1n);
      break;
    case "wrong-d":
      set(3, get(3) + 2n);
      break;
    case "p-times-q-not-n":
      set(1, get(1) + 2n);
      break;
  }
  return encodeDer(t);
}

/** A structurally complete RSAPrivateKey with a modulus of `bits` bits (not a key: refused by size first). */
function hugeRsa(bits: number): Buffer {
  const big = (1n << BigInt(bits - 1)) | 1n;
  const key = der.seq(der.int(0), der.int(big), der.int(65537), der.int(big - 2n), der.int(big), der.int(3), der.int(1), der.int(1), der.int(1));
  return encodeDer(der.seq(der.int(0), der.seq(der.oid("1.2.840.113549.1.1.1"), der.nul()), der.octets(key)));
}

describe("EC keys are checked from their ASN.1 before node:crypto sees them", () => {
  it.each([
    ["long-scalar", "PRIVATE_KEY_INVALID", /private scalar is 50 bytes/],
    ["zero-scalar", "PRIVATE_KEY_INVALID", /not between 1 and the curve order/],
    ["scalar-ge-order", "PRIVATE_KEY_INVALID", /not between 1 and the curve order/],
    ["wrong-public-point", "PRIVATE_KEY_INVALID", /not the public half/],
    ["explicit-bogus-order", "PRIVATE_KEY_UNSUPPORTED", /explicit curve parameters/],
  ] as const)("%s: %s naming the file", async (kind, code, message) => {
    const file = write(`${kind}.pem`, "PRIVATE KEY", ecVariant(kind));
    const error = await loadKeyFile(file, {}).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
    expect((error as Error).message).toContain(file);
  });

  it("SEC1 keys are checked the same way (50-byte scalar)", async () => {
    const file = write("sec1-long.pem", "EC PRIVATE KEY", encodeDer(innerKeyWithCurve(ecVariant("long-scalar"))));
    await expect(loadKeyFile(file, {})).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID" });
  });

  it("valid keys whose public point is stored compressed, or absent, still load", async () => {
    const t = tree(p256);
    innerKey(t).children = innerKey(t).children!.slice(0, 2);
    await expect(loadKeyFile(write("no-point.pem", "PRIVATE KEY", encodeDer(t)), {})).resolves.toMatchObject({ key: { description: "EC P-256" } });
    const c = tree(p256);
    const jwk = p256.export({ format: "jwk" });
    const y = Buffer.from(jwk.y!, "base64url");
    const x = Buffer.from(jwk.x!, "base64url");
    innerKey(c).children![2] = der.explicit(1, der.bits(Buffer.concat([Buffer.from([2 + (y[31]! & 1)]), x])));
    await expect(loadKeyFile(write("compressed.pem", "PRIVATE KEY", encodeDer(c)), {})).resolves.toMatchObject({ key: { description: "EC P-256" } });
  });
});

describe("EC key checks at their edges", () => {
  const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
  const load = (name: string, body: Buffer) =>
    loadKeyFile(write(name, "PRIVATE KEY", body), {}).then(() => undefined, (e: unknown) => e);
  const invalid = (message: RegExp) => ({ code: "PRIVATE_KEY_INVALID", message: expect.stringMatching(message) });
  const withScalar = (d: Buffer) => {
    const t = tree(p256);
    innerKey(t).children = [innerKey(t).children![0]!, { tag: 0x04, value: d }];
    return encodeDer(t);
  };
  const withPoint = (bitString: DerNode) => {
    const t = tree(p256);
    innerKey(t).children![2] = der.explicit(1, bitString);
    return encodeDer(t);
  };
  const jwk = p256.export({ format: "jwk" });
  const x = Buffer.from(jwk.x!, "base64url");
  const y = Buffer.from(jwk.y!, "base64url");

  it("an empty private scalar, or one equal to the curve order, is refused", async () => {
    expect(await load("empty-scalar.pem", withScalar(Buffer.alloc(0)))).toMatchObject(
      invalid(/its P-256 private scalar is 0 bytes long \(expected 32\)/),
    );
    const order = Buffer.from(P256_ORDER.toString(16), "hex");
    expect(await load("order-scalar.pem", withScalar(order))).toMatchObject(invalid(/not between 1 and the curve order/));
  });

  it("a stored public point with unused bits in its BIT STRING, or compressed with the wrong parity, is refused", async () => {
    const unused = { tag: 0x03, value: Buffer.concat([Buffer.from([1, 4]), x, y]) };
    expect(await load("point-unused-bits.pem", withPoint(unused))).toMatchObject(invalid(/BIT STRING has unused bits/));
    const wrongParity = der.bits(Buffer.concat([Buffer.from([3 - (y[31]! & 1)]), x]));
    expect(await load("point-wrong-parity.pem", withPoint(wrongParity))).toMatchObject(invalid(/not the public half/));
  });
});

describe("EC key structure: where the curve is named, and what may follow", () => {
  const P384 = "1.3.132.0.34";
  const P256 = "1.2.840.10045.3.1.7";
  /** The PKCS#8 P-256 key with its ECPrivateKey's elements after the scalar replaced. */
  const withTail = (...tail: DerNode[]) => {
    const t = tree(p256);
    const [version, scalar] = innerKey(t).children!;
    innerKey(t).children = [version!, scalar!, ...tail];
    return t;
  };
  const publicKey = () => cloneDer(innerKey(tree(p256)).children![2]!);
  const load = (name: string, label: string, body: Buffer) =>
    loadKeyFile(write(name, label, body), {}).then(() => undefined, (e: unknown) => e);

  it.each([
    ["[0] naming P-384 inside a P-256 PKCS#8 header", () => withTail(der.explicit(0, der.oid(P384))), /the curve in the key differs from the curve in its PKCS#8 header/],
    ["[0] holding the curve and one more element", () => withTail({ tag: 0xa0, children: [der.oid(P256), der.nul()] }), /\(trailing data in EC parameters\)/],
    ["[1] holding the point and one more element", () => withTail({ tag: 0xa1, children: [der.bits(Buffer.from([4, 1, 2])), der.nul()] }), /\(trailing data after the EC public key\)/],
    ["[1] before [0]", () => withTail(der.explicit(1, der.nul()), der.explicit(0, der.oid(P256))), /\(unexpected element in ECPrivateKey\)/],
    ["[0], [1] and a third element", () => withTail(der.explicit(0, der.oid(P256)), der.explicit(1, der.nul()), der.nul()), /\(unexpected element in ECPrivateKey\)/],
    ["a bare NULL where [1] belongs", () => withTail(der.nul()), /\(unexpected element in ECPrivateKey\)/],
  ] as const)("%s: PRIVATE_KEY_INVALID saying why", async (name, make, message) => {
    const error = await load(`${name.replace(/\W+/g, "-")}.pem`, "PRIVATE KEY", encodeDer(make()));
    expect(error).toMatchObject({ code: "PRIVATE_KEY_INVALID", message: expect.stringMatching(message) });
  });

  it("the same [0] that matches its header, with the point in [1], still loads", async () => {
    const body = encodeDer(withTail(der.explicit(0, der.oid(P256)), publicKey()));
    expect(await load("matching-params.pem", "PRIVATE KEY", body)).toBeUndefined();
  });

  it("a SEC1 key with no [0] has no curve: refused as malformed, not taken as P-256", async () => {
    const sec1 = innerKey(tree(p256));
    const error = await load("sec1-no-curve.pem", "EC PRIVATE KEY", encodeDer(sec1));
    expect(error).toMatchObject({ code: "PRIVATE_KEY_INVALID", message: expect.stringContaining("EC PRIVATE KEY without curve parameters") });
  });
});

/** SEC1 `EC PRIVATE KEY` from a PKCS#8 one: the inner ECPrivateKey with the curve OID put in as [0]. */
function innerKeyWithCurve(pkcs8Der: Buffer): DerNode {
  const t = decodeDer(pkcs8Der)!;
  const curve = t.children![1]!.children![1]!;
  const ec = innerKey(t);
  return { tag: 0x30, children: [ec.children![0]!, ec.children![1]!, der.explicit(0, curve)] };
}

describe("RSA keys with inconsistent components are refused when loaded", () => {
  it.each([
    ["negative-prime", /negative/],
    ["wrong-dp", /dP, dQ/],
    ["wrong-qinv", /qInv/],
    ["wrong-d", /inverse of e/],
    ["p-times-q-not-n", /do not multiply/],
  ] as const)("%s: PRIVATE_KEY_INVALID naming the file, before any signature", async (kind, message) => {
    const file = write(`${kind}.pem`, "PRIVATE KEY", rsaVariant(kind));
    const error = await loadKeyFile(file, {}).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: "PRIVATE_KEY_INVALID", message: expect.stringMatching(message) });
    expect((error as Error).message).toContain(file);
  });

  type Edit = readonly [number, (fields: bigint[]) => bigint | Buffer];
  const invalid = "PRIVATE_KEY_INVALID";
  it.each([
    ["p = 1, q = n", [[4, () => 1n], [5, (f) => f[1]!]], invalid, /do not multiply to the modulus n/],
    ["e = d = dP = dQ = 1 (signing copies)", [2, 3, 6, 7].map((i) => [i, () => 1n]), invalid, /public exponent/],
    ["an even e", [[2, () => 65538n]], invalid, /public exponent is not an odd number between 3 and n/],
    ["e = n + 2", [[2, (f) => f[1]! + 2n]], invalid, /public exponent is not an odd number between 3 and n/],
    // d + k·λ(n) still inverts e modulo p−1 and q−1 and leaves dP, dQ alone: only the d < n bound refuses it.
    ["d raised by multiples of λ(n) to at least n", [[3, ([, n, , d, p, q]) => {
      const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
      const lambda = ((p! - 1n) * (q! - 1n)) / gcd(p! - 1n, q! - 1n);
      return d! + ((n! - d! + lambda - 1n) / lambda) * lambda;
    }]], invalid, /private exponent d is not the inverse of e modulo/],
    ["qInv = 0", [[8, () => 0n]], invalid, /one of its RSA components is zero/],
    ["an empty INTEGER for qInv", [[8, () => Buffer.alloc(0)]], invalid, /malformed PKCS#8 key \(empty INTEGER\)/],
    ["version 1 (multi-prime) with two primes", [[0, () => 1n]], "PRIVATE_KEY_UNSUPPORTED", /multi-prime RSA/],
  ] as Array<[string, Edit[], string, RegExp]>)("%s: %s saying why", async (name, edits, code, message) => {
    const t = tree(rsa);
    const fields = innerKey(t).children!; // version, n, e, d, p, q, dP, dQ, qInv
    const values = fields.map((f) => integerValue(f));
    for (const [i, value] of edits) {
      const v = value(values);
      fields[i]!.value = typeof v === "bigint" ? integerBytes(v) : v;
    }
    const file = write(`${name.replace(/\W+/g, "-")}.pem`, "PRIVATE KEY", encodeDer(t));
    const error = await loadKeyFile(file, {}).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
  });

  it("RSA AlgorithmIdentifier parameters other than NULL: PRIVATE_KEY_INVALID", async () => {
    const t = tree(rsa);
    t.children![1]!.children![1] = der.int(0);
    const file = write("rsa-params.pem", "PRIVATE KEY", encodeDer(t));
    const error = await loadKeyFile(file, {}).then(() => undefined, (e: unknown) => e);
    const message = expect.stringContaining("(RSA parameters are not NULL, as RFC 8017 wants)");
    expect(error).toMatchObject({ code: "PRIVATE_KEY_INVALID", message });
  });

  it("PKCS#1 keys are checked the same way", async () => {
    const inner = innerKey(decodeDer(rsaVariant("wrong-qinv"))!);
    await expect(loadKeyFile(write("pkcs1-qinv.pem", "RSA PRIVATE KEY", encodeDer(inner)), {})).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID" });
  });
});

describe("an RSA key whose signatures its own public key does not verify is refused when it signs", () => {
  const big = (b64url: string) => BigInt(`0x${Buffer.from(b64url, "base64url").toString("hex")}`);
  const inverse = (a: bigint, m: bigint): bigint => {
    let [r0, r1, s0, s1] = [((a % m) + m) % m, m, 1n, 0n];
    while (r1 !== 0n) {
      const q = r0 / r1;
      [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
    }
    if (r0 !== 1n) throw new Error("not invertible");
    return ((s0 % m) + m) % m;
  };
  const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

  /** p is a 1024-bit RSA modulus (composite), q a prime: every structural check passes, signatures are wrong. */
  function compositePrimeKey(): Buffer {
    for (;;) {
      const p = big(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "jwk" }).n!);
      const q = big(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "jwk" }).p!);
      const e = 65537n;
      const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
      if (gcd(e, lambda) !== 1n) continue;
      const d = inverse(e, lambda);
      const fields = [p * q, e, d, p, q, d % (p - 1n), d % (q - 1n), inverse(q, p)];
      const key = der.seq(der.int(0), ...fields.map((v) => der.int(v)));
      return encodeDer(der.seq(der.int(0), der.seq(der.oid("1.2.840.113549.1.1.1"), der.nul()), der.octets(key)));
    }
  }

  it.each([false, true])("a composite 'prime' passes the key checks; sign() refuses (off thread %s)", async (off) => {
    const { createFileSigner } = await import("../../../src/signers/file/file-signer.js");
    const inconsistent = "its own public key does not verify the signature (the key's components are inconsistent)";
    const file = write(`composite-${off}.pem`, "PRIVATE KEY", compositePrimeKey());
    const signer = await createFileSigner({ keyPath: file, signOffThread: off });
    await expect(signer.sign(Buffer.from("m"))).rejects.toMatchObject({
      code: "PRIVATE_KEY_INVALID",
      message: `signing with the private key in ${file} failed: ${inconsistent}`,
    });
  });
});

describe("RSA above 16384 bits (OpenSSL's own limit) is refused in keys and certificates", () => {
  it("a 16385-bit key: PRIVATE_KEY_UNSUPPORTED, before any arithmetic on it", async () => {
    const file = write("rsa16385.pem", "PRIVATE KEY", hugeRsa(16_385));
    // node:crypto never sees it (the key's own arithmetic: hugeRsa's p·q is not n, a check that would say so first)
    const crypto = createRequire(import.meta.url)("node:crypto");
    const { work } = await workOf(crypto, "createPrivateKey", () => workOf(crypto, "sign", () =>
      expect(loadKeyFile(file, {})).rejects.toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED", message: expect.stringContaining("RSA 16385-bit") }), { budget: 0 }), { budget: 0 });
    expect(work).toBe(0);
  });

  it("a 32768-bit key (12 s per signature before): refused", async () => {
    await expect(loadKeyFile(write("rsa32768.pem", "PRIVATE KEY", hugeRsa(32_768)), {})).rejects.toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED" });
  });

  it("a certificate with a 16385-bit RSA key: CERTIFICATE_INVALID; 16384 bits is the largest accepted", () => {
    const certFor = (bits: number) => {
      const spki = encodeDer(der.seq(der.seq(der.oid("1.2.840.113549.1.1.1"), der.nul()), der.bits(encodeDer(der.seq(der.int((1n << BigInt(bits - 1)) | 1n), der.int(65537))))));
      return selfSignedShell(spki);
    };
    expect(() => new Certificate(certFor(16_385))).toThrow(expect.objectContaining({ code: "CERTIFICATE_INVALID", message: expect.stringContaining("16385-bit RSA key") }));
    expect(() => new Certificate(certFor(16_384))).not.toThrow();
  });

  it("a certificate file (DER or PEM) with a 16385-bit RSA key says so, not that it holds no certificate", () => {
    const spki = encodeDer(der.seq(der.seq(der.oid("1.2.840.113549.1.1.1"), der.nul()), der.bits(encodeDer(der.seq(der.int((1n << 16_384n) | 1n), der.int(65537))))));
    const big = selfSignedShell(spki);
    const refused = expect.objectContaining({ code: "CERTIFICATE_INVALID", message: expect.stringContaining("16385-bit RSA key") });
    expect(() => parseCertificateBytes(big, "big.der")).toThrow(refused);
    const pem = `-----BEGIN CERTIFICATE-----\n${big.toString("base64")}\n-----END CERTIFICATE-----\n`;
    expect(() => parseCertificateBytes(Buffer.from(pem), "big.pem")).toThrow(refused);
    // Bytes that are no certificate at all are still for the caller to name (a PKCS#12 file, or an error).
    expect(parseCertificateBytes(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]), "x.der")).toEqual([]);
    const corrupt = `-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n`;
    expect(() => parseCertificateBytes(Buffer.from(corrupt), "bad.pem")).toThrow(expect.objectContaining({ message: expect.stringContaining("bad.pem (certificate #1) is not a valid X.509 certificate") }));
  });
});

/** A syntactically valid X.509 certificate around `spki` (its signature is not valid: parsing does not check it). */
function selfSignedShell(spki: Buffer): Buffer {
  const name = der.seq({ tag: 0x31, children: [der.seq(der.oid("2.5.4.3"), der.node(0x0c, Buffer.from("big")))] });
  const alg = der.seq(der.oid("1.2.840.113549.1.1.11"), der.nul());
  const validity = der.seq(der.node(0x17, Buffer.from("250101000000Z")), der.node(0x17, Buffer.from("350101000000Z")));
  const tbs = der.seq(der.explicit(0, der.int(2)), der.int(1), alg, name, validity, name, decodeDer(spki)!);
  return encodeDer(der.seq(tbs, alg, der.bits(Buffer.alloc(16, 1))));
}

describe("the CLI on keys that aborted Node 20 (SIGABRT, exit 134): exit 3, one line naming the file", () => {
  let cli: string;
  let cert: string;
  beforeAll(async () => {
    cli = await bundleCliInto(tmp.dir);
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("c.key"), "-subj", "/CN=c", "-out", path("c.pem")]);
    cert = path("c.pem");
  }, 60_000);

  it.each(["long-scalar", "explicit-bogus-order"] as const)("%s", (kind) => {
    const file = write(`cli-${kind}.pem`, "PRIVATE KEY", ecVariant(kind));
    const r = spawnSync(process.execPath, [cli, "sign-string", "--private-key", file, "--certificate", cert], { encoding: "utf8", timeout: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(3);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(file);
    expect(r.stderr).not.toMatch(/Assertion failed|stack trace|\n\s+at /);
  });

  it("an RSA key with a wrong CRT coefficient: exit 3 before signing, not exit 1 (internal error)", () => {
    const file = write("cli-rsa.pem", "PRIVATE KEY", rsaVariant("wrong-qinv"));
    const r = spawnSync(process.execPath, [cli, "sign-string", "--private-key", file], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(3);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("every error of a signer's sign() is an AgentError", () => {
  it("a key whose sign() throws a plain Error: PRIVATE_KEY_INVALID, not an internal error", async () => {
    const { withTypedSignErrors } = await import("../../../src/signers/factory.js");
    const { createFileSigner } = await import("../../../src/signers/file/file-signer.js");
    const file = write("ok.pem", "PRIVATE KEY", pkcs8(p256));
    const signer = await createFileSigner({ keyPath: file });
    signer.sign = async () => {
      throw new Error("bignum routines::no inverse");
    };
    withTypedSignErrors(signer);
    await expect(signer.sign(Buffer.from("x"))).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID", message: expect.stringContaining("no inverse") });
  });
});

describe("long-running programs sign with file keys on the thread pool", () => {
  it("the event loop turns while a 4096-bit RSA signature is computed, and the signature verifies", async () => {
    const { createFileSigner } = await import("../../../src/signers/file/file-signer.js");
    const big = generateKeyPairSync("rsa", { modulusLength: 4096 });
    const file = write("rsa4096.pem", "PRIVATE KEY", pkcs8(big.privateKey));
    const signer = await createFileSigner({ keyPath: file, signOffThread: true });
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    try {
      const signatures = await Promise.all(Array.from({ length: 4 }, () => signer.sign(Buffer.from("m"))));
      expect(signatures.every((s) => verify("sha256", Buffer.from("m"), big.publicKey, s))).toBe(true);
    } finally {
      clearInterval(timer);
    }
    expect(turns).toBeGreaterThan(0);
  });

  it("credential sources (agent, serve, update, SDK) ask for it; one-shot commands do not", () => {
    const source = readFileSync("src/credentials/credential-source.ts", "utf8");
    expect(source).toMatch(/createSigner\(\{ \.\.\.signerOptions, signOffThread: true \}[,)]/);
    expect(readFileSync("src/cli/commands/credential-process.ts", "utf8")).not.toContain("signOffThread");
  });
});
