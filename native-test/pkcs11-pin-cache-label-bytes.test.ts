/**
 * The PIN-rejection cache tells tokens apart by their labels' bytes (round 41, S38). Two real SoftHSM tokens labelled
 * `caf\xe9` and `caf\xff` (Latin-1 bytes: both `caf\ufffd` as pkcs11js's text) with one serial (the attribute shim's
 * RAA_SHIM_TOKEN_SERIAL; vendors' tokens and two modules' may share one) and different PINs. Before, pin.ts keyed a
 * token by that text: the PIN `caf\xe9` rejected was then refused for `caf\xff` without being presented
 * ("already rejected the PIN … not presented again"), though it is that token's PIN.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { setProcessEnv, SOFTHSM_MODULE, writeSoftHsmConf } from "./helpers/softhsm-fixture.js";
import { buildAttributeShim } from "./helpers/attribute-shim.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { listTokenSlots } from "../src/pkcs11/slots.js";
import { closeSession, openSession } from "../src/pkcs11/objects.js";
import { loginUser, pinFromSource } from "../src/pkcs11/pin.js";

const tmp = makeTempDir("raa-pin-cache-bytes-");
/** Each token's user PIN; printf's octal for the label's last byte. */
const TOKENS = { e9: { octal: "351", pin: "1111" }, ff: { octal: "377", pin: "2222" } } as const;
let lease: ModuleLease | undefined;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  const conf = writeSoftHsmConf(tmp.dir);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  for (const { octal, pin } of Object.values(TOKENS)) {
    // The label's byte through sh: Node's argv is UTF-8 text.
    execFileSync("sh", ["-c", `softhsm2-util --init-token --free --label "$(printf 'caf\\${octal}')" --so-pin 12345678 --pin ${pin}`], { env, stdio: "ignore" });
  }
  writeFileSync(join(tmp.dir, "pin"), `${TOKENS.ff.pin}\n`, { mode: 0o600 });
  restoreEnv = setProcessEnv({ SOFTHSM2_CONF: conf, RAA_SHIM_TARGET: SOFTHSM_MODULE, RAA_SHIM_TOKEN_SERIAL: "0123456789abcdef" });
  lease = await acquireModule({ path: buildAttributeShim(tmp.dir), origin: "test", option: "--pkcs11-lib" });
}, 120_000);

afterAll(() => {
  lease?.release();
  restoreEnv?.();
  tmp.cleanup();
});

async function login(byte: keyof typeof TOKENS): Promise<unknown> {
  const { module } = lease!;
  const label = Buffer.from([0x63, 0x61, 0x66, parseInt(byte, 16)]);
  const slot = (await listTokenSlots(module)).find((s) => s.token.bytes?.label.equals(label))!;
  expect([slot.token.label, slot.token.serial]).toEqual(["caf\ufffd", "0123456789abcdef"]);
  const context = openSession(module, slot);
  try {
    return await loginUser(context, pinFromSource({ kind: "file", path: join(tmp.dir, "pin") }, "the PIN", {})).then(() => {
      module.lib.C_Logout(context.session);
      return "logged in";
    }, (error: unknown) => error);
  } finally {
    closeSession(context);
  }
}

it("a PIN caf\\xe9 rejected is still presented to caf\\xff, which has the same serial, and logs in", async () => {
  expect(await login("e9")).toMatchObject({ code: "PIN_INCORRECT", message: expect.stringMatching(/^token "caf\\xe9" \(serial 0123456789abcdef\) rejected the PIN/) });
  expect(await login("ff")).toBe("logged in");
  // And caf\xe9 still refuses it unpresented: the rejection is remembered for that token.
  expect(await login("e9")).toMatchObject({ message: expect.stringContaining('token "caf\\xe9" (serial 0123456789abcdef) already rejected the PIN') });
});
