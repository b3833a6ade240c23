import { describe, expect, it } from "vitest";
import { CKF } from "../../src/pkcs11/constants.js";
import type { Pkcs11Module } from "../../src/pkcs11/module-loader.js";
import { listTokenSlots, onlyMatchingSlot, slotMatches, type TokenSlot } from "../../src/pkcs11/slots.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";
import { Pkcs11AmbiguousError } from "../../src/pkcs11/pkcs11-errors.js";

/** A module with one slot, its fixed-size text fields as pkcs11js hands them over (32 or 64 characters, padded). */
function moduleWithToken(label: string): Pkcs11Module {
  const fixed = (text: string, size: number) => text.padEnd(size, " ");
  const lib = {
    C_GetSlotList: () => [Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])],
    C_GetSlotInfo: () => ({ slotDescription: fixed("Slot 3", 64), manufacturerID: fixed("Vendor", 32) }),
    C_GetTokenInfo: () => ({
      label: fixed(label, 32),
      manufacturerID: fixed("Vendor", 32),
      model: fixed("M1", 16),
      serialNumber: fixed("0042", 16),
      flags: CKF.TOKEN_INITIALIZED,
    }),
  };
  return { lib } as unknown as Pkcs11Module;
}

describe("listTokenSlots", () => {
  it("reads the blank-padded fields without their padding, keeping a leading blank", async () => {
    const [slot] = await listTokenSlots(moduleWithToken(" spaced label"));
    expect(slot).toMatchObject({ slotId: 3n, slotDescription: "Slot 3", slotManufacturer: "Vendor" });
    expect(slot!.token).toEqual({ label: " spaced label", manufacturer: "Vendor", model: "M1", serial: "0042" });
  });

  it("keeps a trailing tab or no-break space: only blanks are padding (before: trimmed, so p11-kit's URI for it matched nothing)", async () => {
    // p11-kit 0.24.1 prints this token as pkcs11:token=key%09 (p11_kit_uri_format) and reads that as the label
    // 6b 65 79 09 + 28 blanks (round 30).
    const [tab] = await listTokenSlots(moduleWithToken("key\t"));
    const [nbsp] = await listTokenSlots(moduleWithToken("key\u00a0"));
    expect([tab!.token.label, nbsp!.token.label]).toEqual(["key\t", "key\u00a0"]);
    expect(slotMatches(parsePkcs11Uri("pkcs11:token=key%09"), tab!, { manufacturer: "", description: "", version: { major: 0, minor: 0 } })).toBe(true);
  });

  it("cuts a field at a NUL, as a module that writes a C string into the fixed-size field leaves it", async () => {
    const [slot] = await listTokenSlots(moduleWithToken("device\0\u0001stale bytes"));
    expect(slot!.token.label).toBe("device");
  });
});

describe("listTokenSlots asks for slots with a token present", () => {
  it("C_GetSlotList(true): an empty reader is not listed, nor a C_GetTokenInfo asked of it", async () => {
    const module = moduleWithToken("device");
    const asked: unknown[] = [];
    (module.lib as unknown as Record<string, unknown>).C_GetSlotList = (present: unknown) => (asked.push(present), [Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])]);
    await listTokenSlots(module);
    expect(asked).toEqual([true]);
  });
});

describe("listTokenSlots with a module that lists a slot twice", () => {
  it("lists it once", async () => {
    const module = moduleWithToken("device");
    const slot = Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]);
    (module.lib as unknown as Record<string, unknown>).C_GetSlotList = () => [slot, Buffer.from(slot), slot];
    expect(await listTokenSlots(module)).toHaveLength(1);
  });
});

describe("listTokenSlots with a slot whose token cannot be read (round 43, L2)", () => {
  const failing = (name: string, manufacturer = "Vendor") => {
    const module = moduleWithToken("device");
    Object.assign(module, { path: "/usr/lib/m.so", info: { manufacturer, description: "d", version: { major: 1, minor: 0 } } });
    (module.lib as unknown as Record<string, unknown>).C_GetTokenInfo = () => { throw new Error(`${name}: C_GetTokenInfo`); };
    return module;
  };

  it("skips a slot whose token went meanwhile (removed, its reader gone) or that the module does not read", async () => {
    for (const name of ["CKR_TOKEN_NOT_PRESENT", "CKR_DEVICE_REMOVED", "CKR_SLOT_ID_INVALID", "CKR_TOKEN_NOT_RECOGNIZED"]) {
      expect(await listTokenSlots(failing(name))).toEqual([]);
    }
  });

  it("any other failure is thrown, naming the slot: that token may be the one asked for (was skipped unsaid)", async () => {
    for (const name of ["CKR_DEVICE_ERROR", "CKR_GENERAL_ERROR", "CKR_FUNCTION_FAILED"]) {
      await expect(listTokenSlots(failing(name))).rejects.toMatchObject({
        code: "PKCS11_ERROR", message: `reading the token in slot 3 of the PKCS#11 module /usr/lib/m.so failed: ${name}`,
      });
    }
  });

  it("SoftHSM's CKR_GENERAL_ERROR (a token whose files went) is skipped; its CKR_DEVICE_ERROR is thrown", async () => {
    expect(await listTokenSlots(failing("CKR_GENERAL_ERROR", "SoftHSM"))).toEqual([]);
    await expect(listTokenSlots(failing("CKR_DEVICE_ERROR", "SoftHSM"))).rejects.toMatchObject({ code: "PKCS11_ERROR" });
  });
});

describe("listTokenSlots while another process rewrites a SoftHSM token's file", () => {
  const SOFTHSM = { manufacturer: "SoftHSM", description: "Implementation of PKCS11", version: { major: 2, minor: 6 } };
  const uri = parsePkcs11Uri("pkcs11:token=device;object=k");
  /** `blank` listings see the token uninitialised (SoftHSM reading a half-written token.object), then it is there. */
  function rewritten(blank: number, info: object = SOFTHSM): { module: Pkcs11Module; listings: () => number } {
    const module = moduleWithToken("device");
    let listings = 0;
    const lib = module.lib as unknown as Record<string, (...a: unknown[]) => unknown>;
    const list = lib["C_GetSlotList"]!;
    const tokenInfo = lib["C_GetTokenInfo"]!;
    lib["C_GetSlotList"] = () => (listings++, list());
    lib["C_GetTokenInfo"] = () => (listings <= blank ? { ...(tokenInfo() as object), flags: 0 } : tokenInfo());
    lib["C_Login"] = () => expect.unreachable("listing never logs in");
    Object.assign(module, { info, path: "/usr/lib/softhsm/libsofthsm2.so" });
    return { module, listings: () => listings };
  }

  it("lists a file-token module again while the URI matches none (before: exit 5, 'insert it')", async () => {
    const { module, listings } = rewritten(2);
    expect((await listTokenSlots(module, undefined, [undefined, uri])).map((s) => s.token.label)).toEqual(["device"]);
    expect(listings()).toBe(3);
  });

  it("pauses between listings on a timer: a daemon's event loop runs meanwhile (before: Atomics.wait)", async () => {
    const { module } = rewritten(Infinity);
    const lib = module.lib as unknown as Record<string, (...a: unknown[]) => unknown>;
    const list = lib["C_GetSlotList"]!;
    let ticks = 0;
    const ticksAtListing: number[] = [];
    lib["C_GetSlotList"] = () => (ticksAtListing.push(ticks), list());
    const timer = setInterval(() => ticks++, 10);
    try {
      await listTokenSlots(module, undefined, [uri]);
    } finally {
      clearInterval(timer);
    }
    expect(ticksAtListing).toHaveLength(4);
    expect(ticksAtListing[3]!).toBeGreaterThan(ticksAtListing[0]!);
  });

  it("lists 4 times at most, then says another process may be rewriting the token, not to insert it", async () => {
    const { module, listings } = rewritten(Infinity);
    const slots = await listTokenSlots(module, undefined, [uri]);
    expect([slots, listings()]).toEqual([[], 4]);
    expect(() => onlyMatchingSlot(uri, slots, module, "h")).toThrow(expect.objectContaining({
      code: "PKCS11_TOKEN_NOT_FOUND",
      hint: "no token is present; its tokens are files, which another process logging in may have been rewriting: try again; "
        + "if this persists, check that the token exists (`pkcs11-tool -L --module /usr/lib/softhsm/libsofthsm2.so`)",
    }));
  });

  it("quotes the module's path in the pkcs11-tool command to paste (before: `--module /tmp/d$(touch pwned)/…` ran it)", async () => {
    const { module } = rewritten(Infinity);
    Object.assign(module, { path: "/tmp/d$(touch pwned)/libsofthsm2.so" });
    const slots = await listTokenSlots(module, undefined, [uri]);
    expect(() => onlyMatchingSlot(uri, slots, module, "h")).toThrow(expect.objectContaining({
      hint: expect.stringContaining("(`pkcs11-tool -L --module '/tmp/d$(touch pwned)/libsofthsm2.so'`)"),
    }));
  });

  it("lists again while a token cannot be read (CKR_GENERAL_ERROR), though the URI matches another: that one may be the token meant (round 43, S41)", async () => {
    // Two tokens; the first's files are being rewritten by another process's C_Login at the first listing. Before: the
    // URI without token= matched the second alone, which was taken at once (the first's PIN presented to it).
    const module = moduleWithToken("other");
    let listings = 0;
    const lib = module.lib as unknown as Record<string, (...a: unknown[]) => unknown>;
    const tokenInfo = lib["C_GetTokenInfo"]!;
    lib["C_GetSlotList"] = () => (listings++, [Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])]);
    lib["C_GetTokenInfo"] = (handle: unknown) => {
      if ((handle as Buffer)[0] === 3) return tokenInfo();
      if (listings === 1) throw new Error("CKR_GENERAL_ERROR: C_GetTokenInfo");
      return { ...(tokenInfo() as object), label: "device".padEnd(32, " "), serialNumber: "0001".padEnd(16, " ") };
    };
    Object.assign(module, { info: SOFTHSM, path: "/usr/lib/softhsm/libsofthsm2.so" });
    const any = parsePkcs11Uri("pkcs11:object=k");
    expect((await listTokenSlots(module, undefined, [any])).map((s) => s.token.label)).toEqual(["device", "other"]);
    expect(listings).toBe(2);
    listings = 0;
    expect((await listTokenSlots(module)).map((s) => s.token.label)).toEqual(["other"]); // a listing asked for no URI: once
    expect(listings).toBe(1);
    listings = 0;
    lib["C_GetTokenInfo"] = (handle: unknown) => ((handle as Buffer)[0] === 3 ? tokenInfo() : (() => { throw new Error("CKR_SLOT_ID_INVALID: C_GetTokenInfo"); })());
    expect((await listTokenSlots(module, undefined, [any])).map((s) => s.token.label)).toEqual(["other"]); // gone: not listed again
    expect(listings).toBe(1);
  });

  it("lists a hardware token's module once: an absent card is absent (--wait-for-device waits for it)", async () => {
    const { module, listings } = rewritten(Infinity, { ...SOFTHSM, manufacturer: "Vendor" });
    expect([await listTokenSlots(module, undefined, [uri]), listings()]).toEqual([[], 1]);
    expect(() => onlyMatchingSlot(uri, [], module, "h")).toThrow(expect.objectContaining({ hint: expect.stringMatching(/insert it/) }));
  });
});

describe("Pkcs11AmbiguousError", () => {
  it("lists at most 20 candidates (10,000 slots showing one token made one 880 KB message), keeping all of them on the error", () => {
    const uris = Array.from({ length: 10_000 }, (_, i) => `pkcs11:token=t;slot-id=${i}`);
    const e = new Pkcs11AmbiguousError("pkcs11:token=t matches 10000 tokens", uris, "add slot-id");
    const lines = e.message.split("\n");
    expect(lines).toHaveLength(22);
    expect(lines[20]).toBe("  pkcs11:token=t;slot-id=19");
    expect(lines[21]).toBe("  … and 9980 more");
    expect(e.candidates).toHaveLength(10_000);
    expect(new Pkcs11AmbiguousError("x", uris.slice(0, 20), "h").message.split("\n")).toHaveLength(21);
  });
});

describe("slotMatches: a URI selects a token only by attributes it agrees with (else another token's key signs)", () => {
  const slot: TokenSlot = {
    handle: Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]), slotId: 7n, slotDescription: "Reader A", slotManufacturer: "Readers Inc",
    token: { label: "prod", manufacturer: "Vendor", model: "M1", serial: "0042" }, flags: 0,
  };
  const library = { manufacturer: "Lib Co", description: "Lib", version: { major: 2, minor: 6 } };
  const all = "pkcs11:token=prod;manufacturer=Vendor;model=M1;serial=0042;slot-id=7;slot-description=Reader%20A;"
    + "slot-manufacturer=Readers%20Inc;library-manufacturer=Lib%20Co;library-description=Lib;library-version=2.6";

  it("every attribute equal, or absent: a match", () => {
    expect([slotMatches(parsePkcs11Uri(all), slot, library), slotMatches(parsePkcs11Uri("pkcs11:"), slot, library)]).toEqual([true, true]);
  });

  it.each([
    ["token=test"], ["token=pro"], ["manufacturer=Other"], ["model=M2"], ["serial=0043"], ["serial=42"], ["slot-id=8"],
    ["slot-description=Reader%20B"], ["slot-manufacturer=Other"], ["library-manufacturer=Other"],
    ["library-description=Other"], ["library-version=3.6"], ["library-version=2.7"], ["library-version=2"],
  ])("%s, all else equal: no match", (attribute) => {
    const [name] = attribute.split("=");
    const uri = all.split(";").map((a) => (a.replace(/^pkcs11:/, "").startsWith(`${name}=`) ? a.replace(/=.*/, `=${attribute.split("=")[1]}`) : a)).join(";");
    expect(uri).not.toBe(all);
    expect(slotMatches(parsePkcs11Uri(uri), slot, library)).toBe(false);
  });
});

describe("onlyMatchingSlot's preferred slot (the certificate's token)", () => {
  const slotOf = (serial: string, id: number): TokenSlot => ({
    handle: Buffer.from([id, 0, 0, 0, 0, 0, 0, 0]), slotId: BigInt(id), slotDescription: "", slotManufacturer: "",
    token: { label: "t", manufacturer: "m", model: "x", serial }, flags: 0,
  });
  const module = { info: { manufacturer: "Lib", description: "d", version: { major: 1, minor: 0 } }, path: "/m.so" } as unknown as Pkcs11Module;
  const slots = [slotOf("1", 1), slotOf("2", 2)];

  it("decides between tokens the URI matches, but never picks one it does not match", () => {
    expect(onlyMatchingSlot(parsePkcs11Uri("pkcs11:token=t"), slots, module, "h", slots[1])).toBe(slots[1]);
    expect(() => onlyMatchingSlot(parsePkcs11Uri("pkcs11:token=t"), slots, module, "h", slotOf("3", 3))).toThrow(Pkcs11AmbiguousError);
    expect(onlyMatchingSlot(parsePkcs11Uri("pkcs11:serial=1"), slots, module, "h", slots[1])).toBe(slots[0]);
    expect(() => onlyMatchingSlot(parsePkcs11Uri("pkcs11:serial=3"), slots, module, "h", slots[1])).toThrow(
      expect.objectContaining({ code: "PKCS11_TOKEN_NOT_FOUND" }),
    );
  });
});
