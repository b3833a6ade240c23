/**
 * Deeply nested DER (the asn1js/node-forge class of stack-exhaustion bugs): every parser of outside DER must
 * answer with a result or its typed error, never a RangeError, for nesting far beyond any real structure. The inputs are
 * SEQUENCEs (and explicit context tags) nested 10 000 deep, alone and inside the outer shape each parser
 * expects; valid files nest less than 10 deep.
 */
import { afterAll, describe, expect, it } from "vitest";
import { Secret } from "../../src/secrets/secret.js";
import { keyMaterialFromFile } from "../../src/signers/file/key-material.js";
import { loadSigningKey } from "../../src/signers/file/key-parsers.js";
import { readPkcs12 } from "../../src/signers/file/pkcs12.js";
import { parseTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { parseCertificateBytes } from "../../src/x509/read-certificates.js";
import { parsesOrAgentError, printTallies } from "./fuzz-support.js";

const DEPTH = 10_000;
afterAll(() => printTallies("deep-nesting"));

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

function nested(tag: number, depth = DEPTH, inner: Buffer = Buffer.from([0x05, 0x00])): Buffer {
  let value: Buffer = inner;
  for (let i = 0; i < depth; i++) value = tlv(tag, value);
  return value;
}

/** Indefinite-length nesting (BER): `30 80` … `00 00`. */
function nestedIndefinite(depth = DEPTH): Buffer {
  return Buffer.concat([Buffer.alloc(depth * 2, Buffer.from([0x30, 0x80])), Buffer.from([0x05, 0x00]), Buffer.alloc(depth * 2, 0)]);
}

const INPUTS: Record<string, Buffer> = {
  "nested SEQUENCE": nested(0x30),
  "nested [0] EXPLICIT": nested(0xa0),
  "nested SET": nested(0x31),
  "indefinite-length nesting": nestedIndefinite(),
  "nesting inside a SEQUENCE { INTEGER, … }": tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x00]), nested(0x30)])),
  "nesting inside an OCTET STRING": tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x03]), tlv(0x04, nested(0x30))])),
};

const pem = (label: string, der: Buffer) => Buffer.from(`-----BEGIN ${label}-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END ${label}-----\n`);

describe("deeply nested DER: every DER parser returns or throws its typed error", () => {
  for (const [name, der] of Object.entries(INPUTS)) {
    it(name, async () => {
      const password = async () => Secret.fromUtf8("x");
      const parsers: Record<string, () => unknown> = {
        "certificate (DER)": () => parseCertificateBytes(der, "deep.der"),
        "certificate (PEM)": () => parseCertificateBytes(pem("CERTIFICATE", der), "deep.pem"),
        "private key (DER)": async () => loadSigningKey(await keyMaterialFromFile(der, "deep.key", password)),
        "PKCS#8 (PEM)": async () => loadSigningKey(await keyMaterialFromFile(pem("PRIVATE KEY", der), "deep.pem", password)),
        "encrypted PKCS#8 (PEM)": async () =>
          loadSigningKey(await keyMaterialFromFile(pem("ENCRYPTED PRIVATE KEY", der), "deep.pem", password)),
        "PKCS#12": () => readPkcs12(der, "deep.p12", { keyPassword: { kind: "value", value: "x" } }),
        "TSS2 key file (PEM)": () => parseTss2KeyFile(pem("TSS2 PRIVATE KEY", der), "deep.tss2"),
        "TSS2 key file (DER)": () => parseTss2KeyFile(der, "deep.tss2"),
      };
      for (const [what, parse] of Object.entries(parsers)) {
        // parsesOrAgentError rethrows anything that is not an AgentError (a RangeError included). A certificate
        // reader may "parse" (find no certificate in the bytes); no parser may accept a key or key file.
        const parsed = await parsesOrAgentError(`deep nesting: ${what}`, parse);
        if (!what.startsWith("certificate")) expect(parsed, what).toBe(false);
      }
    });
  }
});
