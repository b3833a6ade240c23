/**
 * raa_native's pkcs11Attributes at its edges, over real SoftHSM and the pkcs11js that loaded it: duplicate types, a
 * bound of 0 and exactly the length, a type or object the module refuses, malformed arguments, and a module finalized
 * or closed under a PKCS11 still held. Run under ASan/UBSan (round 36, S33) without a report.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import * as pkcs11js from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { SOFTHSM_MODULE, withSoftHsmSession } from "./helpers/softhsm-fixture.js";
import { loadNativeHelper } from "../src/os/native-helper.js";

const tmp = makeTempDir("raa-native-reader-");
const conf = join(tmp.dir, "softhsm2.conf");
const previousConf = process.env.SOFTHSM2_CONF;
process.env.SOFTHSM2_CONF = conf; // the binding in this process reads it
const VALUE = Buffer.alloc(3000, 0x5a);
const CKR_OBJECT_HANDLE_INVALID = 0x82;
const CKR_ATTRIBUTE_TYPE_INVALID = 0x12;
const CKR_CRYPTOKI_NOT_INITIALIZED = 0x190;

beforeAll(() => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "edges", "--so-pin", "12345678", "--pin", "1234"], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: "ignore",
  });
});

afterAll(() => {
  if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previousConf;
  tmp.cleanup();
});

describe("raa_native's pkcs11Attributes", () => {
  it("answers duplicates, bounds, refusals and bad arguments as documented, and refuses a finalized or closed module", () => {
    const { pkcs11Attributes: read, tagPkcs11: tag } = loadNativeHelper().helper!;
    let held: { lib: pkcs11js.PKCS11; session: Buffer; object: Buffer } | undefined;
    withSoftHsmSession("edges", "1234", (lib, session) => {
      const object = lib.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
        { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
        { type: pkcs11js.CKA_LABEL, value: "x" },
        { type: pkcs11js.CKA_ID, value: Buffer.alloc(0) },
        { type: pkcs11js.CKA_VALUE, value: VALUE },
        { type: pkcs11js.CKA_SUBJECT, value: Buffer.from([0x30, 0]) },
      ]);
      held = { lib, session, object };
      const at = (types: number[], bounds: number[]) => read!(lib, pkcs11js.PKCS11, SOFTHSM_MODULE, session, object, types, bounds);
      // A pkcs11js object the agent's loader did not make (untagged) is not read through; tagged once, as the loader does.
      const notPkcs11 = { code: "RAA_NOT_DIRECT", message: "pkcs11Attributes: lib must be a pkcs11js PKCS11" };
      expect(() => at([pkcs11js.CKA_LABEL], [-1])).toThrow(expect.objectContaining(notPkcs11));
      expect(() => tag!({}, pkcs11js.PKCS11)).toThrow(expect.objectContaining({ code: "RAA_NOT_DIRECT", message: "tagPkcs11: lib must be a pkcs11js PKCS11" }));
      expect(() => tag!(Object.create(lib) as object, pkcs11js.PKCS11)).toThrow("tagPkcs11: lib must be a pkcs11js PKCS11");
      expect(() => tag!(lib, {} as never)).toThrow(TypeError);
      tag!(lib, pkcs11js.PKCS11);
      expect(() => tag!(lib, pkcs11js.PKCS11)).toThrow(expect.objectContaining({ code: "RAA_NOT_DIRECT", message: "tagPkcs11: lib is tagged already" }));

      const sixteen = at(Array(16).fill(pkcs11js.CKA_VALUE), Array(16).fill(4096)) as Buffer[];
      expect(sixteen).toHaveLength(16);
      for (const value of sixteen) expect(value.equals(VALUE)).toBe(true);
      expect(at([pkcs11js.CKA_VALUE, pkcs11js.CKA_LABEL], [2999, -1])).toEqual([false, Buffer.from("x")]);
      expect(at([pkcs11js.CKA_VALUE], [3000])).toEqual([VALUE]);
      expect(at([pkcs11js.CKA_VALUE, pkcs11js.CKA_ID], [0, 0])).toEqual([false, Buffer.alloc(0)]);
      const cls = at([pkcs11js.CKA_CLASS], [-1]) as Buffer[];
      expect(cls[0]!.readBigUInt64LE()).toBe(BigInt(pkcs11js.CKO_CERTIFICATE));
      expect(at([0x7fff_fff0], [-1])).toBe(CKR_ATTRIBUTE_TYPE_INVALID);
      expect(at([pkcs11js.CKA_LABEL], [-1])).toEqual([Buffer.from("x")]);
      expect(read!(lib, pkcs11js.PKCS11, SOFTHSM_MODULE, session, Buffer.from("ffffff7f00000000", "hex"), [pkcs11js.CKA_LABEL], [-1])).toBe(CKR_OBJECT_HANDLE_INVALID);

      const usage = "pkcs11Attributes(lib, PKCS11, modulePath, session, object, types, bounds): 1 to 16 types, a bound each";
      expect(() => at([], [])).toThrow(usage);
      expect(() => at(Array(17).fill(pkcs11js.CKA_LABEL), Array(17).fill(-1))).toThrow(usage);
      expect(() => at([pkcs11js.CKA_LABEL], [])).toThrow(usage);
      // Not napi_get_value_int64's reading: NaN and Infinity as 0 (CKA_CLASS, or a bound of 0), 1.5 as 1.
      const notWhole = "pkcs11Attributes: types must be whole numbers from 0 to 2^32-1, bounds from -1 (none) up";
      for (const [types, bounds] of [[[-1], [-1]], [[NaN], [-1]], [[Infinity], [-1]], [[pkcs11js.CKA_LABEL + 0.5], [-1]], [[2 ** 32], [-1]],
        [[pkcs11js.CKA_LABEL], [NaN]], [[pkcs11js.CKA_LABEL], [Infinity]], [[pkcs11js.CKA_LABEL], [-2]], [[pkcs11js.CKA_LABEL], [0.5]]] as const) {
        expect(() => at([...types], [...bounds]), `${types} ${bounds}`).toThrow(/^pkcs11Attributes: types /);
      }
      expect(() => at([NaN], [-1])).toThrow(notWhole);
      expect(() => read!(lib, pkcs11js.PKCS11, SOFTHSM_MODULE, Buffer.alloc(4), object, [pkcs11js.CKA_LABEL], [-1])).toThrow("a PKCS#11 handle must be a Buffer");
    });
    // withSoftHsmSession has called C_Finalize: the function list is still mapped, and the module says so.
    const { lib, session, object } = held!;
    expect(read!(lib, pkcs11js.PKCS11, SOFTHSM_MODULE, session, object, [pkcs11js.CKA_LABEL], [-1])).toBe(CKR_CRYPTOKI_NOT_INITIALIZED);
    lib.close();
    expect(() => read!(lib, pkcs11js.PKCS11, SOFTHSM_MODULE, session, object, [pkcs11js.CKA_LABEL], [-1])).toThrow(/^pkcs11Attributes: /);
  });
});
