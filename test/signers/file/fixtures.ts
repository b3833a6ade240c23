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
