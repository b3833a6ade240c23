/**
 * raa_native's pkcs11Attributes when something goes wrong, over real SoftHSM behind the attribute shim
 * (helpers/attribute-shim): which failures end the module's direct reads (only "not through this module": code
 * RAA_NOT_DIRECT) and which fail one read (ENOMEM, a bad argument); what it reads through (only an object the agent's
 * loader tagged: one another addon wrapped is never unwrapped); and a module that writes a pointer into the template, or claims more than its room.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as pkcs11js from "pkcs11js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { certificateObjectTemplate, initSoftHsmToken, PKCS11_SPY_MODULE, setProcessEnv, SOFTHSM_MODULE, withSoftHsmSession, writeSoftHsmConf } from "./helpers/softhsm-fixture.js";
import { buildAttributeShim, buildForeignWrap } from "./helpers/attribute-shim.js";
import { loadNativeHelper, nativeHelperPath } from "../src/os/native-helper.js";
import { acquireModule, Pkcs11Module, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { listTokenSlots } from "../src/pkcs11/slots.js";
import { closeSession, findCertificates, findObjects, openSession, readAttributes, unreadAttributes, type TokenContext } from "../src/pkcs11/objects.js";
import { CKA, CKO } from "../src/pkcs11/constants.js";

const tmp = makeTempDir("raa-native-faults-");
const conf = writeSoftHsmConf(tmp.dir);
// The binding in this process reads SOFTHSM2_CONF; answer() sets the shim's answer.
const restoreEnv = setProcessEnv({ SOFTHSM2_CONF: conf, RAA_SHIM_TARGET: SOFTHSM_MODULE, RAA_SHIM_ATTRIBUTE: undefined, RAA_SHIM_ANSWER: undefined });
const VALUE = Buffer.alloc(3000, 0x5a);
const HUGE_LENGTH = 2n ** 62n;
let shim: string;
let lease: ModuleLease | undefined;

function answer(kind: string | undefined, attribute: number): void {
  if (kind === undefined) delete process.env.RAA_SHIM_ANSWER;
  else process.env.RAA_SHIM_ANSWER = kind;
  process.env.RAA_SHIM_ATTRIBUTE = `0x${attribute.toString(16)}`;
}

beforeAll(async () => {
  shim = buildAttributeShim(tmp.dir);
  initSoftHsmToken("faults", conf);
  withSoftHsmSession("faults", "1234", (lib, session) => lib.C_CreateObject(session, certificateObjectTemplate(VALUE, "faulty", "01")));
  lease = await acquireModule({ path: shim, origin: "test", option: "--pkcs11-lib" });
}, 120_000);

afterEach(() => delete process.env.RAA_SHIM_ANSWER);

afterAll(() => {
  lease?.release();
  restoreEnv();
  tmp.cleanup();
});

async function withObject<T>(use: (context: TokenContext, handle: Buffer) => T): Promise<T> {
  const module = lease!.module;
  const slot = (await listTokenSlots(module)).find((s) => s.token.label === "faults")!;
  const context = openSession(module, slot);
  try {
    const [handle] = findObjects(context, { class: CKO.CERTIFICATE });
    return use(context, handle!);
  } finally {
    closeSession(context);
  }
}

describe("a failure of raa_native that is not RAA_NOT_DIRECT", () => {
  it("an argument it refuses (17 types, above its 16) fails that call alone: the types are read one by one, direct reads stay on (were off for good)", async () => {
    await withObject((context, handle) => {
      const types = [...Array(16).fill(CKA.LABEL), CKA.VALUE] as number[];
      const unread = unreadAttributes();
      const values = readAttributes(context, handle, types, unread);
      expect(values.slice(0, 16)).toEqual(Array(16).fill(Buffer.from("faulty")));
      expect(values[16]!.equals(VALUE)).toBe(true);
      expect(unread.failure).toBeUndefined();
      expect(context.module.directReads).not.toBe(false);
    });
  });

  it("a length the module gives that cannot be allocated (2^62 bytes) fails that object's read with ENOMEM, and the next read is direct again", async () => {
    await withObject((context, handle) => {
      answer("huge-length", CKA.CERTIFICATE_TYPE); // read without a bound: the length is taken as the module gives it
      const unread = unreadAttributes();
      const [cls, , value] = readAttributes(context, handle, [CKA.CLASS, CKA.CERTIFICATE_TYPE, CKA.VALUE], unread);
      expect(cls).toBeDefined();
      expect(value!.equals(VALUE)).toBe(true); // the others read one by one
      expect(unread.failure).toMatchObject({ code: "ENOMEM", message: `pkcs11Attributes: no memory for the ${HUGE_LENGTH} bytes the module gives as the length of attribute 0x80` });
      expect(context.module.directReads).not.toBe(false);
      // What the caller sees: the object's read fails, named (never a crash, never "not found").
      expect(() => findCertificates(context, {})).toThrow(/^reading the certificate object pkcs11:.*object=faulty.* failed: pkcs11Attributes: no memory for the/);
      answer(undefined, CKA.CERTIFICATE_TYPE);
      expect(readAttributes(context, handle, [CKA.VALUE], unreadAttributes())[0]!.equals(VALUE)).toBe(true);
      expect(context.module.directReads).not.toBe(false);
    });
  });

  it("a bounded attribute given that length is not allocated at all: longer than its bound", async () => {
    await withObject((context, handle) => {
      answer("huge-length", CKA.VALUE);
      const unread = unreadAttributes();
      expect(readAttributes(context, handle, [CKA.LABEL, CKA.VALUE], unread)).toEqual([Buffer.from("faulty"), undefined]);
      expect([...unread.tooLarge]).toEqual([CKA.VALUE]);
      expect(context.module.directReads).not.toBe(false);
    });
  });
});

describe("what raa_native reads through", () => {
  it("RAA_NOT_DIRECT, only for a module not loaded under that path or a lib that did not load it: those reads are pkcs11js's from then on", async () => {
    const read = loadNativeHelper().helper!.pkcs11Attributes!;
    await withObject((context, handle) => {
      const { lib, pkcs11, info } = context.module;
      const at = (path: string) => () => read(lib, pkcs11, path, context.session, handle, [CKA.LABEL], [-1]);
      expect(at(PKCS11_SPY_MODULE)).toThrow(expect.objectContaining({ code: "RAA_NOT_DIRECT", message: "pkcs11Attributes: the PKCS#11 module is not loaded in this process" }));
      // SoftHSM is loaded (by the shim), but not by this pkcs11js.
      expect(at(SOFTHSM_MODULE)).toThrow(expect.objectContaining({ code: "RAA_NOT_DIRECT", message: "pkcs11Attributes: lib is not the pkcs11js that loaded this module" }));
      const misnamed = new Pkcs11Module(SOFTHSM_MODULE, lib, info, false, pkcs11);
      const values = readAttributes({ ...context, module: misnamed }, handle, [CKA.LABEL, CKA.VALUE], unreadAttributes());
      expect(values).toEqual([Buffer.from("faulty"), VALUE]);
      expect(misnamed.directReads).toBe(false);
    });
  });


  it("never an object another addon wrapped, even laid out as pkcs11js's with the module's own handle, nor given PKCS11's prototype (it was called through)", async () => {
    const foreign = createRequire(import.meta.url)(buildForeignWrap(tmp.dir)) as { wrap(path: string): object; called(): number };
    const read = loadNativeHelper().helper!.pkcs11Attributes!;
    await withObject((context, handle) => {
      const { lib, pkcs11 } = context.module;
      const at = (object: object, PKCS11: abstract new () => object = pkcs11) => () => read(object, PKCS11, shim, context.session, handle, [CKA.LABEL], [-1]);
      const wrapped = foreign.wrap(shim);
      const notPkcs11 = { code: "RAA_NOT_DIRECT", message: "pkcs11Attributes: lib must be a pkcs11js PKCS11" };
      expect(at(wrapped)).toThrow(expect.objectContaining(notPkcs11));
      expect(foreign.called()).toBe(0);
      // An instance of the class by its prototype: only the type tag of the agent's loader tells it from pkcs11js's.
      const disguised = Object.setPrototypeOf(foreign.wrap(shim), pkcs11.prototype as object) as object;
      expect(disguised).toBeInstanceOf(pkcs11);
      expect(at(disguised)).toThrow(expect.objectContaining(notPkcs11));
      expect(foreign.called()).toBe(0);
      // A JavaScript object of the class, with nothing wrapped; the class's own object behind a Proxy; a plain object.
      expect(at(Object.create(pkcs11.prototype as object) as object)).toThrow(expect.objectContaining(notPkcs11));
      expect(at(new Proxy(lib, {}))).toThrow(expect.objectContaining(notPkcs11));
      expect(at({})).toThrow(expect.objectContaining(notPkcs11));
      // The class must be the one that made lib: pkcs11js's own index.js class did not make this one.
      expect(at(lib, pkcs11js.PKCS11)).toThrow(expect.objectContaining(notPkcs11));
      expect(() => read(lib, {} as never, shim, context.session, handle, [CKA.LABEL], [-1])).toThrow(TypeError);
      expect(at(lib)()).toEqual([Buffer.from("faulty")]);
      expect(context.module.directReads).not.toBe(false);
    });
  });
});

describe("a module that writes more than lengths and values into the template", () => {
  it("a pointer written into pValue when asked a length is neither read nor freed (was: free() of it, the process aborted)", () => {
    // In a child process: before the fix it died of glibc's "free(): invalid pointer".
    const script = join(tmp.dir, "stray-pointer.cjs");
    writeFileSync(script, `
      const pkcs11js = require(${JSON.stringify(createRequire(import.meta.url).resolve("pkcs11js"))});
      const helper = { exports: {} };
      process.dlopen(helper, ${JSON.stringify(nativeHelperPath())});
      const lib = new pkcs11js.PKCS11();
      helper.exports.tagPkcs11(lib, pkcs11js.PKCS11); // as the agent's loader does
      lib.load(process.env.SHIM);
      lib.C_Initialize();
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === "faults");
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE }]);
      const [object] = lib.C_FindObjects(session, 1);
      lib.C_FindObjectsFinal(session);
      const values = helper.exports.pkcs11Attributes(lib, pkcs11js.PKCS11, process.env.SHIM, session, object, [pkcs11js.CKA_LABEL, pkcs11js.CKA_VALUE, pkcs11js.CKA_LABEL], [1024, 65536, 1024]);
      console.log(JSON.stringify(values.map((v) => (Buffer.isBuffer(v) && v.length > 100 ? \`\${v.length} bytes of \${v[0]}\` : Buffer.isBuffer(v) ? v.toString("latin1") : v))));
      lib.C_Finalize();
    `);
    const env = { ...process.env, SHIM: shim, RAA_SHIM_ANSWER: "stray-pointer", RAA_SHIM_ATTRIBUTE: `0x${CKA.LABEL.toString(16)}` };
    const child = spawnSync(process.execPath, [script], { env, encoding: "utf8" });
    expect({ signal: child.signal, stderr: child.stderr }).toEqual({ signal: null, stderr: "" });
    // The shim answers so for the last CKA_LABEL of the template; the first is read as SoftHSM gives it.
    expect(JSON.parse(child.stdout)).toEqual(["faulty", "3000 bytes of 90", ""]);
  });

  it("a value that claims 4096 bytes more than its buffer on the second call (the object grew) is cut to the length first given", async () => {
    const read = loadNativeHelper().helper!.pkcs11Attributes!;
    await withObject((context, handle) => {
      answer("grows", CKA.VALUE);
      const { lib, pkcs11 } = context.module;
      expect(read(lib, pkcs11, shim, context.session, handle, [CKA.VALUE, CKA.LABEL], [65_536, -1])).toEqual([VALUE, Buffer.from("faulty")]);
    });
  });

  it("CK_UNAVAILABLE_INFORMATION with CKR_OK is null; CKR_BUFFER_TOO_SMALL on the second call is the module's code", async () => {
    const read = loadNativeHelper().helper!.pkcs11Attributes!;
    await withObject((context, handle) => {
      const { lib, pkcs11 } = context.module;
      const at = () => read(lib, pkcs11, shim, context.session, handle, [CKA.LABEL, CKA.VALUE], [-1, 65_536]);
      answer("ok-unavailable", CKA.VALUE);
      expect(at()).toEqual([Buffer.from("faulty"), null]);
      answer("too-small", CKA.VALUE);
      expect(at()).toBe(0x150);
    });
  });
});
