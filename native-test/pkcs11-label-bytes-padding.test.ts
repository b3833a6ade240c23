/**
 * A label as the module wrote it, by raa_native's pkcs11TokenInfo, cut as pkcs11js's text is cut (round 41, S38): at
 * a NUL (a module padding with NULs, or ending the label with one), then without trailing blanks; blanks inside kept.
 * The attribute shim's RAA_SHIM_TOKEN_LABEL writes bytes softhsm2-util cannot (a NUL) over a real SoftHSM token's.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { initSoftHsmToken, setProcessEnv, SOFTHSM_MODULE, writeSoftHsmConf } from "./helpers/softhsm-fixture.js";
import { buildAttributeShim } from "./helpers/attribute-shim.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { describeToken, listTokenSlots, slotMatches, tokenUri } from "../src/pkcs11/slots.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../src/pkcs11/uri.js";

const tmp = makeTempDir("raa-label-padding-");
let lease: ModuleLease | undefined;
let restoreEnv: (() => void) | undefined;

beforeAll(async () => {
  const conf = writeSoftHsmConf(tmp.dir);
  // RAA_SHIM_TOKEN_LABEL: set by each test, put back with the others.
  restoreEnv = setProcessEnv({ SOFTHSM2_CONF: conf, RAA_SHIM_TARGET: SOFTHSM_MODULE, RAA_SHIM_TOKEN_LABEL: undefined });
  initSoftHsmToken("real", conf);
  lease = await acquireModule({ path: buildAttributeShim(tmp.dir), origin: "test", option: "--pkcs11-lib" });
}, 120_000);

afterAll(() => {
  lease?.release();
  restoreEnv?.();
  tmp.cleanup();
});

/** The one token as listed with the shim writing `hex` as its label. */
async function tokenWithLabel(hex: string) {
  process.env.RAA_SHIM_TOKEN_LABEL = hex;
  const slots = await listTokenSlots(lease!.module);
  expect(slots).toHaveLength(1);
  return slots[0]!;
}
const LIBRARY = { manufacturer: "SoftHSM", description: "d", version: { major: 2, minor: 6 } };

it.each([
  ["a NUL, then more bytes", `636166e9006a756e6b`],
  ["NUL padding", `636166e9${"00".repeat(28)}`],
  ["blank padding", "636166e9"],
])("caf\\xe9 with %s: the bytes caf\\xe9, as the text is caf\\ufffd", async (_, hex) => {
  const slot = await tokenWithLabel(hex);
  expect([slot.token.label, slot.token.bytes?.label]).toEqual(["caf\ufffd", Buffer.from([0x63, 0x61, 0x66, 0xe9])]);
  expect(describeToken(slot.token)).toMatch(/^token "caf\\xe9" /);
  expect(formatPkcs11Uri(tokenUri(slot))).toContain(";token=caf%E9");
  expect(slotMatches(parsePkcs11Uri("pkcs11:token=caf%E9"), slot, LIBRARY)).toBe(true);
});

it("blanks inside the label are the label's: \\xe9, 30 blanks, \\xff", async () => {
  const slot = await tokenWithLabel(`e9${"20".repeat(30)}ff`);
  const bytes = Buffer.from(`e9${"20".repeat(30)}ff`, "hex");
  expect(slot.token.bytes?.label).toEqual(bytes);
  const printed = formatPkcs11Uri(tokenUri(slot));
  expect(printed).toContain(`;token=%E9${"%20".repeat(30)}%FF`);
  expect(slotMatches(parsePkcs11Uri(printed), slot, LIBRARY)).toBe(true);
});

it("a label that is UTF-8 up to its NUL (NUL, then \\xe9): the text's, no bytes kept", async () => {
  for (const hex of ["00e9", "636166", "00".repeat(32)]) {
    const slot = await tokenWithLabel(hex);
    expect(slot.token.bytes).toBeUndefined();
    expect(slotMatches(parsePkcs11Uri(`pkcs11:token=${hex === "636166" ? "caf" : ""}`), slot, LIBRARY)).toBe(true);
  }
});
