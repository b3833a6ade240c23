/**
 * A token's identity as listed and printed (round 43, L2), on real SoftHSM tokens behind the attribute shim:
 * - a label that is real UTF-8 holding U+FFFD (EF BF BD, read so by raa_native): the URIs printed name it
 *   (`token=caf%EF%BF%BD`, p11tool finds that token by it); they were left without token= before;
 * - an empty serial and the serial "none" are told apart in messages (both were `serial none`);
 * - a slot whose C_GetTokenInfo fails (CKR_DEVICE_ERROR) is an error naming that slot, not skipped unsaid while
 *   another token is chosen.
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { initSoftHsmToken, setProcessEnv, SOFTHSM_MODULE, writeSoftHsmConf } from "./helpers/softhsm-fixture.js";
import { buildAttributeShim } from "./helpers/attribute-shim.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { describeToken, listTokenSlots, onlyMatchingSlot, tokenNotFound, tokenUri } from "../src/pkcs11/slots.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../src/pkcs11/uri.js";
import { tokenKeyUri } from "../src/provisioning/pkcs11/token-keygen.js";

const tmp = makeTempDir("raa-l2-identity-");
const LABEL = "caf\ufffd";
let conf = "";
let lease: ModuleLease | undefined;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  conf = writeSoftHsmConf(tmp.dir);
  restoreEnv = setProcessEnv({
    SOFTHSM2_CONF: conf, RAA_SHIM_TARGET: SOFTHSM_MODULE, RAA_SHIM_TOKEN_SERIAL: undefined, RAA_SHIM_TOKEN_INFO_ERROR: undefined,
  });
  for (const label of [LABEL, "caf"]) {
    initSoftHsmToken(label, conf);
    // A public key on each: what p11tool lists without a PIN, so the test sees which token a URI finds.
    execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", label, "--login", "--pin", "1234",
      "--keypairgen", "--key-type", "EC:prime256v1", "--label", "k"], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: "ignore" });
  }
  lease = await acquireModule({ path: buildAttributeShim(tmp.dir), origin: "test", option: "--pkcs11-lib" });
}, 120_000);

afterAll(() => {
  lease?.release();
  restoreEnv?.();
  tmp.cleanup();
});

const p11toolUrls = (uri: string) => execFileSync("p11tool", ["--provider", SOFTHSM_MODULE, "--list-all", "--only-urls", uri],
  { env: { ...process.env, SOFTHSM2_CONF: conf }, encoding: "utf8" }).trim().split("\n").filter(Boolean);

it("a label that is UTF-8 with U+FFFD is named by it: token=caf%EF%BF%BD in tokenUri, keygen's URI and 'tokens present:', and p11tool finds that token alone by it", async () => {
  const slots = await listTokenSlots(lease!.module);
  const slot = slots.find((s) => s.token.label === LABEL)!;
  const printed = formatPkcs11Uri(tokenUri(slot));
  expect(printed).toContain(";token=caf%EF%BF%BD");
  expect(formatPkcs11Uri(tokenKeyUri(slot.token, Buffer.from("01", "hex"), "k"))).toContain(";token=caf%EF%BF%BD");
  expect(tokenNotFound(parsePkcs11Uri("pkcs11:token=absent"), slots, lease!.module).hint).toContain(";token=caf%EF%BF%BD");
  expect(onlyMatchingSlot(parsePkcs11Uri(printed), slots, lease!.module, "")).toBe(slot);
  expect(onlyMatchingSlot(parsePkcs11Uri("pkcs11:token=caf%EF%BF%BD"), slots, lease!.module, "")).toBe(slot);
  for (const uri of [printed, "pkcs11:token=caf%EF%BF%BD"]) {
    const found = p11toolUrls(uri);
    expect(found.length).toBeGreaterThan(0);
    for (const url of found) expect(url).toContain(`serial=${slot.token.serial};token=caf%EF%BF%BD;`);
  }
});

it("an empty serial and the serial \"none\" are told apart: (no serial), (serial none)", async () => {
  const described = [];
  for (const serial of ["", "none"]) {
    process.env.RAA_SHIM_TOKEN_SERIAL = serial;
    const slot = (await listTokenSlots(lease!.module)).find((s) => s.token.label === "caf")!;
    described.push(describeToken(slot.token));
  }
  delete process.env.RAA_SHIM_TOKEN_SERIAL;
  expect(described).toEqual(['token "caf" (no serial)', 'token "caf" (serial none)']);
});

it("a slot whose C_GetTokenInfo fails (CKR_DEVICE_ERROR): listing throws, naming that slot, and no other token is chosen", async () => {
  const slots = await listTokenSlots(lease!.module);
  const failing = slots.find((s) => s.token.label === LABEL)!;
  process.env.RAA_SHIM_TOKEN_INFO_ERROR = failing.slotId.toString();
  try {
    // Before: the slot was skipped, and the listing held the other token alone (which pkcs11:token=caf then chose).
    await expect(listTokenSlots(lease!.module)).rejects.toMatchObject({
      code: "PKCS11_ERROR",
      message: `reading the token in slot ${failing.slotId} of the PKCS#11 module ${lease!.module.path} failed: CKR_DEVICE_ERROR (0x30)`,
      hint: expect.stringContaining("no token was chosen"),
    });
  } finally {
    delete process.env.RAA_SHIM_TOKEN_INFO_ERROR;
  }
  expect(await listTokenSlots(lease!.module)).toHaveLength(2);
});
