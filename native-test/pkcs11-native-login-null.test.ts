/**
 * raa_native's pkcs11Login checks the very entry it calls: a module whose function list has no C_Login (NULL; the
 * attribute shim's RAA_SHIM_NO_LOGIN) is refused with RAA_NOT_DIRECT before anything is called. A check of another
 * entry (C_GetAttributeValue's, which this list has) would call NULL: the test worker dies of SIGSEGV.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { initSoftHsmToken, setProcessEnv, SOFTHSM_MODULE, writeSoftHsmConf } from "./helpers/softhsm-fixture.js";
import { buildAttributeShim } from "./helpers/attribute-shim.js";
import { loadNativeHelper } from "../src/os/native-helper.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { listTokenSlots } from "../src/pkcs11/slots.js";
import { closeSession, openSession } from "../src/pkcs11/objects.js";

const tmp = makeTempDir("raa-native-login-null-");
let lease: ModuleLease | undefined;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  const conf = writeSoftHsmConf(tmp.dir);
  restoreEnv = setProcessEnv({ SOFTHSM2_CONF: conf, RAA_SHIM_TARGET: SOFTHSM_MODULE, RAA_SHIM_NO_LOGIN: "1" });
  const shim = buildAttributeShim(tmp.dir);
  initSoftHsmToken("no-login", conf);
  lease = await acquireModule({ path: shim, origin: "test", option: "--pkcs11-lib" });
}, 120_000);

afterAll(() => {
  lease?.release();
  restoreEnv?.();
  tmp.cleanup();
});

it("a function list without C_Login: RAA_NOT_DIRECT, nothing called", async () => {
  const { module } = lease!;
  const slot = (await listTokenSlots(module)).find((s) => s.token.label === "no-login")!;
  const context = openSession(module, slot);
  try {
    const login = loadNativeHelper().helper!.pkcs11Login!;
    expect(() => login(module.lib, module.pkcs11, module.path, context.session, 1, Buffer.from("1234")))
      .toThrow(expect.objectContaining({ code: "RAA_NOT_DIRECT", message: "pkcs11Login: lib is not the pkcs11js that loaded this module" }));
  } finally {
    closeSession(context);
  }
});
