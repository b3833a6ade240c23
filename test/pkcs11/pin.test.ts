import { afterAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentError } from "../../src/errors.js";
import { RememberedPin, describePinFlags, pinFromSource, pinFromUri, type PinSupply } from "../../src/pkcs11/pin.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-pkcs11-pin-");
afterAll(cleanup);
const pinFile = join(dir, "pin");
writeFileSync(pinFile, "4321\n");

const uriPin = (uri: string): PinSupply => pinFromUri(parsePkcs11Uri(uri).pin!);

describe("PIN from the URI", () => {
  it.each([
    [`pkcs11:object=k?pin-source=${pinFile}`],
    [`pkcs11:object=k?pin-source=file:${pinFile}`],
    [`pkcs11:object=k?pin-source=file://${pinFile}`],
  ])("pin-source %s reads the file without its trailing newline", async (uri) => {
    const supply = uriPin(uri);
    expect(supply.description).toBe(`pin-source file ${pinFile}`);
    expect((await supply.read()).reveal()).toBe("4321");
  });

  it("pin-value, percent-decoded, handed out as copies", async () => {
    const supply = uriPin("pkcs11:object=k?pin-value=12%2634");
    const a = await supply.read();
    a.wipe();
    expect((await supply.read()).reveal()).toBe("12&34");
    expect(supply.description).not.toContain("12");
  });

  it("a pin-source with another scheme is refused", () => {
    expect(() => uriPin("pkcs11:object=k?pin-source=env:PIN")).toThrow(/not supported/);
  });

  it("a missing PIN file is named", async () => {
    const error = await uriPin(`pkcs11:object=k?pin-source=${join(dir, "nope")}`).read().catch((e: AgentError) => e);
    expect((error as AgentError).code).toBe("FILE_UNREADABLE");
    expect((error as AgentError).message).toContain(join(dir, "nope"));
  });
});

describe("PIN from options", () => {
  it("env sources read the environment given, not process.env", async () => {
    const supply = pinFromSource({ kind: "env", name: "MY_PIN" }, "the PIN", { MY_PIN: "1111" });
    expect((await supply.read()).reveal()).toBe("1111");
    await expect(pinFromSource({ kind: "env", name: "MY_PIN" }, "the PIN", {}).read()).rejects.toThrow(/MY_PIN is not set/);
  });

  it("prompt sources refuse without a terminal", async () => {
    const supply = pinFromSource({ kind: "prompt", prompt: "PIN: " }, "the PIN", {});
    await expect(supply.read()).rejects.toThrow(/no terminal/);
  });
});

describe("RememberedPin", () => {
  it("reads its source once, hands out independent copies, and forgets on wipe", async () => {
    let reads = 0;
    const remembered = new RememberedPin({
      description: "test",
      read: async () => {
        reads++;
        return (await uriPin("pkcs11:?pin-value=999").read());
      },
    });
    const first = await remembered.read();
    first.wipe();
    expect((await remembered.read()).reveal()).toBe("999");
    expect(remembered.peek()?.reveal()).toBe("999");
    expect(reads).toBe(1);
    remembered.wipe();
    expect(remembered.peek()).toBeUndefined();
  });
});

describe("describePinFlags", () => {
  it.each([
    [0x0, /no retry-counter warning/],
    [0x10000, /CKF_USER_PIN_COUNT_LOW/],
    [0x30000, /one try left.*CKF_USER_PIN_FINAL_TRY/],
    [0x70000, /locked.*CKF_USER_PIN_LOCKED/],
    [undefined, /could not be read/],
  ])("flags %s", (flags, text) => {
    expect(describePinFlags(flags)).toMatch(text);
  });
});
