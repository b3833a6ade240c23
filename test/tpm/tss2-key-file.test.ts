/**
 * TSS2 PRIVATE KEY parsing. The files are written by `openssl asn1parse -genconf` (an independent DER
 * encoder) in every variant real producers emit; the public area is a real P-256 key's.
 */
import { afterAll, describe, expect, it } from "vitest";
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPMA_OBJECT, TPM_ALG, TPM_ECC, TPM_RH } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC, type TpmtPublic } from "../../src/tpm/wire/structures.js";
import { decodePublicArea, describeKey, objectName, publicKeyOf } from "../../src/tpm/keys/public-area.js";
import { encodeTss2KeyFile, parseTss2KeyFile, containsTss2Key } from "../../src/tpm/keys/tss2-key-file.js";
import { DerError } from "../../src/encoding/der.js";
import { computePolicyDigest, describePcrSelection, policyUsesPassword } from "../../src/tpm/keys/policy.js";
import { makeTempDir, openssl } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-tss2-");
afterAll(cleanup);

const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const jwk = publicKey.export({ format: "jwk" });
const ecPublic: TpmtPublic = {
  type: TPM_ALG.ECC,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.userWithAuth | TPMA_OBJECT.sign | TPMA_OBJECT.decrypt,
  authPolicy: Buffer.alloc(0),
  parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, curveID: TPM_ECC.NIST_P256, kdf: { scheme: TPM_ALG.NULL } },
  unique: { x: Buffer.from(jwk.x!, "base64url"), y: Buffer.from(jwk.y!, "base64url") },
};
const publicBytes = encode(TPMT_PUBLIC, ecPublic);
const pubkeyHex = () => Buffer.concat([Buffer.from([publicBytes.length >> 8, publicBytes.length & 0xff]), publicBytes]).toString("hex");
const PRIVKEY_HEX = "0004deadbeef";

let n = 0;
function der(fields: string[], sections: string[] = []): Buffer {
  const conf = join(dir, `k${++n}.cnf`);
  const out = join(dir, `k${n}.der`);
  writeFileSync(conf, ["asn1=SEQUENCE:key", "[key]", ...fields, ...sections].join("\n") + "\n");
  openssl(["asn1parse", "-genconf", conf, "-out", out, "-noout"]);
  return readFileSync(out);
}

function pem(bytes: Buffer, label = "TSS2 PRIVATE KEY"): string {
  return `-----BEGIN ${label}-----\n${bytes.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END ${label}-----\n`;
}

const standard = (over: Partial<Record<"type" | "emptyAuth" | "parent", string>> = {}, extra: string[] = []) => [
  `type=${over.type ?? "OID:2.23.133.10.1.3"}`,
  ...(over.emptyAuth === "" ? [] : [`emptyAuth=EXPLICIT:0,BOOLEAN:${over.emptyAuth ?? "true"}`]),
  ...extra,
  `parent=INTEGER:${over.parent ?? "0x40000001"}`,
  `pubkey=FORMAT:HEX,OCTETSTRING:${pubkeyHex()}`,
  `privkey=FORMAT:HEX,OCTETSTRING:${PRIVKEY_HEX}`,
];

describe("TSS2 PRIVATE KEY files", () => {
  it("reads the fields tpm2-openssl writes, from PEM and from DER (also DER as the factory passes it: a latin1 string)", async () => {
    const bytes = der(standard());
    for (const input of [pem(bytes), bytes, bytes.toString("latin1"), `some text\n${pem(bytes)}-----BEGIN CERTIFICATE-----\n`]) {
      const k = await parseTss2KeyFile(input, "k");
      expect(k.emptyAuth).toBe(true);
      expect(k.parent).toBe(TPM_RH.OWNER);
      expect(k.public.bytes.equals(publicBytes)).toBe(true);
      expect(k.privateBlob.toString("hex")).toBe("deadbeef");
      expect(k.policy).toEqual([]);
      expect(k.rsaParent).toBe(false);
    }
    expect([Buffer.from(pem(bytes), "latin1"), bytes].map(containsTss2Key)).toEqual([true, true]);
    // The legacy blob goes to the TSS2 reader too, which refuses it by name.
    expect([pem(bytes, "PRIVATE KEY"), pem(bytes, "TSS2 KEY BLOB")].map((t) => containsTss2Key(Buffer.from(t, "latin1")))).toEqual([false, true]);
  });

  it("decodes the TSS2 block alone: not from an END line of its label before it, nor a PEM block before it", async () => {
    const bytes = der(standard());
    const before = [`-----END TSS2 PRIVATE KEY-----\n`, pem(Buffer.from([0x30, 0x00]), "CERTIFICATE")];
    for (const text of before) {
      for (const input of [`${text}${pem(bytes)}`, Buffer.from(`${text}${pem(bytes)}`, "latin1")]) {
        expect((await parseTss2KeyFile(input, "k")).privateBlob.toString("hex")).toBe("deadbeef");
      }
    }
  });

  it("the public key and Name come from the public area", async () => {
    const k = await parseTss2KeyFile(pem(der(standard())), "k");
    expect(publicKeyOf(k.public.public, "k").export({ format: "jwk" })).toEqual(jwk);
    expect(objectName(k.public).toString("hex")).toBe("000b" + createHash("sha256").update(publicBytes).digest("hex"));
  });

  it("PEM is read as openssl reads it: base64 that openssl refuses is refused, an RFC 1421 header is skipped", async () => {
    const bytes = der(standard());
    const variants = {
      "a character outside base64": [pem(bytes).replace(/(-----\n[A-Za-z0-9+/]{8})/, "$1!!"), false],
      "base64url characters": [pem(bytes).replace(/(-----\n[A-Za-z0-9+/]{8})./, "$1_"), false],
      "missing padding": [pem(Buffer.concat([bytes, Buffer.alloc(bytes.length % 3 === 2 ? 2 : 0)])).replace(/=+\n/, "\n"), false],
      "a Comment header": [pem(bytes).replace("-----\n", "-----\nComment: made by hand\n\n"), true],
    } as const;
    for (const [name, [text, readable]] of Object.entries(variants)) {
      writeFileSync(join(dir, "variant.pem"), text);
      // The oracle: openssl's PEM reader (asn1parse reads a block of any label; -strictpem: PEM_read, not its
      // lenient base64 fallback, which decodes up to a bad character and then parses whatever that gave)
      const opensslReads = (() => {
        try {
          return openssl(["asn1parse", "-strictpem", "-in", join(dir, "variant.pem")]).length > 0;
        } catch {
          return false;
        }
      })();
      expect(opensslReads, name).toBe(readable);
      if (readable) expect((await parseTss2KeyFile(text, "k")).privateBlob.toString("hex")).toBe("deadbeef");
      else await expect(parseTss2KeyFile(text, "k"), name).rejects.toMatchObject({ code: "PEM_INVALID" });
    }
  });

  it("emptyAuth: BOOLEAN 0x01 (tpm2-openssl ≤ 1.3, old tpm2-tss-engine) is TRUE; absent and FALSE mean a password is needed", async () => {
    const ff = der(standard());
    const i = ff.indexOf(Buffer.from("a0030101ff", "hex"));
    expect(i).toBeGreaterThan(0);
    const one = Buffer.from(ff);
    one[i + 4] = 0x01;
    expect((await parseTss2KeyFile(one, "k")).emptyAuth).toBe(true);
    expect((await parseTss2KeyFile(der(standard({ emptyAuth: "false" })), "k")).emptyAuth).toBe(false);
    expect((await parseTss2KeyFile(der(standard({ emptyAuth: "" })), "k")).emptyAuth).toBe(false);
  });

  it("parents: persistent as a positive 5-byte or a negative 4-byte INTEGER (old 32-bit producers), 0 means owner", async () => {
    expect((await parseTss2KeyFile(der(standard({ parent: "0x81000001" })), "k")).parent).toBe(0x81000001);
    expect((await parseTss2KeyFile(der(standard({ parent: "-0x7EFFFFFF" })), "k")).parent).toBe(0x81000001);
    expect((await parseTss2KeyFile(der(standard({ parent: "0" })), "k")).parent).toBe(TPM_RH.OWNER);
    await expect(parseTss2KeyFile(der(standard({ parent: "0x80000000" })), "k")).rejects.toThrow(/invalid parent 0x80000000 for TPMv2 key/);
    await expect(parseTss2KeyFile(der(standard({ parent: "0x1122334455" })), "k")).rejects.toThrow(/not a 32-bit value/);
  });

  it("description [4] and rsaParent [5] are read; unknown later tags ([6] parentName proposals) are skipped", async () => {
    const k = await parseTss2KeyFile(
      der(standard({}, ["description=EXPLICIT:4,UTF8String:my key", "rsaParent=EXPLICIT:5,BOOLEAN:true", "parentName=EXPLICIT:6,OCTETSTRING:whatever"])),
      "k",
    );
    expect(k.description).toBe("my key");
    expect(k.rsaParent).toBe(true);
  });

  it("policies: PolicyPCR (selection ‖ raw digest) and PolicyAuthValue; the digest matches the one computed from them", async () => {
    const pcrDigest = createHash("sha256").update(Buffer.alloc(32)).digest("hex");
    const k = await parseTss2KeyFile(
      der(standard({}, ["policy=EXPLICIT:1,SEQUENCE:pols"]), [
        "[pols]",
        "a=SEQUENCE:pcr",
        "b=SEQUENCE:auth",
        "[pcr]",
        "cc=EXPLICIT:0,INTEGER:0x17F",
        `body=EXPLICIT:1,FORMAT:HEX,OCTETSTRING:00000001000b03000001${pcrDigest}`,
        "[auth]",
        "cc=EXPLICIT:0,INTEGER:0x16B",
        "body=EXPLICIT:1,OCTETSTRING:",
      ]),
      "k",
    );
    expect(k.policy).toEqual([
      { command: "PolicyPCR", pcrs: [{ hash: TPM_ALG.SHA256, pcrSelect: Buffer.from([0, 0, 1]) }], pcrDigest: Buffer.from(pcrDigest, "hex") },
      { command: "PolicyAuthValue" },
    ]);
    expect(computePolicyDigest([{ command: "PolicyAuthValue" }], "sha256").toString("hex")).toBe("8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e");
    expect(computePolicyDigest([{ command: "PolicyPassword" }], "sha256").toString("hex")).toBe("8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e");
  });

  it("policy commands we cannot satisfy are named in the error", async () => {
    const file = der(standard({}, ["policy=EXPLICIT:1,SEQUENCE:pols"]), [
      "[pols]",
      "a=SEQUENCE:sec",
      "[sec]",
      "cc=EXPLICIT:0,INTEGER:0x151",
      "body=EXPLICIT:1,FORMAT:HEX,OCTETSTRING:4000000100000000",
    ]);
    await expect(parseTss2KeyFile(file, "k")).rejects.toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED", message: expect.stringMatching(/TPM2_PolicySecret/) });
  });

  it("a policy command code that is not a 32-bit value is refused, not named as another command (0x00000000)", async () => {
    for (const code of ["0x" + "11".repeat(40), "0x10000017F"]) {
      const file = der(standard({}, ["policy=EXPLICIT:1,SEQUENCE:pols"]), ["[pols]", "a=SEQUENCE:p", "[p]", `cc=EXPLICIT:0,INTEGER:${code}`, "body=EXPLICIT:1,OCTETSTRING:"]);
      await expect(parseTss2KeyFile(file, "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID", message: "k: not a valid TSS2 PRIVATE KEY structure" });
    }
  });

  it("refuses importable and sealed objects, 'secret', signed policies, bad blobs, other formats — each with its own message", async () => {
    await expect(parseTss2KeyFile(der(standard({ type: "OID:2.23.133.10.1.4" })), "k")).rejects.toThrow(/importable TPM keys/);
    await expect(parseTss2KeyFile(der(standard({ type: "OID:2.23.133.10.1.5" })), "k")).rejects.toThrow(/sealed TPM data/);
    await expect(parseTss2KeyFile(der(standard({ type: "OID:1.2.3.4" })), "k")).rejects.toThrow(/invalid OID for TPMv2 key:1\.2\.3\.4/);
    const longOid = `OID:1.2.${Array(300).fill("123456789").join(".")}`;
    await expect(parseTss2KeyFile(der(standard({ type: longOid })), "k")).rejects.toThrow(/^k: invalid OID for TPMv2 key$/);
    await expect(parseTss2KeyFile(der(standard({}, ["secret=EXPLICIT:2,OCTETSTRING:x"])), "k")).rejects.toThrow(/'secret' field/);
    await expect(
      parseTss2KeyFile(der(standard({}, ["authPolicy=EXPLICIT:3,SEQUENCE:aps"]), ["[aps]", "a=SEQUENCE:ap", "[ap]", "policy=EXPLICIT:1,SEQUENCE:empty", "[empty]"]), "k"),
    ).rejects.toThrow(/signed policies/);
    const badPub = standard().map((l) => (l.startsWith("pubkey=") ? `pubkey=FORMAT:HEX,OCTETSTRING:00ff${publicBytes.toString("hex")}` : l));
    await expect(parseTss2KeyFile(der(badPub), "k")).rejects.toThrow(/invalid length for TPMv2 PUBLIC blob/);
    const badPriv = standard().map((l) => (l.startsWith("privkey=") ? "privkey=FORMAT:HEX,OCTETSTRING:0009ab" : l));
    await expect(parseTss2KeyFile(der(badPriv), "k")).rejects.toThrow(/invalid length for TPMv2 PRIVATE blob/);
    await expect(parseTss2KeyFile(pem(der(standard()), "TSS2 KEY BLOB"), "k")).rejects.toThrow(/legacy "TSS2 KEY BLOB"/);
    await expect(parseTss2KeyFile("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n", "k")).rejects.toMatchObject({ code: "PEM_INVALID" });
    await expect(parseTss2KeyFile(pem(Buffer.from("3003020101", "hex")), "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID" });
  });

  it("DER: a policy entry tagged [0] or SET instead of SEQUENCE is refused (asn1-schema let [0] through)", async () => {
    const entry = ["[auth]", "cc=EXPLICIT:0,INTEGER:0x16B", "body=EXPLICIT:1,OCTETSTRING:"];
    const invalid = { code: "TPM_KEY_INVALID", message: "k: not a valid TSS2 PRIVATE KEY structure" };
    for (const tagged of ["IMPLICIT:0,SEQUENCE:auth", "SET:auth"]) {
      const file = der(standard({}, ["policy=EXPLICIT:1,SEQUENCE:pols"]), ["[pols]", `a=${tagged}`, ...entry]);
      await expect(parseTss2KeyFile(file, "k")).rejects.toMatchObject(invalid);
    }
  });

  it("a sealed-data (keyed-hash) public area is not a signing key", async () => {
    const sealed = encode(TPMT_PUBLIC, {
      type: TPM_ALG.KEYEDHASH,
      nameAlg: TPM_ALG.SHA256,
      objectAttributes: TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.userWithAuth,
      authPolicy: Buffer.alloc(0),
      parameters: { scheme: { scheme: TPM_ALG.NULL } },
      unique: Buffer.alloc(32, 1),
    });
    const fields = standard().map((l) => (l.startsWith("pubkey=") ? `pubkey=FORMAT:HEX,OCTETSTRING:${sealed.length.toString(16).padStart(4, "0")}${sealed.toString("hex")}` : l));
    await expect(parseTss2KeyFile(der(fields), "k")).rejects.toThrow(/unsupported TPMv2 key type \(keyed-hash/);
  });
});

describe("describePcrSelection", () => {
  it("names every selected PCR of every bank, in order", () => {
    const pcrs = [
      { hash: 0x000b, pcrSelect: Buffer.from([0x81, 0x00, 0x01]) },
      { hash: 0x0004, pcrSelect: Buffer.from([0x00, 0x80]) },
      { hash: 0x1234, pcrSelect: Buffer.from([0x02]) },
    ];
    expect(describePcrSelection(pcrs)).toBe("PCR 0,7,16 (sha256) + PCR 15 (sha1) + PCR 1 (alg 0x1234)");
  });
});

describe("describeKey", () => {
  it("names RSA sizes, ECC curves (known or not), keyed-hash and symmetric objects", () => {
    const of = (type: number, parameters: object) => describeKey({ type, parameters } as unknown as TpmtPublic);
    expect(of(TPM_ALG.RSA, { keyBits: 3072 })).toBe("RSA-3072");
    expect(of(TPM_ALG.ECC, { curveID: TPM_ECC.NIST_P384 })).toBe("ECC NIST P-384");
    expect(of(TPM_ALG.ECC, { curveID: 0x20 })).toBe("ECC curve 0x20");
    expect(of(TPM_ALG.KEYEDHASH, {})).toBe("keyed-hash (sealed data or HMAC key)");
    expect(of(TPM_ALG.SYMCIPHER, {})).toBe("symmetric cipher key");
  });
});

describe("hostile TSS2 files built byte by byte (encodings openssl asn1parse does not write)", () => {
  /** DER TLV with a definite length (short or two-byte long form), written here independently of src/encoding. */
  const tlv = (tag: number, ...parts: Buffer[]) => {
    const body = Buffer.concat(parts);
    const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x82, body.length >> 8, body.length & 0xff]);
    return Buffer.concat([Buffer.from([tag]), len, body]);
  };
  const h = (hex: string) => Buffer.from(hex, "hex");
  const OID = h("0606678105 0a0103".replace(/ /g, ""));
  type Parts = { type?: Buffer; emptyAuth?: Buffer; policy?: Buffer[]; secret?: Buffer; parent?: Buffer; pubkey?: Buffer; privkey?: Buffer; after?: Buffer[] };
  const file = (p: Parts = {}) =>
    tlv(0x30,
      p.type ?? OID,
      tlv(0xa0, p.emptyAuth ?? tlv(0x01, h("ff"))),
      ...(p.policy ? [tlv(0xa1, tlv(0x30, ...p.policy))] : []),
      ...(p.secret ? [tlv(0xa2, p.secret)] : []),
      tlv(0x02, p.parent ?? h("40000001")),
      tlv(0x04, p.pubkey ?? h(pubkeyHex())),
      tlv(0x04, p.privkey ?? h(PRIVKEY_HEX)),
      ...(p.after ?? []));
  const entry = (code: Buffer, body = tlv(0xa1, tlv(0x04)), ...rest: Buffer[]) => tlv(0x30, tlv(0xa0, tlv(0x02, code)), body, ...rest);
  const invalid = { code: "TPM_KEY_INVALID", message: "k: not a valid TSS2 PRIVATE KEY structure" };

  it("an RSA key's file parses like an ECC key's (tpm2-openssl's default is RSA-2048)", async () => {
    const n = Buffer.from(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" }).n!, "base64url");
    const rsaPublic: TpmtPublic = {
      ...ecPublic, type: TPM_ALG.RSA, unique: n,
      parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, keyBits: 2048, exponent: 0 },
    } as TpmtPublic;
    const area = encode(TPMT_PUBLIC, rsaPublic);
    const k = await parseTss2KeyFile(file({ pubkey: Buffer.concat([Buffer.from([area.length >> 8, area.length & 0xff]), area]) }), "k");
    expect([k.public.public.type, describeKey(k.public.public)]).toEqual([TPM_ALG.RSA, "RSA-2048"]);
  });

  it("the builder's plain file parses (so the refusals below are the one change each)", async () => {
    const k = await parseTss2KeyFile(file({ policy: [entry(h("016b"))] }), "k");
    expect([k.emptyAuth, k.parent, k.policy]).toEqual([true, TPM_RH.OWNER, [{ command: "PolicyAuthValue" }]]);
  });

  it("parents outside 32 bits are refused, not reduced mod 2^32 to the owner hierarchy or a persistent handle", async () => {
    // 0x100000000 would wrap to 0 (the owner), -0x17EFFFFFF to 0x81000001.
    for (const parent of [h("0100000000"), h("fe81000001"), h("")]) {
      await expect(parseTss2KeyFile(file({ parent }), "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID", message: "k: the parent handle is not a 32-bit value" });
    }
    expect((await parseTss2KeyFile(file({ parent: h("81000001") }), "k")).parent).toBe(0x81000001); // -0x7EFFFFFF, 32-bit
    // -0x7EFFFFFF in 5 bytes is not DER (below: padded INTEGERs).
  });

  it("a parent or policy command code padded with a needless 00 or FF (not DER) is refused: tpm2-openssl and Go refuse it", async () => {
    // The same values minimal: 40000001, 81000001 (negative, 4 octets), 00, 016b.
    for (const parent of [h("0040000001"), h("ff81000001"), h("0000")]) {
      await expect(parseTss2KeyFile(file({ parent }), "k")).rejects.toMatchObject(invalid);
    }
    await expect(parseTss2KeyFile(file({ policy: [entry(h("0000016b"))] }), "k")).rejects.toMatchObject(invalid);
    expect((await parseTss2KeyFile(file({ parent: h("0081000001"), policy: [entry(h("016b"))] }), "k")).parent).toBe(0x81000001);
  });

  it("a field after privkey, a BOOLEAN of two octets, a 'secret' that is not an OCTET STRING: not a valid structure", async () => {
    await expect(parseTss2KeyFile(file({ after: [tlv(0x02, h("01"))] }), "k")).rejects.toMatchObject(invalid);
    await expect(parseTss2KeyFile(file({ emptyAuth: tlv(0x01, h("0000")) }), "k")).rejects.toMatchObject(invalid);
    await expect(parseTss2KeyFile(file({ secret: tlv(0x02, h("01")) }), "k")).rejects.toMatchObject(invalid);
  });

  it("policy entries: the command code not under [0], the body not under [1], a third element, an empty or non-32-bit code", async () => {
    const cases = [
      tlv(0x30, tlv(0xa2, tlv(0x02, h("016b"))), tlv(0xa1, tlv(0x04))),
      tlv(0x30, tlv(0xa0, tlv(0x02, h("016b"))), tlv(0xa2, tlv(0x04))),
      entry(h("016b"), undefined, tlv(0xa2, tlv(0x04))),
      tlv(0x30, tlv(0xa0, tlv(0x02, h("016b")))),
      entry(h("")),
      entry(h("0100000000")),
      entry(h("ff")),
      entry(h("00000000016b")), // six octets, though the value would fit
    ];
    for (const e of cases) await expect(parseTss2KeyFile(file({ policy: [e] }), "k")).rejects.toMatchObject(invalid);
  });

  it("a public or private blob too short to hold its size is refused as such", async () => {
    for (const [field, name] of [["pubkey", "PUBLIC"], ["privkey", "PRIVATE"]] as const) {
      for (const blob of [h(""), h("00")]) {
        await expect(parseTss2KeyFile(file({ [field]: blob }), "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID", message: `k: invalid length for TPMv2 ${name} blob` });
      }
    }
  });

  // Before: an empty private blob parsed and was handed to TPM2_Load, for the TPM to refuse; an empty public area
  // was refused by its decoder ("truncated UINT16").
  it.each([["pubkey", "PUBLIC"], ["privkey", "PRIVATE"]] as const)("a %s of size 0 (its size field alone): refused as such", async (field, name) => {
    await expect(parseTss2KeyFile(file({ [field]: h("0000") }), "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID", message: `k: invalid length for TPMv2 ${name} blob` });
  });

  // tpm2-openssl 1.x (openssl pkey -provider tpm2, against swtpm) loads and signs with each of these files: it reads
  // one DER element and ignores what follows, and unmarshals each TPM2B without checking what is left (the public
  // area is marshalled again for TPM2_Load). The agent uses bytes it can check, as for every other key file: none
  // after the key, none after a blob's declared size, none inside it after the public area.
  it("bytes after the outer SEQUENCE (DER file, PEM block) are refused, naming how many", async () => {
    const followed = Buffer.concat([file(), h("0000")]);
    for (const data of [followed, pem(followed)]) {
      await expect(parseTss2KeyFile(data, "k")).rejects.toMatchObject({
        code: "TPM_KEY_INVALID", message: "k: the TSS2 PRIVATE KEY is followed by 2 bytes that are not part of it",
        hint: expect.stringContaining("openssl pkey -provider tpm2 -provider default -in KEY -out NEW.pem"),
      });
    }
  });

  it("a byte after a blob's declared size, or after the public area inside it, is refused", async () => {
    const sized = (area: Buffer, extra: Buffer, size = area.length) => Buffer.concat([h(size.toString(16).padStart(4, "0")), area, extra]);
    const priv = h(PRIVKEY_HEX).subarray(2);
    for (const [field, blob, message] of [
      ["pubkey", sized(publicBytes, h("00")), "k: invalid length for TPMv2 PUBLIC blob"],
      ["privkey", sized(priv, h("00")), "k: invalid length for TPMv2 PRIVATE blob"],
      ["pubkey", sized(publicBytes, h("00"), publicBytes.length + 1), "k: invalid TPM public area (1 unexpected trailing bytes after k)"],
    ] as const) {
      await expect(parseTss2KeyFile(file({ [field]: blob }), "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID", message });
    }
  });

  it("PEM with a BEGIN line and no END line: no block found", async () => {
    const text = pem(file()).replace("-----END TSS2 PRIVATE KEY-----\n", "");
    await expect(parseTss2KeyFile(text, "k")).rejects.toMatchObject({ code: "PEM_INVALID", message: 'k: no "-----BEGIN TSS2 PRIVATE KEY-----" block found' });
  });
  it("a file cut short after any field, or an empty policy entry: not a valid structure (never a TypeError)", async () => {
    await expect(parseTss2KeyFile(tlv(0x30, OID), "k")).rejects.toMatchObject(invalid);
    await expect(parseTss2KeyFile(tlv(0x30, OID, tlv(0xa0, tlv(0x01, h("ff")))), "k")).rejects.toMatchObject(invalid);
    await expect(parseTss2KeyFile(file({ policy: [tlv(0x30)] }), "k")).rejects.toMatchObject(invalid);
    const err = await parseTss2KeyFile(file({ after: [tlv(0x05)] }), "k").catch((e: unknown) => e);
    expect((err as Error).cause).toBeInstanceOf(DerError);
  });

  it("policy command codes 0 and 0xFFFFFFFF (five octets) are 32-bit values: named as commands we cannot satisfy", async () => {
    for (const [code, name] of [["00", "0x00000000"], ["00ffffffff", "0xffffffff"]] as const) {
      await expect(parseTss2KeyFile(file({ policy: [entry(h(code))] }), "k")).rejects.toMatchObject({
        code: "PRIVATE_KEY_UNSUPPORTED", message: `k: the key's policy uses command ${name}, which this agent cannot satisfy`,
      });
    }
  });

  it("a parent INTEGER of six octets is refused even when its value would fit", async () => {
    await expect(parseTss2KeyFile(file({ parent: h("000081000001") }), "k")).rejects.toMatchObject(invalid);
  });

  it("each refusal has its stable code, and a hint where there is a way out", async () => {
    const oid = (last: number) => Buffer.concat([OID.subarray(0, -1), Buffer.from([last])]);
    const unsupported = (message: string, hint?: RegExp) => ({ code: "PRIVATE_KEY_UNSUPPORTED", message, ...(hint ? { hint: expect.stringMatching(hint) } : {}) });
    await expect(parseTss2KeyFile(file({ type: oid(4) }), "k")).rejects.toMatchObject(unsupported("k: importable TPM keys (2.23.133.10.1.4) are not supported", /tpm2_import/));
    await expect(parseTss2KeyFile(file({ type: oid(5) }), "k")).rejects.toMatchObject(unsupported("k: this is sealed TPM data (2.23.133.10.1.5), not a signing key"));
    await expect(parseTss2KeyFile(pem(file(), "TSS2 KEY BLOB"), "k")).rejects.toMatchObject(unsupported('k: the legacy "TSS2 KEY BLOB" format is not supported', /openssl_tpm2_engine/));
    await expect(parseTss2KeyFile(file({ secret: tlv(0x04) }), "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID", message: "k: TPMv2 key has 'secret' field which should not be set" });
    await expect(parseTss2KeyFile(file({ parent: h("80000001") }), "k")).rejects.toMatchObject({
      code: "TPM_KEY_INVALID", message: "k: invalid parent 0x80000001 for TPMv2 key", hint: expect.stringMatching(/hierarchy.*persistent key/),
    });
    const signed = der(standard({}, ["authPolicy=EXPLICIT:3,SEQUENCE:aps"]), ["[aps]", "a=SEQUENCE:ap", "[ap]", "policy=EXPLICIT:1,SEQUENCE:empty", "[empty]"]);
    await expect(parseTss2KeyFile(signed, "k")).rejects.toMatchObject(unsupported("k: signed policies (authPolicy with TPM2_PolicyAuthorize) are not supported"));
    const oid64 = `1.23${".1".repeat(30)}`;
    await expect(parseTss2KeyFile(der(standard({ type: `OID:${oid64}` })), "k")).rejects.toMatchObject({ code: "TPM_KEY_INVALID", message: `k: invalid OID for TPMv2 key:${oid64}` });
    const sized = (area: Buffer) => Buffer.concat([Buffer.from([area.length >> 8, area.length & 0xff]), area]);
    const otherName = encode(TPMT_PUBLIC, { ...ecPublic, nameAlg: 0x0099 });
    await expect(parseTss2KeyFile(file({ pubkey: sized(otherName) }), "k")).rejects.toMatchObject(unsupported("k: unsupported name algorithm 0x99"));
    const symmetric = encode(TPMT_PUBLIC, { ...ecPublic, type: TPM_ALG.SYMCIPHER, parameters: { sym: { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB } }, unique: Buffer.alloc(32) } as unknown as TpmtPublic);
    await expect(parseTss2KeyFile(file({ pubkey: sized(symmetric) }), "k")).rejects.toMatchObject(unsupported("k: unsupported TPMv2 key type (symmetric cipher key)"));
  });

  it("PEM after text that starts with the byte of a DER SEQUENCE ('0') is read as PEM, from text or bytes", async () => {
    const text = `0x81000001 is not this key's parent\n${pem(file())}`;
    expect((await parseTss2KeyFile(text, "k")).parent).toBe(TPM_RH.OWNER);
    expect((await parseTss2KeyFile(Buffer.from(text, "latin1"), "k")).parent).toBe(TPM_RH.OWNER);
  });

  it("keygen writes what the builder writes, byte for byte: no policy field when there is no policy, emptyAuth always", () => {
    const area = decodePublicArea(publicBytes, "k");
    // The builder writes the outer length in two octets; DER (and keygen) uses one for 128–255.
    const minimal = (f: Buffer) => (f[1] === 0x82 ? Buffer.concat([h("3081"), Buffer.from([f.length - 4]), f.subarray(4)]) : f);
    const written = (over: Partial<Parameters<typeof encodeTss2KeyFile>[0]>) =>
      Buffer.from(encodeTss2KeyFile({ parent: TPM_RH.OWNER, public: area, privateBlob: h("deadbeef"), emptyAuth: true, policy: [], ...over }).replace(/-----[A-Z0-9 ]+-----|\s/g, ""), "base64");
    expect(written({})).toEqual(minimal(file()));
    expect(written({ emptyAuth: false, parent: 0x81000001 })).toEqual(minimal(file({ emptyAuth: tlv(0x01, h("00")), parent: h("0081000001") })));
    expect(written({ policy: [{ command: "PolicyAuthValue" }] })).toEqual(minimal(file({ policy: [entry(h("016b"))] })));
  });
});

describe("policy statements and public keys, against values computed here", () => {
  const sel = [{ hash: TPM_ALG.SHA256, pcrSelect: Buffer.from([0, 0, 1]) }];
  const selBytes = Buffer.from("00000001000b03000001", "hex");
  const extend = (digest: Buffer, ...parts: Buffer[]) => parts.reduce((h, p) => h.update(p), createHash("sha256").update(digest)).digest();

  it("policy digests: PolicyPCR extends with selection ‖ digest, PolicyCommandCode with its own code, PolicyPassword with PolicyAuthValue's", () => {
    const pcrDigest = Buffer.alloc(32, 9);
    const zero = Buffer.alloc(32);
    expect(computePolicyDigest([{ command: "PolicyPCR", pcrs: sel, pcrDigest }], "sha256")).toEqual(extend(zero, Buffer.from("0000017f", "hex"), selBytes, pcrDigest));
    expect(computePolicyDigest([{ command: "PolicyCommandCode", code: 0x15d }], "sha256")).toEqual(extend(zero, Buffer.from("0000016c0000015d", "hex")));
  });

  it("statement bodies: PolicyCommandCode's code; a PolicyPCR digest of another size than the name hash is refused; a body after PolicyAuthValue is ignored", async () => {
    const { decodePolicyStatement } = await import("../../src/tpm/keys/policy.js");
    expect(decodePolicyStatement(0x16c, Buffer.from("0000015d", "hex"), 32, "k")).toEqual({ command: "PolicyCommandCode", code: 0x15d });
    expect(decodePolicyStatement(0x16f, Buffer.from("01", "hex"), 32, "k")).toEqual({ command: "PolicyLocality", locality: 1 });
    expect(() => decodePolicyStatement(0x17f, Buffer.concat([selBytes, Buffer.alloc(20)]), 32, "k")).toThrow(
      expect.objectContaining({ code: "TPM_KEY_INVALID", message: "k: invalid PolicyPCR statement in the key's policy" }),
    );
    expect(decodePolicyStatement(0x16b, Buffer.from("00", "hex"), 32, "k")).toEqual({ command: "PolicyAuthValue" });
    expect(decodePolicyStatement(0x18c, Buffer.from("00", "hex"), 32, "k")).toEqual({ command: "PolicyPassword" });
  });

  it("RSA: exponent 0 means 65537, another is used as given; a modulus above 16384 bits is refused", () => {
    const n = Buffer.from(generateKeyPairSync("rsa", { modulusLength: 1024, publicExponent: 3 }).publicKey.export({ format: "jwk" }).n!, "base64url");
    const rsa = (exponent: number, unique = n) =>
      ({ type: TPM_ALG.RSA, nameAlg: TPM_ALG.SHA256, objectAttributes: 0, authPolicy: Buffer.alloc(0), parameters: { symmetric: { algorithm: TPM_ALG.NULL }, scheme: { scheme: TPM_ALG.NULL }, keyBits: 1024, exponent }, unique }) as TpmtPublic;
    expect(publicKeyOf(rsa(0), "k").export({ format: "jwk" }).e).toBe("AQAB");
    expect(publicKeyOf(rsa(3), "k").export({ format: "jwk" }).e).toBe("Aw");
    expect(() => publicKeyOf(rsa(0, Buffer.alloc(2049, 0xff)), "k")).toThrow(expect.objectContaining({ code: "TPM_KEY_INVALID", message: "k: an RSA key above 16384 bits is not accepted" }));
    expect(publicKeyOf(rsa(0, Buffer.concat([Buffer.from([0xc0]), Buffer.alloc(2047, 0xff)])), "k").asymmetricKeyDetails?.modulusLength).toBe(16384);
  });

  it("ECC: an unknown curve is named; a point off the curve is TPM_KEY_INVALID; an unknown name algorithm has no Name", () => {
    const on = (curveID: number, x = ecPublic.unique.x) => ({ ...ecPublic, parameters: { ...ecPublic.parameters, curveID }, unique: { x, y: ecPublic.unique.y } }) as TpmtPublic;
    expect(() => publicKeyOf(on(0x0020), "k")).toThrow(expect.objectContaining({ code: "PRIVATE_KEY_UNSUPPORTED", message: "k: unsupported ECC curve 0x20" }));
    expect(() => publicKeyOf(on(TPM_ECC.NIST_P256, Buffer.alloc(32, 1)), "k")).toThrow(
      expect.objectContaining({ code: "TPM_KEY_INVALID", message: "k: the TPM public key is not a valid ECC NIST P-256 key", cause: expect.any(Error) }),
    );
    expect(() => objectName({ bytes: publicBytes, public: { ...ecPublic, nameAlg: 0x0099 } as TpmtPublic })).toThrow(
      expect.objectContaining({ code: "TPM_KEY_INVALID", message: "unsupported TPM object name algorithm 0x99" }),
    );
  });
  it("a keyed-hash or symmetric object cannot sign: named, not taken for an ECC key", () => {
    const keyedHash = { type: TPM_ALG.KEYEDHASH, nameAlg: TPM_ALG.SHA256, objectAttributes: 0, authPolicy: Buffer.alloc(0), parameters: { scheme: { scheme: TPM_ALG.NULL } }, unique: Buffer.alloc(32) } as TpmtPublic;
    expect(() => publicKeyOf(keyedHash, "k")).toThrow(
      expect.objectContaining({ code: "PRIVATE_KEY_UNSUPPORTED", message: "k: a keyed-hash (sealed data or HMAC key) cannot sign; only RSA and ECC keys can" }),
    );
  });

  it("a public area cut short or followed by one more byte is refused as an invalid public area, with its cause", () => {
    for (const bytes of [publicBytes.subarray(0, -1), Buffer.concat([publicBytes, Buffer.from([0])])]) {
      let err: unknown;
      try {
        decodePublicArea(bytes, "k");
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: "TPM_KEY_INVALID", message: expect.stringMatching(/^k: invalid TPM public area \(.+\)$/), cause: expect.any(Error) });
    }
  });
});

describe("policyUsesPassword", () => {
  const pcr = { command: "PolicyPCR" as const, pcrs: [], pcrDigest: Buffer.alloc(32) };
  it("a policy with PolicyAuthValue or PolicyPassword needs the key's password; one with neither does not", () => {
    expect(policyUsesPassword([pcr, { command: "PolicyAuthValue" }])).toBe(true);
    expect(policyUsesPassword([pcr, { command: "PolicyPassword" }])).toBe(true);
    expect(policyUsesPassword([{ command: "PolicyPassword" }, pcr])).toBe(true);
    expect(policyUsesPassword([pcr])).toBe(false);
    expect(policyUsesPassword([])).toBe(false);
  });
});

describe("key files through createSigner (the CLI's route): refused from the file, before any TPM is opened", () => {
  it("a legacy TSS2 KEY BLOB file and a DER importable key are named, not taken for a plain key file that holds none", async () => {
    const { createSigner } = await import("../../src/signers/factory.js");
    const cases: [string, Buffer | string, RegExp][] = [
      ["blob.pem", pem(der(standard()), "TSS2 KEY BLOB"), /: the legacy "TSS2 KEY BLOB" format is not supported$/],
      ["importable.der", der(standard({ type: "OID:2.23.133.10.1.4" })), /: importable TPM keys \(2\.23\.133\.10\.1\.4\) are not supported$/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes, { mode: 0o600 });
      const opened = createSigner({ privateKey: path, tpm: { device: `unix:${join(dir, "no-tpm.sock")}` } });
      await expect(opened).rejects.toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED", message: expect.stringMatching(message) });
    }
  });
});
