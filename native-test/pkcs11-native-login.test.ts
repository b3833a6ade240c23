/**
 * raa_native's pkcs11Login over real SoftHSM and the pkcs11js that loaded it, and pin.ts's loginUser through it: the
 * checks it shares with pkcs11Attributes (untagged lib, another module, bad arguments, all before C_Login), the CK_RVs
 * as numbers, and a PIN presented byte for byte — a pin-source file whose bytes are not UTF-8 logs in (pkcs11js's
 * string would have reached the token as U+FFFD: CKR_PIN_INCORRECT, a counted try).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pkcs11js from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { loadNativeHelper } from "../src/os/native-helper.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { closeSession, openSession, type TokenContext } from "../src/pkcs11/objects.js";
import { loginUser, pinFromSource } from "../src/pkcs11/pin.js";
import { listTokenSlots } from "../src/pkcs11/slots.js";
import { SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";

const tmp = makeTempDir("raa-native-login-");
const conf = join(tmp.dir, "softhsm2.conf");
const previousConf = process.env.SOFTHSM2_CONF;
process.env.SOFTHSM2_CONF = conf; // the binding in this process reads it
/** A user PIN that is not UTF-8 (Latin-1 "1é" and a 0xFF), set with pkcs11-tool from the shell's bytes. */
const LATIN1_PIN = Buffer.from([0x31, 0xe9, 0xff, 0x32]);
const CKR_PIN_INCORRECT = 0xa0;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;
let lease: ModuleLease;

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  for (const label of ["plain", "latin1", "wrong"]) {
    execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", "1234"], { env, stdio: "ignore" });
  }
  execFileSync("bash", ["-c", `pkcs11-tool --module ${SOFTHSM_MODULE} --token-label latin1 --login --pin 1234 --change-pin --new-pin "$(printf '1\\351\\3772')"`], { env, stdio: "ignore" });
  writeFileSync(join(tmp.dir, "latin1-pin"), LATIN1_PIN, { mode: 0o600 });
  lease = await acquireModule({ path: SOFTHSM_MODULE, origin: "test", option: "--pkcs11-lib" });
}, 60_000);

afterAll(() => {
  lease?.release();
  if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previousConf;
  tmp.cleanup();
});

async function withToken<T>(label: string, use: (context: TokenContext) => Promise<T> | T): Promise<T> {
  const slot = (await listTokenSlots(lease.module)).find((s) => s.token.label === label)!;
  const context = openSession(lease.module, slot);
  try {
    return await use(context);
  } finally {
    closeSession(context);
  }
}

describe("raa_native's pkcs11Login", () => {
  it("refuses what pkcs11Attributes refuses, before C_Login; answers the module's CK_RV as a number", async () => {
    const { pkcs11Login: login } = loadNativeHelper().helper!;
    const { module } = lease;
    await withToken("plain", (context) => {
      const pin = Buffer.from("1234");
      const untagged = new pkcs11js.PKCS11();
      expect(() => login!(untagged, pkcs11js.PKCS11, SOFTHSM_MODULE, context.session, 1, pin))
        .toThrow(expect.objectContaining({ code: "RAA_NOT_DIRECT", message: "pkcs11Login: lib must be a pkcs11js PKCS11" }));
      expect(() => login!(module.lib, module.pkcs11, "/usr/lib/x86_64-linux-gnu/libz.so.1", context.session, 1, pin))
        .toThrow(expect.objectContaining({ code: "RAA_NOT_DIRECT" }));
      expect(() => login!(module.lib, module.pkcs11, SOFTHSM_MODULE, context.session, 1, Buffer.alloc(0))).toThrow(TypeError);
      expect(() => login!(module.lib, module.pkcs11, SOFTHSM_MODULE, Buffer.alloc(3), 1, pin)).toThrow(TypeError);
      expect(() => login!(module.lib, module.pkcs11, SOFTHSM_MODULE, context.session, 1, "1234" as never)).toThrow(TypeError);
      // Before (round 43): napi_get_value_int64 read NaN and Infinity as 0 (CKU_SO, the user's PIN tried as the SO's), 1.5 as 1.
      for (const userType of [Number.NaN, Infinity, -Infinity, 1.5, -1, 2 ** 32, "1"])
        expect(() => login!(module.lib, module.pkcs11, SOFTHSM_MODULE, context.session, userType as number, pin), String(userType)).toThrow(TypeError);
      // None of those reached the token: the wrong PIN's one try below is the first, and the right PIN still logs in.
      expect(login!(module.lib, module.pkcs11, SOFTHSM_MODULE, context.session, 1, Buffer.from("4321"))).toBe(CKR_PIN_INCORRECT);
      expect(login!(module.lib, module.pkcs11, SOFTHSM_MODULE, context.session, 1, pin)).toBe(0);
      expect(login!(module.lib, module.pkcs11, SOFTHSM_MODULE, context.session, 1, pin)).toBe(CKR_USER_ALREADY_LOGGED_IN);
      module.lib.C_Logout(context.session);
    });
    expect(module.directReads).not.toBe(false);
  });
});

describe("loginUser through it", () => {
  it("a pin-source file whose bytes are not UTF-8 logs in, the bytes as they are (before: CKR_PIN_INCORRECT, a try counted)", async () => {
    await withToken("latin1", async (context) => {
      await loginUser(context, pinFromSource({ kind: "file", path: join(tmp.dir, "latin1-pin") }, "the PIN", {}));
      expect(lease.module.lib.C_GetSessionInfo(context.session).state).toBe(1); // CKS_RO_USER_FUNCTIONS
      lease.module.lib.C_Logout(context.session);
    });
  });

  it("a wrong PIN: PIN_INCORRECT with the message pkcs11js's path gave", async () => {
    writeFileSync(join(tmp.dir, "wrong-pin"), "9876\n", { mode: 0o600 });
    await withToken("wrong", async (context) => {
      const error = await loginUser(context, pinFromSource({ kind: "file", path: join(tmp.dir, "wrong-pin") }, "the PIN", {})).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: "PIN_INCORRECT",
        message: expect.stringMatching(/^token "wrong" \(serial [0-9a-f]+\) rejected the PIN from file .*wrong-pin \(CKR_PIN_INCORRECT\); the token reports failed tries on its counter/),
      });
    });
  });
});
