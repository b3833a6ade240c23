/**
 * raa_native's pkcs11Login checks the very entry it calls: a module whose function list has no C_Login (NULL; the
 * attribute shim's RAA_SHIM_NO_LOGIN) is refused with RAA_NOT_DIRECT before anything is called. A check of another
 * entry (C_GetAttributeValue's, which this list has) would call NULL: the test worker dies of SIGSEGV.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { initSoftHsmToken, SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";
import { buildAttributeShim } from "./helpers/attribute-shim.js";
import { loadNativeHelper } from "../src/os/native-helper.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { listTokenSlots } from "../src/pkcs11/slots.js";
import { closeSession, openSession } from "../src/pkcs11/objects.js";

const tmp = makeTempDir("raa-native-login-null-");
const conf = join(tmp.dir, "softhsm2.conf");
const VARIABLES = ["SOFTHSM2_CONF", "RAA_SHIM_TARGET", "RAA_SHIM_NO_LOGIN"] as const;
const previous = Object.fromEntries(VARIABLES.map((name) => [name, process.env[name]]));
let lease: ModuleLease | undefined;

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  process.env.RAA_SHIM_TARGET = SOFTHSM_MODULE;
  process.env.RAA_SHIM_NO_LOGIN = "1";
  const shim = buildAttributeShim(tmp.dir);
  initSoftHsmToken("no-login", conf);
  lease = await acquireModule({ path: shim, origin: "test", option: "--pkcs11-lib" });
}, 120_000);

afterAll(() => {
  lease?.release();
  for (const [name, value] of Object.entries(previous)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
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
