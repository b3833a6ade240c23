/**
 * A token another user with its PIN fills with certificate objects: every signer open whose leaf's issuer is not on
 * the token lists them all, and the long-running agent reopens after device errors. pkcs11js 2.1.7 never frees its
 * copy of a preset buffer the value fits in, so each bounded read of a 60,000-byte CKA_VALUE lost 64 KiB: 300 such
 * objects, 10 listings, +224 MiB RSS (round 36); through p11-kit-proxy, the default module, 20 listings +465 MiB until
 * raa_native read with pkcs11js's own function list. Real SoftHSM, real module loader, RSS deltas with generous margins.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pkcs11js from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { readFileSync } from "node:fs";
import { initSoftHsmToken, PKCS11_SPY_MODULE, SOFTHSM_MODULE, withSoftHsmSession } from "./helpers/softhsm-fixture.js";
import { loadNativeHelper } from "../src/os/native-helper.js";
import { P11_KIT_PROXY } from "./helpers/nss-softokn.js";
import { acquireModule, type ModuleLease } from "../src/pkcs11/module-loader.js";
import { listTokenSlots } from "../src/pkcs11/slots.js";
import { closeSession, findCertificates, openSession, type TokenContext } from "../src/pkcs11/objects.js";
import type { UnreadableCertificate } from "../src/pkcs11/unreadable-certificate.js";

const tmp = makeTempDir("raa-listing-memory-");
const conf = join(tmp.dir, "softhsm2.conf");
const previousConf = process.env.SOFTHSM2_CONF;
process.env.SOFTHSM2_CONF = conf; // the binding in this process reads it
const OBJECTS = 300;
const VALUE_BYTES = 60_000;
const HUGE = 256 * 1024 * 1024;
let lease: ModuleLease | undefined;

const initToken = (label: string) => initSoftHsmToken(label, conf);

const certificateObject = (value: Buffer, i: number) => [
  { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
  { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
  { type: pkcs11js.CKA_TOKEN, value: true },
  { type: pkcs11js.CKA_LABEL, value: `filler ${i}` },
  { type: pkcs11js.CKA_ID, value: Buffer.from([i >> 8, i & 0xff]) },
  { type: pkcs11js.CKA_VALUE, value },
  { type: pkcs11js.CKA_SUBJECT, value: Buffer.from([0x30, 0]) },
];

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  initToken("full");
  withSoftHsmSession("full", "1234", (lib, session) => {
    for (let i = 0; i < OBJECTS; i++) lib.C_CreateObject(session, certificateObject(Buffer.alloc(VALUE_BYTES, i & 0xff), i));
  });
  initToken("huge");
  withSoftHsmSession("huge", "1234", (lib, session) => lib.C_CreateObject(session, certificateObject(Buffer.alloc(HUGE, 0x30), 1)));
  lease = await acquireModule({ path: SOFTHSM_MODULE, origin: "test", option: "--pkcs11-lib" });
}, 300_000);

afterAll(() => {
  lease?.release();
  if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previousConf;
  tmp.cleanup();
});

async function withToken<T>(label: string, use: (context: TokenContext) => T, module = lease!.module): Promise<T> {
  const slot = (await listTokenSlots(module)).find((s) => s.token.label === label)!;
  const context = openSession(module, slot);
  try {
    return use(context);
  } finally {
    closeSession(context);
  }
}

const rssMiB = () => process.memoryUsage().rss / 1024 / 1024;

describe("listing a token of 300 certificate objects of 60,000 bytes", () => {
  it("again and again keeps memory level (was +22 MiB per listing)", async () => {
    await withToken("full", (context) => {
      const skipped: UnreadableCertificate[] = [];
      findCertificates(context, {}, skipped); // the first listing: the heap and SoftHSM's caches settle
      expect(skipped.length).toBe(OBJECTS); // each one read (not a certificate): none left out unread
      const start = rssMiB();
      const after: number[] = [];
      for (let listing = 1; listing <= 20; listing++) {
        findCertificates(context, {});
        if (listing % 5 === 0) after.push(rssMiB() - start);
      }
      console.log(`RSS after 5, 10, 15, 20 listings: ${after.map((mib) => `+${mib.toFixed(1)}`).join(", ")} MiB`);
      // Before: +22 MiB per listing, +440 MiB over 20. The margin is the garbage heap of 18 MB of values per listing.
      expect(after[3]!).toBeLessThan(96);
      expect(after[3]! - after[1]!).toBeLessThan(48);
    });
  }, 300_000);
});

describe("a certificate object of 256 MiB", () => {
  it("is refused as too large without being read whole", async () => {
    await withToken("huge", (context) => {
      const skipped: UnreadableCertificate[] = [];
      const start = rssMiB();
      expect(findCertificates(context, {}, skipped)).toEqual([]);
      const grown = rssMiB() - start;
      console.log(`listing a token with a 256 MiB certificate object: RSS +${grown.toFixed(1)} MiB`);
      expect(skipped.map((s) => s.reason)).toEqual([
        "its CKA_VALUE is larger than 65536 bytes, which no certificate the agent can use is",
      ]);
      // SoftHSM's own copies of the object are counted here too (2 × 256 MiB); pkcs11js reading it whole adds 3 more.
      expect(grown).toBeLessThan(3 * 256);
    });
  }, 300_000);
});

describe("raa_native's read of a module's attributes", () => {
  it("never loads a module: one this process has not loaded is refused, and stays unmapped", async () => {
    const read = loadNativeHelper().helper!.pkcs11Attributes!;
    const mapped = () => readFileSync("/proc/self/maps", "utf8").includes(PKCS11_SPY_MODULE);
    expect(mapped()).toBe(false);
    await withToken("full", (context) => {
      const handle = Buffer.alloc(8);
      expect(() => read(context.module.lib, context.module.pkcs11, PKCS11_SPY_MODULE, context.session, handle, [0], [-1])).toThrow("pkcs11Attributes: the PKCS#11 module is not loaded in this process");
    });
    expect(mapped()).toBe(false);
  });

  it("reads only through the pkcs11js that loaded the module: another's, or an object pkcs11js did not wrap, is refused", async () => {
    const read = loadNativeHelper().helper!.pkcs11Attributes!;
    const proxy = await acquireModule({ path: P11_KIT_PROXY, origin: "test", option: "--pkcs11-lib" });
    try {
      await withToken("full", (context) => {
        const handle = Buffer.alloc(8);
        expect(() => read(proxy.module.lib, proxy.module.pkcs11, SOFTHSM_MODULE, context.session, handle, [0], [-1])).toThrow("pkcs11Attributes: lib is not the pkcs11js that loaded this module");
        expect(() => read({}, proxy.module.pkcs11, SOFTHSM_MODULE, context.session, handle, [0], [-1])).toThrow("pkcs11Attributes: lib must be a pkcs11js PKCS11");
      });
    } finally {
      proxy.release();
    }
  });

  it("reads through p11-kit-proxy (the default module) with pkcs11js's own function list: 20 listings keep memory level (was +465 MiB)", async () => {
    // The proxy's C_GetFunctionList makes a new, uninitialised instance at each call: only the list pkcs11js holds reads.
    const proxy = await acquireModule({ path: P11_KIT_PROXY, origin: "test", option: "--pkcs11-lib" });
    try {
      await withToken("full", (context) => {
        const skipped: UnreadableCertificate[] = [];
        findCertificates(context, {}, skipped); // the first listing: the heap and the modules' caches settle
        expect(skipped.length).toBe(OBJECTS); // each one read (not a PKCS11_ERROR for CKR_CRYPTOKI_NOT_INITIALIZED)
        expect(proxy.module.directReads).not.toBe(false); // by raa_native, through the list pkcs11js initialised
        const start = rssMiB();
        const after: number[] = [];
        for (let listing = 1; listing <= 20; listing++) {
          findCertificates(context, {});
          if (listing % 5 === 0) after.push(rssMiB() - start);
        }
        console.log(`through p11-kit-proxy, RSS after 5, 10, 15, 20 listings: ${after.map((mib) => `+${mib.toFixed(1)}`).join(", ")} MiB`);
        // Before: +23 MiB per listing, +465 MiB over 20. The margin is the garbage heap of 18 MB of values per listing.
        expect(after[3]!).toBeLessThan(96);
        expect(after[3]! - after[1]!).toBeLessThan(48);
      }, proxy.module);
    } finally {
      proxy.release();
    }
  }, 300_000);
});
