/**
 * Tokens without the combined RSA mechanisms (as some PIV cards): SoftHSM restricted with
 * `slots.mechanisms`, observed through pkcs11-spy. RSA then signs with CKM_RSA_PKCS over a local
 * DigestInfo, and a token without CKM_ECDSA is a clear PKCS11_KEY_CANNOT_SIGN.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verify } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentError } from "../src/errors.js";
import { createPkcs11Signer } from "../src/signers/pkcs11/index.js";
import { createSoftHsmFixture, PKCS11_SPY_MODULE, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

let hsm: SoftHsmFixture;
let spyLog: string;
const MESSAGE = Buffer.from("string to sign");

beforeAll(() => {
  hsm = createSoftHsmFixture("raa-pkcs11-mech-");
  spyLog = join(hsm.dir, "spy.log");
  process.env["PKCS11SPY"] = hsm.module;
  process.env["PKCS11SPY_OUTPUT"] = spyLog;
});

afterAll(() => hsm.cleanup());

/** A SoftHSM config for the same tokens offering only the listed mechanisms. SoftHSM reads it at C_Initialize. */
function useMechanisms(mechanisms: string[]): void {
  const conf = join(hsm.dir, `only-${mechanisms.length}.conf`);
  writeFileSync(conf, `${readFileSync(hsm.conf, "utf8")}slots.mechanisms = ${mechanisms.join(",")}\n`);
  process.env["SOFTHSM2_CONF"] = conf;
}

function mechanismsUsedSince(start: number): string[] {
  const text = readFileSync(spyLog, "utf8").slice(start);
  return [...text.matchAll(/^\d+: C_SignInit$[\s\S]*?pMechanism->type = (\w+)/gm)].map((m) => m[1]!);
}

const logLength = () => (existsSync(spyLog) ? readFileSync(spyLog, "utf8").length : 0);

describe("without CKM_SHA*_RSA_PKCS", () => {
  it("RSA signs SHA-256/384/512 with CKM_RSA_PKCS and a DigestInfo made here", async () => {
    useMechanisms(["CKM_RSA_PKCS", "CKM_ECDSA"]);
    const uri = "pkcs11:token=rolesanywhere;object=rsa-key";
    const signer = await createPkcs11Signer({ keyUri: uri, certificateUri: uri, library: PKCS11_SPY_MODULE, pin: { kind: "file", path: hsm.pinFile() } });
    try {
      const start = logLength();
      for (const digest of ["SHA256", "SHA384", "SHA512"] as const) {
        const signature = await signer.sign(MESSAGE, digest);
        expect(verify(digest.toLowerCase(), MESSAGE, (await signer.publicKey())!, signature)).toBe(true);
      }
      expect(mechanismsUsedSince(start)).toEqual(["CKM_RSA_PKCS", "CKM_RSA_PKCS", "CKM_RSA_PKCS"]);
    } finally {
      await signer.close();
    }
  });
});

describe("with every mechanism", () => {
  it("RSA uses the token's CKM_SHA*_RSA_PKCS", async () => {
    process.env["SOFTHSM2_CONF"] = hsm.conf;
    const uri = "pkcs11:token=rolesanywhere;object=rsa-key";
    const signer = await createPkcs11Signer({ keyUri: uri, certificateUri: uri, library: PKCS11_SPY_MODULE, pin: { kind: "file", path: hsm.pinFile() } });
    try {
      const start = logLength();
      for (const digest of ["SHA256", "SHA384", "SHA512"] as const) {
        expect(verify(digest.toLowerCase(), MESSAGE, (await signer.publicKey())!, await signer.sign(MESSAGE, digest))).toBe(true);
      }
      expect(mechanismsUsedSince(start)).toEqual(["CKM_SHA256_RSA_PKCS", "CKM_SHA384_RSA_PKCS", "CKM_SHA512_RSA_PKCS"]);
    } finally {
      await signer.close();
    }
  });
});

describe("without CKM_ECDSA", () => {
  it("an EC key is refused with PKCS11_KEY_CANNOT_SIGN", async () => {
    useMechanisms(["CKM_RSA_PKCS"]);
    const uri = "pkcs11:token=rolesanywhere;object=ec-key";
    let error: unknown;
    try {
      await createPkcs11Signer({ keyUri: uri, certificate: hsm.certificate("ec-key.pem"), library: hsm.module, pin: { kind: "file", path: hsm.pinFile() } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe("PKCS11_KEY_CANNOT_SIGN");
    expect((error as AgentError).message).toContain("CKM_ECDSA");
  });
});
