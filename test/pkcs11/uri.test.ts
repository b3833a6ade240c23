import { describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { formatPkcs11Uri, parsePkcs11Uri, takePinValue, uriGivesPin, uriModulePath, uriPinForm, withAttributes, withoutQuery, type Pkcs11Uri } from "../../src/pkcs11/uri.js";
import { AgentError } from "../../src/errors.js";
import { Secret } from "../../src/secrets/secret.js";
import { copiesHolding } from "../helpers/copies-made.js";

/** A parsed URI as plain data (Buffers as hex, the PIN revealed) so that tables can compare it. */
function plain(uri: Pkcs11Uri): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(uri)) {
    if (key === "id") out[key] = (value as Buffer).toString("hex");
    else if (key === "pin") {
      const pin = value as NonNullable<Pkcs11Uri["pin"]>;
      out[key] = pin.kind === "value" ? { value: pin.value.reveal() } : { source: pin.source };
    } else out[key] = value;
  }
  return out;
}

// RFC 7512 section 3 examples (the RFC folds them over several lines for readability; they are one line).
const RFC_EXAMPLES: [string, Record<string, unknown>][] = [
  ["pkcs11:", {}],
  ["pkcs11:object=my-pubkey;type=public", { object: "my-pubkey", type: "public" }],
  ["pkcs11:object=my-key;type=private?pin-source=file:/etc/token", { object: "my-key", type: "private", pin: { source: "file:/etc/token" } }],
  [
    "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
    {
      token: "The Software PKCS#11 Softtoken",
      manufacturer: "Snake Oil, Inc.",
      model: "1.0",
      object: "my-certificate",
      type: "cert",
      id: "69953e5cf4bdec91",
      serial: "",
      pin: { source: "file:/etc/token_pin" },
    },
  ],
  ["pkcs11:object=my-sign-key;type=private?module-name=mypkcs11", { object: "my-sign-key", type: "private", moduleName: "mypkcs11" }],
  ["pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1", { object: "my-sign-key", type: "private", modulePath: "/mnt/libmypkcs11.so.1" }],
  [
    "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin",
    { token: "Software PKCS#11 softtoken", manufacturer: "Snake Oil, Inc.", pin: { value: "the-pin" } },
  ],
  ["pkcs11:slot-description=Sun%20Metaslot", { slotDescription: "Sun Metaslot" }],
  [
    "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23",
    { libraryManufacturer: "Snake Oil, Inc.", libraryDescription: "Soft Token Library", libraryVersion: { major: 1, minor: 23 } },
  ],
  [
    "pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ca%fe%ba%be%de%ad%be%ef;object=my-certificate;type=cert",
    {
      token: "My token% created by Joe",
      libraryVersion: { major: 3, minor: 0 },
      id: "010203baddcafebabedeadbeef",
      object: "my-certificate",
      type: "cert",
    },
  ],
  ["pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert", { token: "A name with a substring %;", object: "my-certificate", type: "cert" }],
  ["pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert", { token: "Name with a small A with acute: á", object: "my-certificate", type: "cert" }],
];

// What `p11tool --list-all` prints (gnutls 3.7) and what the Go helper's listing prints: accepted verbatim.
const TOOL_OUTPUT: [string, Record<string, unknown>][] = [
  [
    "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=f7bf5c770c18b9f8;token=rolesanywhere;id=%01;object=rsa-key;type=private",
    { model: "SoftHSM v2", manufacturer: "SoftHSM project", serial: "f7bf5c770c18b9f8", token: "rolesanywhere", id: "01", object: "rsa-key", type: "private" },
  ],
  [
    "pkcs11:model=PKCS%2315%20emulated;manufacturer=piv_II;serial=00000000;token=PIV_II;id=%02;object=X.509%20Certificate%20for%20Digital%20Signature;type=cert",
    { model: "PKCS#15 emulated", manufacturer: "piv_II", serial: "00000000", token: "PIV_II", id: "02", object: "X.509 Certificate for Digital Signature", type: "cert" },
  ],
  ["pkcs11:slot-id=202947064;slot-manufacturer=SoftHSM%20project", { slotId: 202947064n, slotManufacturer: "SoftHSM project" }],
  ["PKCS11:token=upper-case-scheme", { token: "upper-case-scheme" }],
];

describe("parsePkcs11Uri", () => {
  it.each([...RFC_EXAMPLES, ...TOOL_OUTPUT])("parses %s", (text, expected) => {
    expect(plain(parsePkcs11Uri(text))).toEqual(expected);
  });

  it("keeps id as raw bytes, including bytes that are not UTF-8", () => {
    expect(parsePkcs11Uri("pkcs11:id=%FF%00%80").id).toEqual(Buffer.from([0xff, 0x00, 0x80]));
  });

  it("keeps a label's leading byte-order mark, as the token's label is read (objects.ts), and prints it again", () => {
    const uri = parsePkcs11Uri("pkcs11:token=%EF%BB%BFt;object=%EF%BB%BFkey");
    expect([uri.token, uri.object]).toEqual(["\uFEFFt", "\uFEFFkey"]);
    expect(formatPkcs11Uri(uri)).toBe("pkcs11:object=%EF%BB%BFkey;token=%EF%BB%BFt");
  });

  it("reads an unencoded id character as its byte", () => {
    expect(parsePkcs11Uri("pkcs11:id=A%42").id).toEqual(Buffer.from("AB"));
  });

  const ERRORS: [string, RegExp][] = [
    ["file:/etc/key.pem", /does not start with pkcs11:/],
    ["pkcs11:label=my-key", /unknown attribute label.*did you mean object=/],
    ["pkcs11:token=a;vendor-aaa=value-a", /unknown attribute vendor-aaa/],
    ["pkcs11:object=a;object=b", /path attribute object appears twice/],
    ["pkcs11:object=a?pin-value=1&pin-value=2", /the query is malformed after pin-value/], // maybe one PIN with a raw &
    ["pkcs11:object=a?pin-value=1&pin-source=/f", /both pin-value and pin-source/],
    ["pkcs11:object", /"object" where name=value was expected/],
    ["pkcs11:=x", /an attribute with no name/],
    ["pkcs11:object=a?module-path", /query has "module-path" where name=value/],
    ["pkcs11:object=a%2", /% that is not followed by two hex digits/],
    ["pkcs11:object=a%zz", /% that is not followed by two hex digits/],
    ["pkcs11:object=%C3%28", /not valid UTF-8/],
    ["pkcs11:slot-id=0x12", /slot-id must be a decimal number/],
    ["pkcs11:slot-id=-1", /slot-id must be a decimal number/],
    ["pkcs11:library-version=1.2.3", /library-version must look like/],
    ["pkcs11:library-version=256", /library-version parts must be 0 to 255 \(CK_VERSION bytes\), not "256"/],
    ["pkcs11:library-version=2.256", /library-version parts must be 0 to 255/],
    ["pkcs11:slot-id=18446744073709551616", /slot-id must be below 2\^64 \(a CK_SLOT_ID\), not "18446744073709551616"/],
    ["pkcs11:type=certificate", /type must be one of public, private, cert, secret-key, data/],
    ["pkcs11:object=a?module-path=lib.so", /module-path must be an absolute path/],
    ["pkcs11:pin-value=1234", /pin-value is a query attribute but appears in the path/],
    ["pkcs11:?token=a", /token is a path attribute but appears in the query/],
    ["pkcs11:object=a?pin-source=", /pin-source is empty/],
  ];
  it.each(ERRORS)("rejects %s", (text, message) => {
    let error: unknown;
    try {
      parsePkcs11Uri(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe("PKCS11_URI_INVALID");
    expect((error as AgentError).toOneLine()).toMatch(message);
  });

  it.each([
    "pkcs11:token=a;object=k?module-path=/usr/lib/x.so;pin-value=Secr3t", // ; where the query wants &
    "pkcs11:token=a;object=k?pin-source=/run/pin;pin-value=Secr3t",
    "pkcs11:token=a;object=k&pin-value=Secr3t", // & where the path wants ?
    "pkcs11:token=a;id=%01&pin-value=Secr3t",
  ])("refuses %s without quoting the PIN held in another attribute's value", (text) => {
    // Before: parsed, the value then quoted by the next error (stderr: "cannot load the PKCS#11 module
    // /usr/lib/x.so;pin-value=Secr3t", "no private key matches pkcs11:object=k%26pin-value%3DSecr3t").
    let error: unknown;
    try {
      parsePkcs11Uri(text);
    } catch (e) {
      error = e;
    }
    expect((error as AgentError | undefined)?.code).toBe("PKCS11_URI_INVALID");
    expect((error as AgentError).toOneLine()).toMatch(/holds pin-value=/);
    expect((error as AgentError).toOneLine()).not.toMatch(/Secr3t/);
  });

  it.each([
    ["file:/etc/key.pem", "write it as pkcs11:token=…;object=…"],
    ["pkcs11:object", "separate path attributes with ; as in pkcs11:token=A;object=B"],
    ["pkcs11:object=a?module-path", "separate query attributes with & as in ?pin-source=/path&module-path=/lib.so"],
    ["pkcs11:object=a;object=b", "give each attribute once"],
    ["pkcs11:object=a%2", "write a literal % as %25"],
    ["pkcs11:object=a?pin-source=", "give a file path or a file: URI"],
    ["pkcs11:object=a?pin-value=1&pin-source=/f", "keep only one of them"],
    ["pkcs11:pin-value=1234", "move it after a ? as in pkcs11:object=key?pin-value=…"],
    ["pkcs11:?token=a", "move it before the ?"],
    ["pkcs11:label=my-key", "did you mean object=?"],
    ["pkcs11:object=k?module-path=/usr/lib/x.so;pin-value=1", "separate path attributes with ;, then ? before the query, whose attributes are separated by &"],
    ["pkcs11:token=a;vendor-aaa=value-a", "path attributes: id, library-description, library-manufacturer, " +
      "library-version, " +
      "manufacturer, model, object, serial, slot-description, slot-id, slot-manufacturer, token, type; " +
      "query attributes: module-name, module-path, pin-source, pin-value"],
  ])("says how to fix %s", (text, hint) => {
    expect(() => parsePkcs11Uri(text)).toThrow(expect.objectContaining({ code: "PKCS11_URI_INVALID", hint }));
  });

  it("reads a library-version of several digits on either side of the dot", () => {
    expect(parsePkcs11Uri("pkcs11:library-version=10.12").libraryVersion).toEqual({ major: 10, minor: 12 });
    expect(parsePkcs11Uri("pkcs11:library-version=3").libraryVersion).toEqual({ major: 3, minor: 0 });
    expect(parsePkcs11Uri("pkcs11:library-version=255.255").libraryVersion).toEqual({ major: 255, minor: 255 }); // p11-kit refuses 255
  });

  it("wipes a pin-value it does not hand back: both PIN attributes given, a malformed query after it, or only asked whether a PIN is given", () => {
    const made = vi.spyOn(Secret, "fromBytes");
    try {
      const both = "pkcs11:object=a?pin-value=1234&pin-source=/f";
      expect(() => parsePkcs11Uri(both)).toThrow(/both pin-value and pin-source/);
      expect(uriGivesPin("pkcs11:object=a?pin-value=1234")).toBe(true);
      expect(() => parsePkcs11Uri("pkcs11:object=a?pin-value=12&34")).toThrow(/the query is malformed after pin-value/);
      expect(made).toHaveBeenCalledTimes(3);
      for (const { value } of made.mock.results) {
        expect(() => (value as Secret).reveal()).toThrow("secret used after it was wiped");
      }
    } finally {
      made.mockRestore();
    }
  });

  it("never puts the pin-value in an error message", () => {
    try {
      parsePkcs11Uri("pkcs11:object=a?pin-value=s3cr3t&pin-source=/f");
      expect.unreachable();
    } catch (e) {
      expect((e as AgentError).toOneLine()).not.toContain("s3cr3t");
    }
  });

  it("does not show the PIN when the parsed URI is printed or inspected", () => {
    const uri = parsePkcs11Uri("pkcs11:object=a?pin-value=s3cr3t");
    expect(JSON.stringify(uri)).not.toContain("s3cr3t");
    expect(String(uri.pin?.kind === "value" ? uri.pin.value : "")).not.toContain("s3cr3t");
  });
});

describe("formatPkcs11Uri", () => {
  it("sorts path and query attributes by name and encodes id fully", () => {
    const uri = parsePkcs11Uri(
      "pkcs11:type=cert;token=My%20Token;object=key%3B1;id=AB;serial=42;manufacturer=Snake%20Oil,%20Inc.?pin-source=file:/etc/pin&module-path=/usr/lib/x.so",
    );
    expect(formatPkcs11Uri(uri)).toBe(
      "pkcs11:id=%41%42;manufacturer=Snake%20Oil,%20Inc.;object=key%3B1;serial=42;token=My%20Token;type=cert?module-path=/usr/lib/x.so&pin-source=file:/etc/pin",
    );
  });

  it("prints the same text for URIs that differ only in attribute order or encoding", () => {
    const a = parsePkcs11Uri("pkcs11:token=t;object=%6by");
    const b = parsePkcs11Uri("pkcs11:object=ky;token=%74");
    expect(formatPkcs11Uri(a)).toBe(formatPkcs11Uri(b));
  });

  it("leaves pin-value out unless asked", () => {
    const uri = parsePkcs11Uri("pkcs11:object=a?pin-value=12%2634");
    expect(formatPkcs11Uri(uri)).toBe("pkcs11:object=a");
    expect(formatPkcs11Uri(uri, { revealPinValue: true })).toBe("pkcs11:object=a?pin-value=12%2634");
  });

  it("encodes characters that are delimiters and non-ASCII text", () => {
    const uri = withAttributes(parsePkcs11Uri("pkcs11:"), { token: "a;b?c&d%e f/g", object: "á" });
    expect(formatPkcs11Uri(uri)).toBe("pkcs11:object=%C3%A1;token=a%3Bb%3Fc%26d%25e%20f%2Fg");
  });

  it.each(RFC_EXAMPLES)("round-trips the RFC example %s", (text) => {
    const once = parsePkcs11Uri(text);
    const printed = formatPkcs11Uri(once, { revealPinValue: true });
    expect(plain(parsePkcs11Uri(printed))).toEqual(plain(once));
    expect(formatPkcs11Uri(parsePkcs11Uri(printed), { revealPinValue: true })).toBe(printed);
  });

  it("round-trips arbitrary labels and ids (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), fc.uint8Array({ maxLength: 20 }), fc.option(fc.string({ maxLength: 20 }), { nil: undefined }), (label, id, pin) => {
        let uri = withAttributes(parsePkcs11Uri(pin === undefined ? "pkcs11:" : `pkcs11:?pin-value=${encodeURIComponent(pin)}`), {
          object: label,
          id: Buffer.from(id),
          token: `${label}!`,
        });
        uri = parsePkcs11Uri(formatPkcs11Uri(uri, { revealPinValue: true }));
        expect(uri.object).toBe(label);
        expect(uri.token).toBe(`${label}!`);
        expect(uri.id).toEqual(Buffer.from(id));
        if (pin !== undefined) expect(uri.pin?.kind === "value" && uri.pin.value.reveal()).toBe(pin);
      }),
    );
  });

  it("withoutQuery drops module and PIN attributes", () => {
    const uri = parsePkcs11Uri("pkcs11:token=t?pin-value=1&module-name=softhsm2");
    expect(formatPkcs11Uri(withoutQuery(uri), { revealPinValue: true })).toBe("pkcs11:token=t");
    expect(Object.keys(withoutQuery(uri))).toEqual(["token"]); // removed, not kept as undefined
  });

  it("prints slot-id and library-version, a 64-bit slot id exactly", () => {
    const text = "pkcs11:library-version=2.40;slot-id=18446744073709551615";
    expect(formatPkcs11Uri(parsePkcs11Uri(text))).toBe(text);
  });
});

describe("uriGivesPin", () => {
  it.each([
    ["pkcs11:token=t?pin-source=/run/pin", true],
    ["PKCS11:token=t?pin-value=1234", true],
    // After another query attribute (the regex copies it replaced missed this: "&pin-value=").
    ["pkcs11:token=t?module-path=/usr/lib/p.so&pin-value=1234", true],
    ["pkcs11:token=t?module-path=/usr/lib/p.so&pin-source=file:/run/pin", true],
    ["pkcs11:token=t;object=pin-value=1", false],
    ["pkcs11:token=t?module-path=/usr/lib/p.so", false],
    ["pkcs11:bogus=1?pin-value=1", false],
    ["/etc/key.pem", false],
  ])("%s → %s", (text, gives) => {
    expect(uriGivesPin(text)).toBe(gives);
  });
});

describe("a pin-value's bytes", () => {
  it.each([["12345678"], ["12%2F45678"]])("%s: the Secret is the one copy made; once it is wiped, no buffer holds the PIN", async (raw) => {
    const pin = Buffer.from(decodeURIComponent(raw));
    const { result, left } = await copiesHolding(Buffer.from(pin.subarray(0, 3)), async () => {
      const { pin: parsed } = parsePkcs11Uri(`pkcs11:object=k?pin-value=${raw}`);
      const same = parsed?.kind === "value" && parsed.value.use((b) => b.equals(pin));
      if (parsed?.kind === "value") parsed.value.wipe();
      return same;
    });
    expect(result).toBe(true);
    expect(left).toBe(0); // before: 1, the piece decoded before joining
  });
});

describe("a pin-value with a raw & in it", () => {
  it.each([
    ["pkcs11:object=k?pin-value=se&cr3t"],
    ["pkcs11:object=k?pin-value=se&cr3t=x"],
    ["pkcs11:object=k?pin-value=se&module-path=relative&cr3t"],
  ])("%s: the error quotes no part of the PIN, and the PIN's bytes are wiped", (text) => {
    const made = vi.spyOn(Secret, "fromBytes");
    let line = "";
    try {
      parsePkcs11Uri(text);
    } catch (error) {
      line = (error as AgentError).toOneLine();
    } finally {
      made.mockRestore();
    }
    expect(line).toMatch(/invalid pkcs11: URI: .*pin-value.*%26/); // before: `the query has "cr3t" where …`, `unknown attribute cr3t`
    expect(line).not.toMatch(/cr3t|relative/);
    expect(made.mock.results.every((r) => { try { (r.value as Secret).use(() => 0); return false; } catch { return true; } })).toBe(true);
  });
});

describe("uriModulePath (what a reload digests of a key's or certificate's URI)", () => {
  it("a URI's module-path, percent-decoded; undefined without one, for a file path, or for a URI that does not parse", () => {
    expect(uriModulePath("pkcs11:object=k?module-path=/usr/lib/my%20module.so")).toBe("/usr/lib/my module.so");
    expect(uriModulePath("pkcs11:object=k?module-name=softhsm2")).toBeUndefined();
    expect(uriModulePath("/etc/keys/module-path=x.pem")).toBeUndefined();
    expect(uriModulePath("pkcs11:bogus=1?module-path=/usr/lib/x.so")).toBeUndefined();
  });

  it("reads no pin-value of a URI without module-path; one read with it is wiped", () => {
    const made: Buffer[] = [];
    const fromBytes = Secret.fromBytes.bind(Secret);
    const spy = vi.spyOn(Secret, "fromBytes").mockImplementation((bytes) => (made.push(bytes), fromBytes(bytes)));
    try {
      expect(uriModulePath("pkcs11:object=k?pin-value=1234")).toBeUndefined();
      expect(made).toEqual([]);
      expect(uriModulePath("pkcs11:object=k?module-path=/usr/lib/x.so&pin-value=1234")).toBe("/usr/lib/x.so");
      expect(made).toHaveLength(1);
      expect([...made[0]!]).toEqual([0, 0, 0, 0]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("a PIN holding the text pin-value=", () => {
  it("is a pin-value's value, read as given (only another attribute's value holding pin-value= is refused)", () => {
    const { pin } = parsePkcs11Uri("pkcs11:object=k?pin-value=pin-value=1");
    expect(pin?.kind === "value" && pin.value.reveal()).toBe("pin-value=1");
  });
});

describe("uriPinForm (how a URI gives the PIN, for doctor: never the PIN itself)", () => {
  it.each([
    ["pkcs11:object=k?pin-value=1234", { kind: "value" }],
    ["pkcs11:object=k?pin-source=/run/pin", { kind: "source", source: "/run/pin" }],
    ["pkcs11:object=k", undefined],
    ["pkcs11:bogus=1?pin-value=1234", undefined],
  ])("%s → %j", (text, form) => {
    expect(uriPinForm(text)).toStrictEqual(form); // a pin-value's form holds no Secret, not even a wiped one
  });
});

describe("takePinValue (a pin-value taken out of a URI's text into bytes)", () => {
  it("gives the URI printed without it and the PIN; undefined without one, for a file path, or for a URI that does not parse", () => {
    const taken = takePinValue("pkcs11:token=t;object=k?pin-value=12%2634&module-path=/usr/lib/x.so");
    expect(taken?.text).toBe("pkcs11:object=k;token=t?module-path=/usr/lib/x.so");
    expect(taken?.pin.reveal()).toBe("12&34");
    expect(takePinValue("pkcs11:object=k?pin-source=/run/pin")).toBeUndefined();
    expect(takePinValue("/etc/keys/pin-value=1.pem")).toBeUndefined();
    expect(takePinValue("pkcs11:bogus=1?pin-value=1234")).toBeUndefined(); // the signer says what is wrong with it
  });
});

// Disagreements with p11-kit's parser found by scripts/fuzz-pkcs11-uri.mjs (round 30); p11-kit's readings are what
// p11_kit_uri_parse(…, P11_KIT_URI_FOR_ANY, …) of libp11-kit 0.24.1 gives (scripts/p11kit-uri-oracle.c).
describe("pkcs11: URIs as p11-kit reads them", () => {
  it("a label holding pin-value= prints as a URI the agent reads back (before: 'token holds pin-value=')", () => {
    // A token is a device anyone can plug in: its labels are its maker's. p11-kit reads the printed URI as the label
    // 78 3f 70 69 6e 2d 76 61 6c 75 65 3d 31 32 33 34 ("x?pin-value=1234"), CKA_LABEL the same bytes, and its
    // p11_kit_uri_format prints that CKA_LABEL as object=x%3Fpin-value%3D1234 too.
    const label = "x?pin-value=1234";
    const printed = formatPkcs11Uri(withAttributes(parsePkcs11Uri("pkcs11:"), { token: label, object: label }));
    expect(printed).toBe("pkcs11:object=x%3Fpin-value%3D1234;token=x%3Fpin-value%3D1234");
    expect(plain(parsePkcs11Uri(printed))).toEqual({ object: label, token: label });
  });

  it("reads trailing blanks of a token, slot or library value as the field's padding; an object label keeps them", () => {
    // p11-kit: token=abc%20%20 is the label 61 62 63 + 29 blanks, as is token=abc: the same token.
    const uri = parsePkcs11Uri("pkcs11:token=abc%20%20;slot-description=Slot%203%20%20;manufacturer=%20Maker%20;object=k%20");
    expect(plain(uri)).toEqual({ token: "abc", slotDescription: "Slot 3", manufacturer: " Maker", object: "k " });
  });

  it.each(["module-path=/tmp/fifo%00.so", "pin-source=file:/run/pin%00.bak", "module-name=softhsm2%00x"])(
    "refuses a NUL in %s: a file or module name holds none (before: checked as given, opened cut at the NUL)",
    (query) => {
      // p11-kit reads module-path=/tmp/fifo%00.so as /tmp/fifo (a C string): the agent checked that "/tmp/fifo\0.so"
      // is a regular file (stat refuses the NUL, so the check passed) and dlopen() then opened /tmp/fifo, a FIFO: a hang.
      expect(() => parsePkcs11Uri(`pkcs11:object=k?${query}`)).toThrow(expect.objectContaining({ code: "PKCS11_URI_INVALID", message: expect.stringMatching(/NUL/) }));
    },
  );
});

describe("a token field whose bytes are not UTF-8 (round 41, L1)", () => {
  it("token=caf%E9 parses to those bytes (it was refused as not UTF-8), trailing blanks cut as for text", () => {
    expect(parsePkcs11Uri("pkcs11:token=caf%E9;object=k")).toEqual({ token: Buffer.from("caf\xe9", "latin1"), object: "k" });
    expect(parsePkcs11Uri("pkcs11:token=caf%E9%20%20").token).toEqual(Buffer.from("caf\xe9", "latin1"));
    const uri = parsePkcs11Uri("pkcs11:manufacturer=%FFa;model=m%C3;serial=%80");
    expect([uri.manufacturer, uri.model, uri.serial]).toEqual([Buffer.from([0xff, 0x61]), Buffer.from([0x6d, 0xc3]), Buffer.from([0x80])]);
  });

  it("prints those bytes percent-encoded, RFC 7512's safe characters as they are: print → parse → the same bytes", () => {
    const text = "pkcs11:model=m%C3;object=k;serial=%80;token=caf%E9:%FF%3B";
    const uri = parsePkcs11Uri(text);
    expect(formatPkcs11Uri(uri)).toBe(text);
    expect(parsePkcs11Uri(formatPkcs11Uri(uri))).toEqual(uri);
  });

  it("every byte 0x00-0xFF, in a field that is not UTF-8, prints and parses back as itself (round 41, S38)", () => {
    for (let byte = 0; byte < 256; byte++) {
      for (const field of [Buffer.from([byte, 0xff]), Buffer.from([0xff, byte, 0x61])]) {
        expect(parsePkcs11Uri(formatPkcs11Uri({ token: field })).token).toEqual(field);
      }
    }
  });

  it("a ? inside the query is the value's (a module path holding one), not a second query", () => {
    expect(parsePkcs11Uri("pkcs11:object=a?module-path=/opt/a?b.so").modulePath).toBe("/opt/a?b.so");
  });

  it("a value that is not a string (plain JS) is a usage error, not a URI error", () => {
    expect(() => parsePkcs11Uri(42 as never)).toThrow(expect.objectContaining({ code: "USAGE", message: "parsePkcs11Uri: the URI must be a string" }));
  });

  it("valid UTF-8 stays text; the other attributes still refuse bytes that are not UTF-8", () => {
    expect(parsePkcs11Uri("pkcs11:token=caf%C3%A9").token).toBe("caf\u00e9");
    for (const text of ["pkcs11:object=%E9", "pkcs11:slot-description=%E9", "pkcs11:library-manufacturer=%E9", "pkcs11:object=a?module-path=/%E9.so"]) {
      expect(() => parsePkcs11Uri(text)).toThrow(/not valid UTF-8/);
    }
  });
});
