/**
 * Key and certificate files in every encoding the file signer reads, made with the `openssl` command line
 * in a temp directory (an independent implementation of each format).
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { isAgentError, type ErrorCode } from "../../../src/errors.js";
import { createCa, issueLeaf, openssl, type CaHandle, type TestKeyType } from "../../helpers/pki.js";
import { encryptPkcs8 } from "../../helpers/pbes2-encrypt.js";
import { TAG, children, readSingle } from "../../../src/encoding/der.js";
import { derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";

export const PASSWORD = "correct horse battery staple";

export function run(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

export interface KeyFixture {
  keyType: TestKeyType;
  /** PKCS#8 PEM from genpkey. */
  keyPath: string;
  certPath: string;
  serialDecimal: string;
  /** Public key PEM (for `openssl dgst -verify`). */
  publicKeyPath: string;
}

export function makeCa(dir: string, name = "Test Root"): CaHandle {
  return createCa(join(dir, "ca"), { name });
}

export function makeKeyFixture(ca: CaHandle, dir: string, keyType: TestKeyType, name: string = keyType): KeyFixture {
  const leaf = issueLeaf(ca, dir, { name, keyType });
  const publicKeyPath = join(dir, `${name}.pub.pem`);
  run(["pkey", "-in", leaf.keyPath, "-pubout", "-out", publicKeyPath]);
  return { keyType, keyPath: leaf.keyPath, certPath: leaf.certPath, serialDecimal: leaf.serialDecimal, publicKeyPath };
}

/** `openssl dgst -verify`: the independent check that a signature is right. */
export function opensslVerifies(publicKeyPath: string, message: Buffer, signature: Buffer, digest: string, dir: string): boolean {
  const msg = join(dir, "verify-msg.bin");
  const sig = join(dir, "verify-sig.bin");
  writeFileSync(msg, message);
  writeFileSync(sig, signature);
  try {
    execFileSync("openssl", ["dgst", `-${digest}`, "-verify", publicKeyPath, "-signature", sig, msg], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

/** Asserts `promise` rejects with an AgentError of `code`, whose one-line text does not contain `secret`. */
export async function expectAgentError(promise: Promise<unknown>, code: ErrorCode, secret?: string) {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, "expected a rejection").toBeDefined();
  if (!isAgentError(error)) throw error;
  expect(error.code, error.toOneLine()).toBe(code);
  const line = error.toOneLine();
  expect(line).not.toMatch(/\n/);
  if (secret !== undefined) expect(line).not.toContain(secret);
  return error;
}

export { openssl, readFileSync };

/** The bags of a PKCS#12 file written without encryption, each as its DER. */
export function bagsOf(plain: Buffer): Buffer[] {
  const [, authSafe] = children(readSingle(plain, TAG.SEQUENCE));
  const authSafeDer = readSingle(children(children(authSafe!)[1]!)[0]!.content);
  return children(authSafeDer).flatMap((info) => children(readSingle(children(children(info)[1]!)[0]!.content))).map((b) => b.raw);
}

/** A PKCS#12 file (no MAC) of one encryptedData holding `safeContents`. */
export function inEncryptedData(safeContents: Buffer, password: string): Buffer {
  const [algorithm, ciphertext] = children(readSingle(encryptPkcs8(safeContents, password, { cipher: "aes-256-cbc", kdf: "pbkdf2", prf: "sha256", iterations: 1000 })));
  const encryptedData = derSequence(
    derTlv(TAG.INTEGER, Buffer.from([0])),
    derSequence(derOid("1.2.840.113549.1.7.1"), algorithm!.raw, derTlv(0x80, ciphertext!.content)),
  );
  const info = derSequence(derOid("1.2.840.113549.1.7.6"), derTlv(0xa0, encryptedData));
  const data = derSequence(derOid("1.2.840.113549.1.7.1"), derTlv(0xa0, derTlv(TAG.OCTET_STRING, derSequence(info))));
  return derSequence(derTlv(TAG.INTEGER, Buffer.from([3])), data); // no MAC: the password opens the encryptedData
}
