import { createHmac, timingSafeEqual } from "node:crypto";
import { AgentError, InputError } from "../../errors.js";
import { Secret } from "../../secrets/secret.js";
import { Certificate } from "../../x509/certificate.js";
import { chainFromPool } from "../../x509/issuer-chain.js";
import {
  DerError, TAG, children, decodeAlgorithmIdentifier, decodeOid, expectTag, malformedPrimitive, readElement, readSingle,
  unlessMalformed, type DerElement,
} from "../../encoding/der.js";
import { derFromBer } from "../../encoding/der-writer.js";
import { optionName, type PromptSignal, type SignerOptions } from "../options.js";
import { obtainKeyPassword } from "./key-password.js";
import { keyMaterialFromPrivateKeyInfo } from "./key-material.js";
import { loadSigningKey } from "./key-parsers.js";
import { MAX_PKCS12_KDF_ITERATIONS, decryptPrivateKeyInfo, iterationCountProblem, incorrectPassword } from "./pbe.js";
import { pbeDecrypt, singleSequence, type PbeContext, type PbeDecrypt, type PbePassword } from "./pbe.js";
import { PKCS12_HASHES, PKCS12_KEY_ID, bmpPassword, pkcs12DeriveBytes, type Pkcs12Hash } from "./pkcs12-kdf.js";
import { keyMatchesCertificate, type SigningKey } from "./signing-key.js";
import { ownValue } from "../../own-value.js";
import { secretCopy } from "../../secrets/secret-bytes.js";

/** What a PKCS#12 file yields: the key, the end-entity certificate it belongs to and the other certificates. */
interface Pkcs12Identity {
  readonly key: SigningKey;
  readonly certificate: Certificate;
  /** The leaf's issuer, its issuer… found in the file; the leaf is not repeated (unlike the Go helper). */
  readonly chain: Certificate[];
}

type Pkcs12Options = Pick<SignerOptions, "keyPassword" | "debug" | "prompt" | "names"> & PromptSignal;

const OID = {
  DATA: "1.2.840.113549.1.7.1",
  SIGNED_DATA: "1.2.840.113549.1.7.2",
  ENVELOPED_DATA: "1.2.840.113549.1.7.3",
  ENCRYPTED_DATA: "1.2.840.113549.1.7.6",
  SIGNED_AND_ENVELOPED_DATA: "1.2.840.113549.1.7.4",
  DIGESTED_DATA: "1.2.840.113549.1.7.5",
  PBMAC1: "1.2.840.113549.1.5.14",
} as const;

const PKCS7_TYPES_REFUSED: Readonly<Record<string, string>> = {
  [OID.SIGNED_DATA]: "signedData",
  [OID.SIGNED_AND_ENVELOPED_DATA]: "signedAndEnvelopedData",
  [OID.DIGESTED_DATA]: "digestedData",
};

/** Encrypted bags and contents one file may hold (real files have one or two). */
const MAX_PKCS12_DECRYPTIONS = 8;

const MAC_DIGESTS: Readonly<Record<string, Pkcs12Hash>> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

/**
 * Reads a PKCS#12 (.p12/.pfx) file: OpenSSL 3's default (PBES2 AES-256-CBC with PBKDF2, SHA-256 MAC) and
 * the legacy form (pbeWithSHAAnd3-KeyTripleDES-CBC, SHA-1 MAC). The MAC is verified first, so a wrong
 * password is reported as such. @peculiar/asn1-* is loaded only here.
 */
export async function readPkcs12(
  bytes: Buffer, path: string, options: Pkcs12Options, decrypt: PbeDecrypt = pbeDecrypt,
): Promise<Pkcs12Identity> {
  // Every copy of the file's contents made while reading it: a key bag stored unencrypted (-keypbe NONE) is in them.
  const copies: Uint8Array[] = [];
  try {
    return await readPfx(bytes, path, options, decrypt, copies);
  } finally {
    for (const b of copies) b.fill(0);
  }
}

async function readPfx(bytes: Buffer, path: string, options: Pkcs12Options, decrypt: PbeDecrypt, copies: Uint8Array[]): Promise<Pkcs12Identity> {
  const [{ AsnConvert, OctetString }, pfxModule] = await Promise.all([
    import("@peculiar/asn1-schema"),
    import("@peculiar/asn1-pfx"),
  ]);
  const { PFX, AuthenticatedSafe, SafeContents, CertBag } = pfxModule;
  const invalid = (what: string, cause?: unknown) =>
    new InputError("PKCS12_INVALID", `could not parse PKCS#12 file ${path}: ${what}`, {
      hint: "export it again, e.g. `openssl pkcs12 -export -inkey KEY -in CERT -out FILE.p12`",
      cause,
    });
  const guard = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (cause) {
      if (cause instanceof AgentError) throw cause;
      throw invalid(cause instanceof DerError ? `${what}: ${cause.message}` : what, cause); // e.g. BER: says so
    }
  };
  const refuse = (problem: string | undefined) => {
    if (problem !== undefined) throw invalid(problem);
  };
  const copy = <T extends Uint8Array | ArrayBuffer>(b: T): T => (copies.push(b instanceof ArrayBuffer ? new Uint8Array(b) : b), b);
  const inPlace = { berOptions: { copyInput: false } };
  // Into an ArrayBuffer of ours, which @peculiar reads in place (else: 2 copies).
  const parse = <T>(der: Buffer, type: new () => T, what: string) =>
    guard(what, () => AsnConvert.parse(copy(new Uint8Array(copy(der))).buffer, type, inPlace));
  const octets = (der: ArrayBuffer, what: string) => guard(what, () => Buffer.from(AsnConvert.parse(der, OctetString, inPlace).buffer));

  // BER (NSS writes it; openssl reads it) is read as DER: @peculiar misreads OCTET STRINGs in pieces (a wrong MAC).
  const pfx = parse(guard("not a PKCS#12 structure", () => derFromBer(bytes)), PFX, "not a PKCS#12 structure");
  if (pfx.version !== 3) throw invalid(`version ${pfx.version} is not supported (expected 3)`);
  refuse(pfxFieldProblem(bytes));
  if (pfx.authSafe.contentType === OID.SIGNED_DATA) throw invalid("public-key integrity mode (signedData) is not supported");
  if (pfx.authSafe.contentType !== OID.DATA) throw invalid(`unexpected content type ${pfx.authSafe.contentType}`);
  const authSafeBytes = copy(octets(copy(pfx.authSafe.content), "malformed authSafe"));

  // @peculiar fills in an empty MacData when the optional field is absent.
  const hasMac = Boolean(pfx.macData?.mac?.digestAlgorithm?.algorithm);
  if (!hasMac) options.debug?.(`${path}: no MAC, the file's integrity is not checked`);
  const macMatches: (bmp: Buffer) => Promise<boolean> = !hasMac
    ? async () => true
    : guard("malformed MAC data", () => {
        const { mac, macSalt, iterations } = pfx.macData;
        const oid = mac.digestAlgorithm.algorithm;
        if (oid === OID.PBMAC1) throw invalid("the PBMAC1 integrity scheme is not supported");
        const hash = ownValue(MAC_DIGESTS, oid);
        if (hash === undefined) throw invalid(`MAC digest OID ${oid} is not supported`);
        const salt = Buffer.from(macSalt.buffer);
        const digest = Buffer.from(mac.digest.buffer);
        // @peculiar gives an INTEGER of 4 bytes or more (≥ 8,388,608) as a decimal string, smaller ones as numbers.
        const count = String((iterations as number | string | undefined) ?? 1);
        const problem = iterationCountProblem(/^-?[0-9]+$/.test(count) ? BigInt(count) : undefined, MAX_PKCS12_KDF_ITERATIONS);
        if (problem !== undefined) throw invalid(`MAC ${problem}`);
        return async (bmp) => {
          const key = await pkcs12DeriveBytes(hash, bmp, salt, Number(count), PKCS12_KEY_ID.mac, PKCS12_HASHES[hash].u);
          const actual = createHmac(hash, key).update(authSafeBytes).digest();
          key.fill(0);
          return actual.length === digest.length && timingSafeEqual(actual, digest);
        };
      });

  const context: PbeContext = { what: "PKCS#12", source: path };
  const readBags = async (password: PbePassword): Promise<Pkcs12Identity> => {
    // Each decryption may cost up to MAX_KDF_ITERATIONS of PBKDF2: a file may ask for a few, not thousands.
    let decryptions = 0;
    const countDecryption = () => {
      if (++decryptions > MAX_PKCS12_DECRYPTIONS) {
        throw invalid(`it holds more than ${MAX_PKCS12_DECRYPTIONS} encrypted items`);
      }
    };
    // Decrypted bytes, the keys in them and every copy made of them, zeroed once node:crypto holds the key (or the
    // file is refused).
    const keyInfos: Buffer[] = [];
    const decrypted: Uint8Array[] = [];
    try {
      const certificates: Certificate[] = [];
      const visitBags = async (safeContentsDer: Buffer, depth: number): Promise<void> => {
        const der = guard("malformed SafeContents", () => derFromBer(safeContentsDer));
        const bags = parse(der, SafeContents, "malformed SafeContents");
        refuse(safeContentsProblem(der, true));
        for (const bag of bags) {
          // A bagValue that is not a plain value (e.g. a NULL with content) reaches here as null: found by the fuzzer.
          const value = guard("malformed bag", () => Buffer.from(bag.bagValue));
          decrypted.push(value);
          switch (bag.bagId) {
            case pfxModule.id_keyBag:
              keyInfos.push(value);
              break;
            case pfxModule.id_pkcs8ShroudedKeyBag:
              countDecryption();
              keyInfos.push((await decryptPrivateKeyInfo(value, password, context, decrypt)).plaintext);
              break;
            case pfxModule.id_certBag: {
              const certBag = guard("malformed certificate bag", () => AsnConvert.parse(value, CertBag));
              refuse(explicitProblem(unlessMalformed(() => readSingle(value)), 2, "a certificate bag"));
              // openssl decodes an SDSI certificate as an IA5String and refuses anything else (round 32's fuzzer).
              const sdsi = certBag.certId === pfxModule.id_sdsiCertificate;
              if (sdsi && guard("malformed certificate bag", () => readSingle(Buffer.from(certBag.certValue))).tag !== 0x16) {
                throw invalid("an SDSI certificate bag's value is not an IA5String");
              }
              if (certBag.certId !== pfxModule.id_x509Certificate) {
                options.debug?.(`${path}: skipping a certificate bag of type ${certBag.certId}`);
                break;
              }
              const der = octets(certBag.certValue, "malformed certificate bag");
              const where = `${path} (certificate #${certificates.length + 1})`; // as read-certificates names a PEM block
              certificates.push(guard("a certificate in it cannot be parsed", () => new Certificate(der, where)));
              break;
            }
            case pfxModule.id_SafeContents:
              if (depth < 4) await visitBags(value, depth + 1);
              break;
            default:
              options.debug?.(`${path}: skipping a bag of type ${bag.bagId}`);
          }
        }
      };
      const authSafeDer = guard("malformed AuthenticatedSafe", () => derFromBer(authSafeBytes));
      const contents = parse(authSafeDer, AuthenticatedSafe, "malformed AuthenticatedSafe");
      refuse(safeContentsProblem(authSafeDer, false));
      for (const info of contents) {
        if (info.contentType === OID.DATA) {
          await visitBags(copy(octets(copy(info.content), "malformed data content")), 0);
        } else if (info.contentType === OID.ENCRYPTED_DATA) {
          const encrypted = () => readEncryptedData(Buffer.from(info.content));
          const { algorithm, ciphertext } = guard("malformed encrypted content", encrypted);
          countDecryption();
          const { plaintext } = await decrypt(algorithm, ciphertext, password, context);
          decrypted.push(plaintext);
          const der = unlessMalformed(() => derFromBer(plaintext)) ?? plaintext;
          decrypted.push(der);
          // Without a MAC, a wrong password can still pass the padding check (1 time in 256).
          await visitBags(singleSequence(der, context), 0);
        } else if (info.contentType === OID.ENVELOPED_DATA) {
          throw invalid("public-key encrypted content (envelopedData) is not supported");
        } else if (ownValue(PKCS7_TYPES_REFUSED, info.contentType) !== undefined) {
          // openssl decodes these PKCS#7 types and refuses a malformed one; no PKCS#12 writer makes them (round 32's fuzzer).
          throw invalid(`a ${ownValue(PKCS7_TYPES_REFUSED, info.contentType)} content is not supported`);
        } else {
          options.debug?.(`${path}: skipping content of type ${info.contentType}`);
        }
      }
      return await chooseIdentity(path, keyInfos, certificates, options); // before the bytes are zeroed
    } finally {
      password.utf8.fill(0);
      password.bmp.fill(0);
      for (const b of [...keyInfos, ...decrypted]) b.fill(0);
    }
  };
  const password = await unlock(path, options, macMatches, options.keyPassword === undefined);
  try {
    return await readBags(password);
  } catch (e) {
    // Without a MAC, the empty password tried first shows itself wrong only here: then the password is asked for.
    const emptyWasWrong = e instanceof AgentError && e.code === "PASSWORD_INCORRECT";
    if (hasMac || options.keyPassword !== undefined || !emptyWasWrong) throw e;
    options.debug?.(`${path}: the empty password does not decrypt the file`);
    return readBags(await unlock(path, options, macMatches, false));
  }
}

/**
 * Finds the password that opens the file: the configured one, else the empty password (in both of its
 * encodings, as OpenSSL and Go do; when `tryEmpty`), else one typed on the terminal. A wrong password is
 * never retried.
 */
async function unlock(
  path: string,
  options: Pkcs12Options,
  macMatches: (bmp: Buffer) => Promise<boolean>,
  tryEmpty: boolean,
): Promise<PbePassword> {
  const tryWith = async (secret: Secret): Promise<PbePassword | undefined> => {
    try {
      return await secret.use(async (utf8) => {
        const forms = utf8.length === 0 ? [bmpPassword(utf8), Buffer.alloc(0)] : [bmpPassword(utf8)];
        let bmp: Buffer | undefined;
        for (const form of forms) if (bmp === undefined && (await macMatches(form))) bmp = form;
        for (const form of forms) if (form !== bmp) form.fill(0);
        return bmp === undefined ? undefined : { utf8: secretCopy(utf8), bmp };
      });
    } finally {
      secret.wipe();
    }
  };
  if (tryEmpty) {
    const opened = await tryWith(Secret.fromUtf8(""));
    if (opened !== undefined) return opened;
    options.debug?.(`${path}: the empty password does not open the file`);
  }
  const opened = await tryWith(await obtainKeyPassword("PKCS#12", path, options));
  if (opened === undefined) throw incorrectPassword({ what: "PKCS#12", source: path });
  return opened;
}

/**
 * PFX ::= SEQUENCE { version, authSafe, macData SEQUENCE { mac, macSalt, iterations } OPTIONAL }: @peculiar skips
 * fields after the last one (and after the authSafe's content in its [0]), and reads the version, MAC digest
 * parameters and iterations without checking them; OpenSSL refuses a malformed one (found by the differential
 * fuzzer). Read when the PFX is DER.
 */
function pfxFieldProblem(bytes: Buffer): string | undefined {
  // The first element, also when bytes follow it (a CLI caller refuses those before; openssl reads past them).
  const pfx = unlessMalformed(() => children(expectTag(readElement(bytes), TAG.SEQUENCE)));
  const macData = pfx?.[2]?.tag === TAG.SEQUENCE ? unlessMalformed(() => children(pfx[2]!)) : undefined;
  if ((pfx?.length ?? 0) > 3 || (macData?.length ?? 0) > 3) return "a field follows the last one of the PFX or its MacData";
  const authSafe = explicitProblem(pfx?.[1], 2, "its authSafe");
  if (authSafe !== undefined) return authSafe;
  const version = pfx?.[0]?.tag === TAG.INTEGER ? malformedPrimitive(pfx[0]) : undefined;
  if (version !== undefined) return `its version is ${version}`;
  try {
    const mac = macData?.[0]?.tag === TAG.SEQUENCE ? children(macData[0]) : [];
    if (mac[0] !== undefined) decodeAlgorithmIdentifier(mac[0]);
    if (macData?.[2]?.tag === TAG.INTEGER && malformedPrimitive(macData[2]) !== undefined) throw new DerError("a malformed INTEGER");
  } catch (e) {
    if (e instanceof DerError) return `malformed MAC data: ${e.message}`;
    throw e;
  }
  return undefined;
}

/** In a SEQUENCE { OID, [0] EXPLICIT ANY, … } of at most `fields` fields: what openssl refuses, @peculiar reads. */
function explicitProblem(el: DerElement | undefined, fields: number, what: string): string | undefined {
  const parts = el?.tag === TAG.SEQUENCE ? unlessMalformed(() => children(el)) : undefined;
  if ((parts?.length ?? 0) > fields) return `a field follows the last one of ${what}`;
  const content = parts?.[1]?.tag === TAG.CONTEXT_0 ? unlessMalformed(() => children(parts[1]!)) : undefined;
  if (content !== undefined && content.length !== 1) return `${what}'s [0] holds ${content.length} elements, not one`;
  return undefined;
}

/**
 * The same in each ContentInfo of an AuthenticatedSafe, or each SafeBag of a SafeContents (`bags`) and its attributes
 * `SEQUENCE { OID, SET OF values }`, whose values openssl decodes (refusing e.g. an odd-length BMPString).
 */
function safeContentsProblem(der: Buffer, bags: boolean): string | undefined {
  for (const item of unlessMalformed(() => children(readSingle(der, TAG.SEQUENCE))) ?? []) {
    const problem = explicitProblem(item, bags ? 3 : 2, bags ? "a SafeBag" : "a ContentInfo");
    if (problem !== undefined) return problem;
    const attributes = bags ? unlessMalformed(() => children(item)[2]) : undefined;
    for (const attribute of (attributes?.tag === TAG.SET && unlessMalformed(() => children(attributes))) || []) {
      const [, values, extra] = (attribute.tag === TAG.SEQUENCE && unlessMalformed(() => children(attribute))) || [];
      if (extra !== undefined) return "a field follows the last one of a bag attribute";
      const list = values?.tag === TAG.SET ? (unlessMalformed(() => children(values)) ?? []) : [];
      const bad = list.map(malformedPrimitive).find((p) => p !== undefined);
      if (bad !== undefined) return `a bag attribute's value is ${bad}`;
    }
  }
  return undefined;
}

/** EncryptedData ::= SEQUENCE { version, EncryptedContentInfo { contentType, algorithm, [0] IMPLICIT encryptedContent } } */
function readEncryptedData(der: Buffer) {
  const [version, eci] = children(readSingle(der, TAG.SEQUENCE), 3);
  expectTag(version, TAG.INTEGER);
  const [contentType, algEl, content] = children(expectTag(eci, TAG.SEQUENCE), 3);
  if (decodeOid(contentType) !== OID.DATA) throw new DerError("encrypted content is not data");
  if (content === undefined) throw new DerError("no encrypted content");
  const ciphertext =
    content.tag === TAG.CONTEXT_0_PRIMITIVE
      ? content.content
      : Buffer.concat(children(expectTag(content, TAG.CONTEXT_0)).map((c) => expectTag(c, TAG.OCTET_STRING).content));
  return { algorithm: decodeAlgorithmIdentifier(algEl), ciphertext };
}

async function chooseIdentity(
  path: string,
  keyInfos: Buffer[],
  certificates: Certificate[],
  options: Pkcs12Options,
): Promise<Pkcs12Identity> {
  if (keyInfos.length === 0) {
    const key = optionName(options.names, "privateKey");
    const hint = `export it with the key (\`openssl pkcs12 -export -inkey KEY …\`), or pass ${key}`;
    throw new InputError("PKCS12_INVALID", `PKCS#12 file ${path} holds no private key`, { hint });
  }
  if (keyInfos.length > 1) {
    // Which key is meant cannot be known: the first one's, with the other key's certificate sent as its chain, is not.
    const what = `PKCS#12 file ${path} holds ${keyInfos.length} private keys; the agent signs with one`;
    const hint =
      "export one key with its certificate and chain: " +
      "`openssl pkcs12 -export -inkey KEY -in CERT -certfile CHAIN -out FILE.p12`";
    throw new InputError("PKCS12_INVALID", what, { hint });
  }
  if (certificates.length === 0) {
    throw new InputError("CERTIFICATE_MISSING", `PKCS#12 file ${path} holds no certificate`, {
      hint: "export it with the certificate (`openssl pkcs12 -export -in CERT …`)",
    });
  }
  const key = await loadSigningKey(keyMaterialFromPrivateKeyInfo(keyInfos[0]!, path), options.debug);
  for (const certificate of certificates) {
    if (await keyMatchesCertificate(key, certificate)) {
      const chain = chainFromPool(certificate, certificates, { withRoot: true });
      const left = certificates.filter((c) => !c.der.equals(certificate.der) && !chain.includes(c)).length;
      const leftOut = left > 0 ? `, ${left} certificate(s) not on the leaf's issuer path left out` : "";
      const what = `PKCS#12 ${key.description} key, certificate serial ${certificate.serialDecimal}`;
      options.debug?.(`${path}: ${what}, ${chain.length} chain certificate(s)${leftOut}`);
      return { key, certificate, chain };
    }
  }
  const what = `no certificate in PKCS#12 file ${path} matches its ${key.description} private key`;
  throw new InputError("KEY_CERTIFICATE_MISMATCH", what, {
    hint: "export the file again with the key's own certificate",
  });
}
