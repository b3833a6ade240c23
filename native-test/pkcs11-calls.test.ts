/**
 * What the PKCS#11 back-end asks of the token, observed with OpenSC's pkcs11-spy (a real PKCS#11 module
 * that forwards every call to SoftHSM and logs it): a wrong PIN is presented exactly once, a signer logs
 * in once and reuses one session, always-authenticate keys log in before each signature, and a token
 * removed mid-run (its directory moved away and back) is recovered with the PIN read again from its file.
 * Runs in its own process: PIN checks need a token nobody else in the process is logged in to.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verify } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Pkcs11SignerOptions } from "../src/signers/options.js";
import type { Signer } from "../src/signers/signer.js";
import { createPkcs11Signer } from "../src/signers/pkcs11/index.js";
import { createSoftHsmFixture, PKCS11_SPY_MODULE, type SoftHsmFixture, WRONG_PIN } from "./helpers/softhsm-fixture.js";
import { failure } from "../test/helpers/agent-error.js";

let hsm: SoftHsmFixture;
let spyLog: string;
const open: Signer[] = [];
const MESSAGE = Buffer.from("string to sign");

beforeAll(() => {
  hsm = createSoftHsmFixture("raa-pkcs11-calls-");
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
  const s = await createPkcs11Signer({ library: PKCS11_SPY_MODULE, ...options });
  open.push(s);
  return s;
}

/** The spy's log from now on: the calls made, with their user type for C_Login. */
function recorder(): () => { calls: string[]; logins: string[]; results: string[] } {
  const start = existsSync(spyLog) ? readFileSync(spyLog, "utf8").length : 0;
  return () => {
    const text = readFileSync(spyLog, "utf8").slice(start);
    const calls = [...text.matchAll(/^\d+: (C_\w+)$/gm)].map((m) => m[1]!);
    const logins = [...text.matchAll(/^\d+: C_Login\n[^\n]*\n[^\n]*\n\[in\] userType = (\w+)/gm)].map((m) => m[1]!);
    const results = [...text.matchAll(/^\d+: C_Login$[\s\S]*?^Returned:\s+\d+ (\w+)/gm)].map((m) => m[1]!);
    return { calls, logins, results };
  };
}

const count = (calls: string[], name: string) => calls.filter((c) => c === name).length;
const ecUri = "pkcs11:token=rolesanywhere;object=ec-key";

describe("wrong PIN", () => {
  it("is presented once, reported with the token's flags, and never again", async () => {
    const seen = recorder();
    const error = await failure(signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "value", value: WRONG_PIN } }));
    expect(error.code).toBe("PIN_INCORRECT");
    expect(error.message).toContain("CKF_USER_PIN_COUNT_LOW");
    expect(error.message).not.toContain(WRONG_PIN);
    const { logins, results } = seen();
    expect(logins).toEqual(["CKU_USER"]);
    expect(results).toEqual(["CKR_PIN_INCORRECT"]);
  });

  it("a right PIN afterwards works (and clears SoftHSM's low-count flag)", async () => {
    const s = await signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "file", path: hsm.pinFile() } });
    expect(verify("sha256", MESSAGE, (await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
    await s.close();
  });
});

describe("a PIN from { kind: \"env\" }", () => {
  it("is read from process.env, as a key or TPM password is, not from the env option (before: not set)", async () => {
    process.env["RAA_CALLS_TEST_PIN"] = readFileSync(hsm.pinFile(), "utf8").trim();
    try {
      const s = await signer({ keyUri: ecUri, certificateUri: ecUri, env: { PATH: "" }, pin: { kind: "env", name: "RAA_CALLS_TEST_PIN" } });
      expect(verify("sha256", MESSAGE, (await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
      await s.close();
    } finally {
      delete process.env["RAA_CALLS_TEST_PIN"];
    }
  });
});

describe("one session, one login", () => {
  it("a signer opens one session and logs in once, then 20 signatures are 20 C_SignInit + C_Sign", async () => {
    const building = recorder();
    const s = await signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "file", path: hsm.pinFile() } });
    const built = building();
    expect(count(built.calls, "C_OpenSession")).toBe(1);
    expect(built.logins).toEqual(["CKU_USER"]);

    const signing = recorder();
    for (let i = 0; i < 20; i++) await s.sign(MESSAGE);
    const { calls } = signing();
    expect(count(calls, "C_SignInit")).toBe(20);
    expect(count(calls, "C_Sign")).toBe(20);
    expect(count(calls, "C_Login")).toBe(0);
    expect(count(calls, "C_OpenSession")).toBe(0);
    expect(count(calls, "C_FindObjectsInit")).toBe(0);
    await s.close();
  });

  it("an always-authenticate key logs in context-specifically before each signature, with --reuse-pin", async () => {
    const uri = "pkcs11:token=rolesanywhere;object=always-auth";
    const s = await signer({ keyUri: uri, certificateUri: uri, reusePin: true, pin: { kind: "file", path: hsm.pinFile() } });
    const seen = recorder();
    for (let i = 0; i < 5; i++) expect(verify("sha256", MESSAGE, (await s.publicKey())!, await s.sign(MESSAGE))).toBe(true);
    expect(seen().logins).toEqual(Array(5).fill("CKU_CONTEXT_SPECIFIC"));
    await s.close();
  });

  it("a second signer's PIN counts while another keeps the token logged in: a wrong one is refused", async () => {
    const first = await signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "file", path: hsm.pinFile() } });
    const rsaUri = "pkcs11:token=rolesanywhere;object=rsa-key";
    const seen = recorder();
    // The token answers CKR_USER_ALREADY_LOGGED_IN to any PIN then (before: this signer opened and signed).
    const error = await failure(signer({ keyUri: rsaUri, certificateUri: rsaUri, pin: { kind: "value", value: "4321" } }));
    expect(error.code).toBe("PIN_INCORRECT");
    expect(error.message).toMatch(/is logged in with another PIN than the one from a value given directly/);
    expect(error.message).not.toContain("4321");
    expect(seen().results).toEqual(["CKR_USER_ALREADY_LOGGED_IN"]); // the token did not check it: no try spent
    const second = await signer({ keyUri: rsaUri, certificateUri: rsaUri, pin: { kind: "value", value: readFileSync(hsm.pinFile(), "utf8").trim() } });
    expect(verify("sha256", MESSAGE, (await second.publicKey())!, await second.sign(MESSAGE))).toBe(true);
    await second.close();
    await first.close();
  });
});

describe("token removed mid-run", () => {
  it("fails while the token is away, and recovers when it is back, reading the PIN file again", async () => {
    const s = await signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "file", path: hsm.pinFile() } });
    const key = (await s.publicKey())!;
    expect(verify("sha256", MESSAGE, key, await s.sign(MESSAGE))).toBe(true);

    await withTokenAway(async () => {
      const error = await failure(s.sign(MESSAGE));
      expect(error.code).toBe("PKCS11_TOKEN_NOT_FOUND");
      expect(error.message).toContain('token "rolesanywhere"');
      expect(error.hint).toMatch(/re-insert/);
    });
    const seen = recorder();
    expect(verify("sha256", MESSAGE, key, await s.sign(MESSAGE))).toBe(true);
    expect(seen().logins).toEqual(["CKU_USER"]);
    expect(verify("sha256", MESSAGE, key, await s.sign(MESSAGE))).toBe(true);
    await s.close();
  });

  it("another signer of the same module carries on after one re-initialised it", async () => {
    const pin = { kind: "file", path: hsm.pinFile() } as const;
    const x = await signer({ keyUri: ecUri, certificateUri: ecUri, pin });
    const y = await signer({ keyUri: "pkcs11:token=rolesanywhere;object=rsa-key", certificateUri: "pkcs11:token=rolesanywhere;object=rsa-key", pin });
    await x.sign(MESSAGE);
    await y.sign(MESSAGE);
    await withTokenAway(async () => expect((await failure(x.sign(MESSAGE))).code).toBe("PKCS11_TOKEN_NOT_FOUND"));
    expect(verify("sha256", MESSAGE, (await y.publicKey())!, await y.sign(MESSAGE))).toBe(true);
    expect(verify("sha256", MESSAGE, (await x.publicKey())!, await x.sign(MESSAGE))).toBe(true);
    await x.close();
    await y.close();
  });

  it("a PIN that became wrong is tried once on re-login, then the signer stops using the token", async () => {
    const pinFile = hsm.pinFile();
    const s = await signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "file", path: pinFile } });
    await s.sign(MESSAGE);
    await withTokenAway(async () => expect((await failure(s.sign(MESSAGE))).code).toBe("PKCS11_TOKEN_NOT_FOUND"));
    writeFileSync(pinFile, "0000\n");

    const seen = recorder();
    const first = await failure(s.sign(MESSAGE));
    expect(first.code).toBe("PIN_INCORRECT");
    const second = await failure(s.sign(MESSAGE));
    expect(second).toBe(first);
    expect(seen().logins).toEqual(["CKU_USER"]);

    // with the right PIN again a new signer works; the failed one stays failed
    writeFileSync(pinFile, "1234\n");
    const fresh = await signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "file", path: pinFile } });
    expect(verify("sha256", MESSAGE, (await fresh.publicKey())!, await fresh.sign(MESSAGE))).toBe(true);
    expect((await failure(s.sign(MESSAGE))).code).toBe("PIN_INCORRECT");
    await fresh.close();
    await s.close();
  });
});

describe("a module the application initialised", () => {
  it("is not finalised to rescan for a removed token: the application's own session stays open", async () => {
    const { PKCS11 } = await import("pkcs11js");
    const host = new PKCS11();
    host.load(PKCS11_SPY_MODULE);
    host.C_Initialize();
    try {
      const slot = host.C_GetSlotList(true).find((s) => host.C_GetTokenInfo(s).label.trim() === "rolesanywhere")!;
      const session = host.C_OpenSession(slot, 4 /* CKF_SERIAL_SESSION */);
      const s = await signer({ keyUri: ecUri, certificateUri: ecUri, pin: { kind: "file", path: hsm.pinFile() } });
      await s.sign(MESSAGE);
      await withTokenAway(async () => {
        const error = await failure(s.sign(MESSAGE));
        expect(error.code).toBe("PKCS11_TOKEN_NOT_FOUND");
        expect(error.hint).toMatch(/the application initialised this module/);
      });
      // Before: the signer's C_Finalize + C_Initialize ended it (CKR_SESSION_HANDLE_INVALID).
      expect(() => host.C_GetSessionInfo(session)).not.toThrow();
      await s.close();
      expect(() => host.C_GetSessionInfo(session)).not.toThrow(); // nor finalised by the signer's last close
      host.C_CloseSession(session);
    } finally {
      host.C_Finalize();
      host.close();
    }
  });
});

/** Moves the token's directory away (SoftHSM then reports it gone) for the duration of `during`. */
async function withTokenAway(during: () => Promise<void>): Promise<void> {
  const tokenDir = hsm.tokenDirectory("rolesanywhere");
  const away = join(hsm.dir, "token-away");
  renameSync(tokenDir, away);
  try {
    await during();
  } finally {
    renameSync(away, tokenDir);
  }
}
