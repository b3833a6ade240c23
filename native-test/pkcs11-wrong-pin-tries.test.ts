/**
 * A wrong PIN costs the token one try, with the PIN presented through raa_native's pkcs11Login: real SoftHSM behind
 * OpenSC's pkcs11-spy, whose log counts every C_Login that reached the token, and the token's own flags after it.
 * The same wrong PIN asked for again (a refresh, a new signer, a new supply of the same bytes) is not presented again.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { loadNativeHelper } from "../src/os/native-helper.js";
import { CKF } from "../src/pkcs11/constants.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { closeSession, openSession } from "../src/pkcs11/objects.js";
import { loginUser, pinFromSource } from "../src/pkcs11/pin.js";
import { currentTokenFlags, listTokenSlots } from "../src/pkcs11/slots.js";
import { spyRecorder } from "./helpers/pkcs11-spy-log.js";
import { PKCS11_SPY_MODULE, SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";

const tmp = makeTempDir("raa-wrong-pin-tries-");
const conf = join(tmp.dir, "softhsm2.conf");
const log = join(tmp.dir, "spy.log");
const saved = { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, PKCS11SPY: process.env.PKCS11SPY, PKCS11SPY_OUTPUT: process.env.PKCS11SPY_OUTPUT };
let lease: ModuleLease;

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  Object.assign(process.env, { SOFTHSM2_CONF: conf, PKCS11SPY: SOFTHSM_MODULE, PKCS11SPY_OUTPUT: log });
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "tries", "--so-pin", "12345678", "--pin", "1234"], { env: process.env, stdio: "ignore" });
  lease = await acquireModule({ path: PKCS11_SPY_MODULE, origin: "test", option: "--pkcs11-lib" });
}, 60_000);

afterAll(() => {
  lease?.release();
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  tmp.cleanup();
});

describe("a wrong PIN through raa_native", () => {
  it("is presented once: one C_Login reaches the token, whose flags then say one failed try, not the last", async () => {
    expect(loadNativeHelper().helper?.pkcs11Login).toBeTypeOf("function");
    const wrong = join(tmp.dir, "wrong-pin");
    writeFileSync(wrong, "9876\n", { mode: 0o600 });
    const slot = (await listTokenSlots(lease.module)).find((s) => s.token.label === "tries")!;
    const calls = spyRecorder(log);
    const errors: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const context = openSession(lease.module, slot);
      try {
        // A new supply each time, as a rebuilt signer or a reload makes it: the same bytes all the same.
        await loginUser(context, pinFromSource({ kind: "file", path: wrong }, "the PIN", {}));
      } catch (error) {
        errors.push(error);
      } finally {
        closeSession(context);
      }
    }
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(["PIN_INCORRECT", "PIN_INCORRECT", "PIN_INCORRECT"]);
    expect(String((errors[1] as Error).message)).toMatch(/already rejected the PIN from file .*wrong-pin; it was not presented again$/);
    expect([calls().count("C_Login"), calls().count("C_Login", "CKR_PIN_INCORRECT")]).toEqual([1, 1]);
    const flags = currentTokenFlags(lease.module, slot)!;
    expect([(flags & CKF.USER_PIN_COUNT_LOW) !== 0, (flags & CKF.USER_PIN_FINAL_TRY) !== 0, (flags & CKF.USER_PIN_LOCKED) !== 0]).toEqual([true, false, false]);
    expect(lease.module.directReads).not.toBe(false); // through the helper, not pkcs11js's string
    // The right PIN still logs in: the one try was the only one.
    const right = join(tmp.dir, "right-pin");
    writeFileSync(right, "1234\n", { mode: 0o600 });
    const context = openSession(lease.module, slot);
    try {
      await loginUser(context, pinFromSource({ kind: "file", path: right }, "the PIN", {}));
      expect([calls().count("C_Login"), calls().count("C_Login", "CKR_OK")]).toEqual([2, 1]);
    } finally {
      closeSession(context);
    }
  });
});
