import { describe, expect, it } from "vitest";
import { describeObject, nearestObjects, objectNotFoundHint, type TokenObjectRecord } from "../../src/pkcs11/nearest-objects.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";

const id = (...b: number[]) => Uint8Array.from(b);
const token: TokenObjectRecord[] = [
  { label: "rsa-key", id: id(1), class: "cert" },
  { label: "rsa-key", id: id(1), class: "private" },
  { label: "ec-key", id: id(2), class: "cert" },
  { label: "ec-key", id: id(2), class: "private" },
  { label: "gateway 7", id: id(0x10, 0x07), class: "private" },
  // 200 unrelated objects: the answer must stay short
  ...Array.from({ length: 200 }, (_, i) => ({ label: `archive-${i}`, id: id(0xa0, i & 0xff), class: "cert" as const })),
];

describe("nearest PKCS#11 objects", () => {
  it("names objects the way a URI does", () => {
    expect(describeObject(token[4]!)).toBe("object=gateway%207;id=%10%07;type=private");
  });

  it("a mistyped label: the nearest objects, at most three, the wanted class first", () => {
    const near = nearestObjects({ label: "rsa-kye" }, token, "cert");
    expect(near[0]).toEqual(token[0]);
    expect(near.length).toBeLessThanOrEqual(3);
    expect(objectNotFoundHint({ label: "ec-kee" }, token, "cert", "--certificate")).toBe("nearest objects on the token: object=ec-key;id=%02;type=cert, object=ec-key;id=%02;type=private");
  });

  it("a URI with neither object= nor id=: the first objects of the wanted class", () => {
    expect(nearestObjects({}, token, "private")).toEqual([token[1], token[3], token[4]]);
    expect(nearestObjects({}, token, "cert")).toEqual([token[0], token[2], token[5]]);
  });

  it("a key that exists without a certificate is named as such", () => {
    expect(objectNotFoundHint({ label: "gateway 7" }, token, "cert", "--certificate")).toBe(
      "the key exists (object=gateway%207;id=%10%07;type=private) but has no certificate on the token: install one with 'roles-anywhere-agent install-certificate', or give the certificate file with --certificate",
    );
    expect(objectNotFoundHint({ id: id(0x10, 0x07) }, token, "cert", "--certificate")).toMatch(/^the key exists/);
  });

  it("nothing close: one short line, not a listing of the token", () => {
    const hint = objectNotFoundHint({ label: "completely-different-name" }, token, "cert", "--certificate");
    expect(hint).toMatch(/^the token holds 202 certificate\(s\), none close to that name/);
    expect(hint.length).toBeLessThan(250);
    expect(objectNotFoundHint({ label: "x" }, [], "cert", "--certificate")).toMatch(/shows no certificates/);
  });
});

describe("nearest PKCS#11 objects: each part of the measure", () => {
  const alpha = { label: "alpha", id: id(1), class: "private" } as const;
  const alphaCert = { label: "alpha", id: id(1), class: "cert" } as const;
  const alphb = { label: "alphb", id: id(2), class: "cert" } as const;
  const beta = { label: "beta", id: id(3), class: "cert" } as const;
  const few: TokenObjectRecord[] = [alpha, alphaCert, alphb, beta];

  it("an object with no label or no id is named without an empty attribute", () => {
    expect(describeObject({ label: "", id: id(), class: "cert" })).toBe("type=cert");
    expect(describeObject({ label: "k", id: id(), class: "private" })).toBe("object=k;type=private");
  });

  it("names only objects that work pasted back: a certificate or a private key (before: type=data could be named)", () => {
    for (const o of [{ label: "a b", id: id(1), class: "cert" }, { label: "", id: id(9), class: "private" }] as const) {
      expect(parsePkcs11Uri(`pkcs11:${describeObject(o)}`)).toMatchObject({ type: o.class });
    }
    // @ts-expect-error -- a data object (as a secret key or public key) is never suggested: the signer refuses its URI
    describeObject({ label: "", id: id(9), class: "data" });
  });

  it("the wanted class first among equally near objects, then the others; never more than the limit", () => {
    expect(nearestObjects({ label: "alpha" }, few, "cert")).toEqual([alphaCert, alpha, alphb]);
    expect(nearestObjects({ label: "alpha" }, few, "private")).toEqual([alpha, alphaCert, alphb]);
    const many = Array.from({ length: 6 }, (_, i) => ({ label: `node-${i}`, id: id(i), class: "cert" as const }));
    expect(nearestObjects({ label: "node-" }, many, "cert")).toEqual(many.slice(0, 3));
    expect(nearestObjects({}, many, "cert")).toHaveLength(3);
  });

  it("ties are ordered by label, not by the token's order", () => {
    const b = { label: "node-b", id: id(1), class: "cert" } as const;
    const a = { label: "node-a", id: id(2), class: "cert" } as const;
    expect(nearestObjects({ label: "node-c" }, [b, a], "cert")).toEqual([a, b]);
  });

  it("an id alone is compared as hex; label and id together add up, against twice the bound", () => {
    expect(nearestObjects({ id: id(2) }, few, "cert")).toEqual([alphb]);
    expect(nearestObjects({ id: id(0x10, 0x02) }, few, "cert")).toEqual([]);
    // alphb: label 1/5 + id 0; alpha (either class): label 0 + id 1/2 = 0.5, within 2 × 0.34 only
    expect(nearestObjects({ label: "alpha", id: id(2) }, few, "cert")).toEqual([alphb, alphaCert, alpha]);
  });

  it("the bound is inclusive: 17 letters changed of 50 is near, 18 is not", () => {
    const label = "a".repeat(50);
    const at = (n: number) => ({ label: "b".repeat(n) + "a".repeat(50 - n), id: id(n), class: "cert" as const });
    expect(nearestObjects({ label }, [at(17)], "cert")).toEqual([at(17)]);
    expect(nearestObjects({ label }, [at(18)], "cert")).toEqual([]);
  });
});

describe("the hint for a URI that matched nothing", () => {
  const key = { label: "k", id: id(1), class: "private" } as const;
  const cert = { label: "k", id: id(1), class: "cert" } as const;

  it("'the key exists' only for a key named exactly, by label and by id, and never for an object of the wanted class", () => {
    expect(objectNotFoundHint({ label: "k" }, [cert, key], "cert", "--certificate")).toMatch(/^the key exists \(object=k;id=%01;type=private\)/);
    expect(objectNotFoundHint({ label: "k", id: id(2) }, [key], "cert", "--certificate")).toBe("nearest objects on the token: object=k;id=%01;type=private");
    expect(objectNotFoundHint({ label: "k", id: id(1) }, [key], "cert", "--certificate")).toMatch(/^the key exists/);
    const wide = { label: "w", id: id(0x10, 0x01), class: "private" } as const;
    expect(objectNotFoundHint({ id: id(0x10, 0x02) }, [wide], "cert", "--certificate")).toBe("nearest objects on the token: object=w;id=%10%01;type=private");
  });

  it("a URI naming no object: the key of another class is not 'the' key", () => {
    expect(objectNotFoundHint({}, [key], "cert", "--certificate")).toBe("the token shows no certificates; give the certificate as a file with --certificate");
  });

  it("private keys wanted: counted and named as private keys", () => {
    expect(objectNotFoundHint({ label: "completely-different" }, [key], "private", "--certificate")).toMatch(
      /^the token holds 1 private key\(s\), none close to that name; list them with/,
    );
    expect(objectNotFoundHint({ label: "completely-different" }, [cert], "private", "--certificate")).toBe("the token shows no private keys");
    expect(objectNotFoundHint({ label: "k" }, [cert], "private", "--certificate")).toBe("nearest objects on the token: object=k;id=%01;type=cert");
  });
});
