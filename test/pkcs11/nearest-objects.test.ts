import { describe, expect, it } from "vitest";
import { describeObject, nearestObjects, objectNotFoundHint, type TokenObjectRecord } from "../../src/pkcs11/nearest-objects.js";

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
    expect(nearestObjects({}, token, "cert", 2)).toEqual([token[0], token[2]]);
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
