import { readInputFile, type FileStamp } from "../../io/input-file.js";
import type { Secret } from "../../secrets/secret.js";
import { classifyDer } from "../../x509/der-kind.js";
import { DerError, TAG, assertDerForm, children, decodeOid, expectTag, readElement, readSingle } from "../../encoding/der.js";
import { derFromBer } from "../../encoding/der-writer.js";
import { unlessMalformed } from "../../encoding/der.js";
import { decodePemBlocks, looksLikePem, wipeKeyBlocks, type PemBlock } from "../../encoding/pem.js";
import type { DebugLog, PromptSignal, SignerOptions } from "../options.js";
import { loadSigningKey } from "./key-parsers.js";
import { obtainKeyPassword } from "./key-password.js";
import { decryptPrivateKeyInfo, pbeDecrypt, wipedOnError, type PbeDecrypt } from "./pbe.js";
import { bmpPassword } from "./pkcs12-kdf.js";
import { unparsableKeyError, type SigningKey } from "./signing-key.js";

/** A PKCS#8 PrivateKeyInfo (OneAsymmetricKey), plaintext. */
export interface PrivateKeyInfo {
  readonly der: Buffer;
  /** The privateKeyAlgorithm OID, e.g. 1.2.840.10045.2.1 for EC. */
  readonly algorithmOid: string;
}

/**
 * The contents of one private-key file, as the key parsers see it. PEM files give their blocks; a DER file
 * is presented as a single block labelled after its structure, so parsers need not care which it was.
 */
export interface KeyMaterial {
  /** Where the key came from, for messages. */
  readonly source: string;
  readonly blocks: readonly PemBlock[];
  /** True when the PKCS#8 key is an ENCRYPTED PRIVATE KEY (asking for it needs a password). */
  readonly encrypted: boolean;
  /** The first `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY` block as a plaintext PrivateKeyInfo. */
  readonly privateKeyInfo: PrivateKeyInfo | undefined;
}

/** A key read from one version of its file. */
export interface LoadedKeyFile {
  readonly key: SigningKey;
  readonly stamp: FileStamp;
  /** The file held an encrypted key (reloading it needs the password again). */
  readonly encrypted: boolean;
}

/**
 * Reads, decrypts (asking for the password only if the key is encrypted) and parses a private-key file.
 * `password`: how to get the password instead of the configured source or a prompt.
 */
export async function loadKeyFile(
  path: string,
  options: Pick<SignerOptions, "keyPassword" | "debug" | "prompt" | "names"> & PromptSignal,
  alreadyRead?: { bytes: Buffer; stamp: FileStamp },
  password = () => obtainKeyPassword("PKCS#8", path, options),
  decrypt: PbeDecrypt = pbeDecrypt,
): Promise<LoadedKeyFile> {
  const { bytes, stamp } = alreadyRead ?? (await readInputFile(path, "private key file"));
  const material = await keyMaterialFromFile(bytes, path, password, options.debug, decrypt).catch((error: unknown) => {
    bytes.fill(0); // a refused file's key too (a DER key followed by other bytes, a PEM key beside a corrupt block)
    throw error;
  });
  let key: SigningKey;
  try {
    key = await loadSigningKey(material, options.debug);
  } finally {
    // node:crypto holds the key now (or refused it): the decrypted PKCS#8, a PEM file's decoded key, are not left.
    if (material.encrypted) material.privateKeyInfo?.der.fill(0);
    if (looksLikePem(bytes)) wipeKeyBlocks(material.blocks);
    bytes.fill(0);
  }
  if (!material.encrypted && options.keyPassword !== undefined) {
    options.debug?.(`${path}: the key is not encrypted; the password given is not used`);
  }
  return { key, stamp, encrypted: material.encrypted };
}

/** Splits a key file into {@link KeyMaterial}, calling `password` only when its PKCS#8 key is encrypted. */
export async function keyMaterialFromFile(
  bytes: Buffer,
  source: string,
  password: () => Promise<Secret>,
  debug?: DebugLog,
  decrypt: PbeDecrypt = pbeDecrypt,
): Promise<KeyMaterial> {
  const pem = looksLikePem(bytes);
  const blocks = pem ? decodePemBlocks(bytes, source) : derAsBlocks(bytes, source);
  const pkcs8 = blocks.find((b) => b.label === "PRIVATE KEY" || b.label === "ENCRYPTED PRIVATE KEY");
  const encrypted = pkcs8?.label === "ENCRYPTED PRIVATE KEY";
  let der = pkcs8?.der;
  try {
    if (pem && pkcs8) refuseBerKey(pkcs8.der, source); // a DER file's: derAsBlocks
    if (encrypted) {
      const secret = await password();
      try {
        const { plaintext, scheme } = await secret.use((utf8) => {
          // The BMPString (twice the password's size) only for a PKCS#12 scheme: PBES2 takes the UTF-8 bytes.
          let bmp: Buffer | undefined;
          const password = { utf8, get bmp() { return (bmp ??= bmpPassword(utf8)); } };
          return decryptPrivateKeyInfo(pkcs8.der, password, { what: "PKCS#8 private key", source }, decrypt).finally(() => bmp?.fill(0));
        });
        debug?.(`${source}: decrypted the PKCS#8 key (${scheme})`);
        der = plaintext;
      } finally {
        secret.wipe();
      }
    }
    const info = der && (encrypted ? wipedOnError(der, () => toPrivateKeyInfo(der!, source)) : toPrivateKeyInfo(der, source));
    return { source, blocks, encrypted, privateKeyInfo: info };
  } catch (error) {
    if (pem) wipeKeyBlocks(blocks); // a refused file's key too
    throw error;
  }
}

/** Key material holding one plaintext PrivateKeyInfo (e.g. taken out of a PKCS#12 file). */
export function keyMaterialFromPrivateKeyInfo(der: Buffer, source: string): KeyMaterial {
  return { source, blocks: [], encrypted: false, privateKeyInfo: toPrivateKeyInfo(der, source) };
}

function derAsBlocks(bytes: Buffer, source: string): PemBlock[] {
  const kind = classifyDer(bytes);
  if (kind !== undefined) return kind === "PKCS12" ? [] : [{ label: kind, der: bytes, headers: {} }];
  // OpenSSL also reads a BER key, or one followed by other bytes: say which, rather than "no private key".
  const hint = "export the key again as DER or PEM (`openssl pkey -in KEY -out NEW`)";
  const refuse = (what: string) => unparsableKeyError(`${source} ${what}`, undefined, hint);
  refuseBerKey(bytes, source);
  const first = unlessMalformed(() => readElement(bytes).raw);
  const inner = first === undefined ? undefined : classifyDer(first);
  if (first !== undefined && inner !== undefined && inner !== "PKCS12" && inner !== "CERTIFICATE") {
    throw refuse(`holds a DER ${inner} followed by ${bytes.length - first.length} bytes that are not part of it`);
  }
  return [];
}

/** A key in BER (DER only: OpenSSL reads it), in words saying so, with the command that converts it. */
function refuseBerKey(bytes: Buffer, source: string): void {
  if (classifyDer(bytes) !== undefined) return;
  const notDer = (problem: string, fix = "convert it: `openssl pkey -in KEY -out NEW`") =>
    unparsableKeyError(`${source} is not DER-encoded: it has ${problem}`, undefined, fix);
  let asDer: Buffer | undefined;
  try {
    asDer = derFromBer(bytes);
  } catch (e) {
    if (!(e instanceof DerError)) throw e;
    // A SEQUENCE no reader here takes whole (a length in more than 4 bytes, which openssl reads up to 8): what it is.
    if (e.kind === "form" && bytes[0] === TAG.SEQUENCE) throw notDer(e.message);
    return;
  }
  // Its first element: a BER key followed by other bytes is named by its BER (converting it drops them too).
  const ber = classifyDer(readElement(asDer).raw);
  asDer.fill(0);
  const problem = ber?.endsWith("PRIVATE KEY") ? derFormProblem(bytes) : "";
  if (problem === "") return; // not a key, or DER followed by other bytes: derAsBlocks says which
  const encrypted = "convert it, keeping it encrypted: `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW`";
  throw notDer(problem, ber === "ENCRYPTED PRIVATE KEY" ? encrypted : undefined);
}

/** The first thing in `bytes` that DER encodes otherwise (assertDerForm's words). */
function derFormProblem(bytes: Buffer): string {
  try {
    assertDerForm(readElement(bytes));
    return "";
  } catch (e) {
    if (e instanceof DerError) return e.message;
    throw e;
  }
}

function toPrivateKeyInfo(der: Buffer, source: string): PrivateKeyInfo {
  try {
    const [version, alg, key] = children(readSingle(der, TAG.SEQUENCE));
    expectTag(version, TAG.INTEGER);
    expectTag(key, TAG.OCTET_STRING);
    const algorithmOid = decodeOid(children(expectTag(alg, TAG.SEQUENCE))[0]);
    return { der, algorithmOid };
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    throw unparsableKeyError(`${source} holds a malformed PKCS#8 key (${cause.message})`, cause);
  }
}
