/**
 * keygen's and install-certificate's key URI (tokenKeyUri): token, serial, id and object, the token's fields named as
 * tokenUri names them. An empty serial is left out whether the label was read as text or as bytes (round 41, S38:
 * with a label that is not UTF-8 the serial's empty bytes were printed, `serial=`, which the text path never did).
 */
import { describe, expect, it } from "vitest";
import { tokenKeyUri } from "../../src/provisioning/pkcs11/token-keygen.js";
import { formatPkcs11Uri } from "../../src/pkcs11/uri.js";

const text = { label: "caf\ufffd", manufacturer: "Maker", model: "HSM", serial: "" };
const latin1 = (serial: Buffer) => ({ ...text, bytes: { label: Buffer.from([0x63, 0x61, 0x66, 0xe9]), manufacturer: Buffer.from("Maker"), model: Buffer.from("HSM"), serial } });

describe("tokenKeyUri", () => {
  it("an empty serial is left out, the label read as text or as bytes", () => {
    expect(formatPkcs11Uri(tokenKeyUri({ ...text, label: "dev" }, Buffer.from([1]), "k"))).toBe("pkcs11:id=%01;object=k;token=dev");
    expect(formatPkcs11Uri(tokenKeyUri(latin1(Buffer.alloc(0)), Buffer.from([1]), "k"))).toBe("pkcs11:id=%01;object=k;token=caf%E9");
  });

  it("a serial is kept, as bytes where they are not UTF-8; a label with U+FFFD read as text is left out", () => {
    expect(formatPkcs11Uri(tokenKeyUri(latin1(Buffer.from("0a1b")), Buffer.from([1]), ""))).toBe("pkcs11:id=%01;serial=0a1b;token=caf%E9");
    expect(formatPkcs11Uri(tokenKeyUri(latin1(Buffer.from([0x30, 0xff])), Buffer.from([1]), "k"))).toBe("pkcs11:id=%01;object=k;serial=0%FF;token=caf%E9");
    expect(formatPkcs11Uri(tokenKeyUri({ ...text, serial: "0a1b" }, Buffer.from([1]), "k"))).toBe("pkcs11:id=%01;object=k;serial=0a1b");
  });

  it("a serial with U+FFFD read as text is left out, as tokenUri leaves it out; no field is there as undefined", () => {
    expect(tokenKeyUri({ ...text, label: "dev", serial: "0\ufffd" }, Buffer.from([1]), "k")).toStrictEqual({ token: "dev", id: Buffer.from([1]), object: "k" });
    expect(tokenKeyUri({ ...text, serial: "0a1b" }, Buffer.from([1]), "")).toStrictEqual({ serial: "0a1b", id: Buffer.from([1]) });
  });
});
