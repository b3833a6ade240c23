/**
 * How a PKCS#11 key is proven to belong to its certificate, counted in C_Sign calls by OpenSC's pkcs11-spy in
 * front of SoftHSM: no test signature when a public-key object with the key's CKA_ID vouches for it, none
 * either when nothing does (the first real signature is checked instead), and a mismatch found that way
 * stops the signer without another touch of the token.
 */
import { verify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pkcs11SignerOptions } from "../src/signers/options.js";
import { createPkcs11Signer } from "../src/signers/pkcs11/index.js";
import type { Signer } from "../src/signers/signer.js";
import { failure } from "../test/helpers/agent-error.js";
import { parseSpyLog } from "./helpers/pkcs11-spy-log.js";
import { createSoftHsmFixture, PKCS11_SPY_MODULE, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

let hsm: SoftHsmFixture;
let spyLog: string;
const open: Signer[] = [];
const MESSAGE = Buffer.from("string to sign");

beforeAll(() => {
  hsm = createSoftHsmFixture("raa-key-proof-");
  spyLog = join(hsm.dir, "spy.log");
  process.env["SOFTHSM2_CONF"] = hsm.conf;
  process.env["PKCS11SPY"] = hsm.module;
  process.env["PKCS11SPY_OUTPUT"] = spyLog;
});

afterAll(async () => {
  for (const s of open) await s.close();
  hsm.cleanup();
});

async function signer(options: Partial<Pkcs11SignerOptions> & { keyUri: string }): Promise<Signer> {
  const s = await createPkcs11Signer({ library: PKCS11_SPY_MODULE, pin: { kind: "file", path: hsm.pinFile() }, ...options });
  open.push(s);
  return s;
}

/** C_Sign calls the token has seen from now on. */
function signatures(): () => number {
  const start = existsSync(spyLog) ? readFileSync(spyLog, "utf8").length : 0;
  return () => parseSpyLog(readFileSync(spyLog, "utf8").slice(start)).filter((c) => c.name === "C_Sign").length;
}

describe("proving the key without a test signature", () => {
  it("an EC key with a public-key object under its CKA_ID: building the signer signs nothing", async () => {
    const seen = signatures();
    const s = await signer({ keyUri: "pkcs11:token=rolesanywhere;object=ec-key", certificate: hsm.certificate("ec-key.pem") });
    expect(seen()).toBe(0);
    expect(verify("sha256", MESSAGE, (await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
    expect(seen()).toBe(1);
  });

  it("a key that shows no public key at all: no test signature either, one C_Sign per signature", async () => {
    const seen = signatures();
    const s = await signer({ keyUri: "pkcs11:token=rolesanywhere;object=always-auth", certificate: hsm.certificate("always-auth.pem"), reusePin: true });
    expect(seen()).toBe(0);
    for (let i = 1; i <= 2; i++) {
      expect(verify("sha256", MESSAGE, (await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
      expect(seen()).toBe(i);
    }
  });

  it("such a key with another key's certificate: its first signature is refused as a mismatch, and the token is not used again", async () => {
    const seen = signatures();
    const s = await signer({ keyUri: "pkcs11:token=rolesanywhere;object=always-auth", certificate: hsm.certificate("ec-key.pem"), reusePin: true });
    const first = await failure(s.sign(MESSAGE));
    expect(first.code).toBe("KEY_CERTIFICATE_MISMATCH");
    expect(first.message).toContain("object=always-auth");
    const again = await failure(s.sign(MESSAGE));
    expect(again.code).toBe("KEY_CERTIFICATE_MISMATCH");
    expect(seen()).toBe(1);
  });

  it("a public-key object that contradicts the certificate is a mismatch when the signer is built", async () => {
    const seen = signatures();
    const error = await failure(signer({ keyUri: "pkcs11:token=rolesanywhere;object=ec-key", certificate: hsm.certificate("always-auth.pem") }));
    expect(error.code).toBe("KEY_CERTIFICATE_MISMATCH");
    expect(seen()).toBe(0);
  });
});
