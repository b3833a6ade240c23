import type { OctetString as OctetStringType } from "@peculiar/asn1-schema";
import { InputError } from "../../errors.js";
import type { DigestAlgorithm, Signer } from "../../signers/signer.js";
import { derBitString, derSequence } from "../../encoding/der-writer.js";
import { encodeName, type Asn1Modules } from "../../x509/names/encode-name.js";
import type { SubjectRdns } from "../../x509/names/parse-subject.js";
import { signatureAlgorithmFor } from "./signature-algorithm.js";
import { parseSan, type SanRequest } from "./subject-alt-names.js";
import { encodePem } from "../../encoding/pem.js";
import { NODE_HASH_NAME, signatureVerifies } from "../../encoding/signature-encoding.js";
import { isPlainObject, isText, type Kinds } from "../../own-value.js";
import { optionName, refuseWrongOptions, type OptionNames } from "../../signers/options.js";

export interface CsrRequest {
  readonly subject: SubjectRdns;
  readonly subjectAltNames?: readonly SanRequest[];
  /** Digest for the signature; default SHA-256 for RSA, the curve's own size for EC. */
  readonly digest?: DigestAlgorithm | undefined;
  /** How errors name the subject: `"flags"` (default), the CLI's `--subject`; `"options"`, `request.subject`. */
  readonly names?: OptionNames | undefined;
}

export interface BuiltCsr {
  readonly der: Buffer;
  readonly pem: string;
}

const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

const isOid = (oid: unknown) => typeof oid === "string" && /^[0-2](\.(0|[1-9]\d*))+$/.test(oid);
const isAttribute = (a: unknown) => isPlainObject(a) && isText(a["value"]) && isOid(a["oid"]);
/** What parseSan gives for `TYPE:value`. */
const isSan = (s: unknown) => {
  try {
    const { type, value } = s as SanRequest;
    return parseSan(`${type}:${value}`).type === type && value === value.trim();
  } catch {
    return false;
  }
};
/** buildCsr's arguments, for callers in plain JavaScript. */
const CSR_KINDS: Kinds = {
  signer: { publicKey: "function", sign: "function", backend: "string" },
  request: {
    subject: [(s) => Array.isArray(s) && s.every((r) => Array.isArray(r) && r.length > 0 && r.every(isAttribute)),
      "an array of RDNs, each an array of { oid, value } (a dotted OID and text)"],
    subjectAltNames: [
      (l) => Array.isArray(l) && l.every(isSan), 'an array of { type: "DNS", "URI", "email" or "IP", value }',
    ],
    digest: [(d) => isText(d) && Object.hasOwn(NODE_HASH_NAME, d), "SHA256, SHA384 or SHA512"],
  },
};
const CSR_REQUIRED = ["signer", "signer.publicKey", "signer.sign", "signer.backend", "request", "request.subject"];

/**
 * A PKCS#10 request (RFC 2986) for a Roles Anywhere client certificate, signed by `signer` wherever its key
 * lives. It asks for the extensions the service checks on end-entity certificates (User Guide, "Signature
 * validation": key usage MUST include digitalSignature) plus clientAuth and the SANs. The signature is
 * checked against the public key before the request is returned, so a token whose public-key object does
 * not belong to its private key is caught here rather than at the CA.
 */
export async function buildCsr(signer: Signer, request: CsrRequest): Promise<BuiltCsr> {
  refuseWrongOptions("buildCsr", { signer, request }, CSR_KINDS, CSR_REQUIRED);
  const [x509, { AsnConvert, OctetString }, csr] = await Promise.all([
    import("@peculiar/asn1-x509"),
    import("@peculiar/asn1-schema"),
    import("@peculiar/asn1-csr"),
  ]);
  const modules: Asn1Modules = { x509, AsnConvert };
  const publicKey = await signer.publicKey();
  if (publicKey === undefined) {
    throw new InputError("PRIVATE_KEY_UNSUPPORTED", `cannot read the public key of this ${signer.backend} key`, {
      hint: signer.backend === "pkcs11" ? "the token needs a public-key object with the key's CKA_ID (keygen creates one)" : undefined,
    });
  }
  const algorithm = signatureAlgorithmFor(publicKey, request.digest);
  const spki = AsnConvert.parse(publicKey.export({ type: "spki", format: "der" }), x509.SubjectPublicKeyInfo);

  const info = new csr.CertificationRequestInfo({
    version: 0,
    subject: encodeName(request.subject, modules, optionName(request.names, "request.subject")),
    subjectPKInfo: spki,
    attributes: new csr.Attributes([
      new x509.Attribute({ type: EXTENSION_REQUEST, values: [AsnConvert.serialize(requestedExtensions(request.subjectAltNames ?? [], modules, OctetString))] }),
    ]),
  });
  const tbs = Buffer.from(AsnConvert.serialize(info));
  const signature = await signer.sign(tbs, algorithm.digest);
  if (!signatureVerifies(publicKey, algorithm.digest, tbs, signature)) {
    throw new InputError("PUBLIC_KEY_MISMATCH", `the ${signer.backend} key's signature does not verify with its public key`, {
      hint: "the public key found for this key belongs to another key; check the key's id and label",
    });
  }

  const algorithmId = AsnConvert.serialize(new x509.AlgorithmIdentifier({ algorithm: algorithm.oid, parameters: algorithm.nullParameters ? null : undefined }));
  // Assembled by hand so that the signed bytes are exactly the ones in the request.
  const der = derSequence(tbs, Buffer.from(algorithmId), derBitString(signature));
  return { der, pem: encodePem("CERTIFICATE REQUEST", der) };
}

function requestedExtensions(sans: readonly SanRequest[], { x509, AsnConvert }: Asn1Modules, OctetString: typeof OctetStringType) {
  const ext = (extnID: string, critical: boolean, value: object) =>
    new x509.Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
  const extensions = [
    ext(x509.id_ce_keyUsage, true, new x509.KeyUsage(x509.KeyUsageFlags.digitalSignature)),
    ext(x509.id_ce_extKeyUsage, false, new x509.ExtendedKeyUsage([x509.id_kp_clientAuth])),
  ];
  if (sans.length > 0) {
    const field = { DNS: "dNSName", URI: "uniformResourceIdentifier", email: "rfc822Name", IP: "iPAddress" } as const;
    const names = sans.map((san) => new x509.GeneralName({ [field[san.type]]: san.value }));
    extensions.push(ext(x509.id_ce_subjectAltName, false, new x509.SubjectAlternativeName(names)));
  }
  return new x509.Extensions(extensions);
}
