/**
 * Values given directly (kind "value", held as bytes; a pkcs11: URI's pin-value as uriPin): every one of the six secret fields is its holder's to wipe
 * (heldSecrets), each try of `update --once` gets its own copy of each (withOwnSecrets), and the SDK provider's
 * { kind: "value" } with no string stays a usage error.
 */
import { describe, expect, it } from "vitest";
import { heldSecrets, holdSigner, withOwnSecrets } from "../../src/credentials/signer-holder.js";
import { heldSecret, heldValue } from "../../src/secrets/secret-source.js";
import type { SignerOptions } from "../../src/signers/options.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { ARNS } from "../local-endpoint/support.js";

const FIELDS = ["keyPassword", "pin", "contextPin", "uriPin", "tpmKeyPassword", "parentPassword"] as const;
const given = (): SignerOptions => ({
  privateKey: "pkcs11:token=t;object=k",
  keyPassword: heldValue("keyPassword"),
  pkcs11: { pin: heldValue("pin"), contextPin: heldValue("contextPin"), uriPin: heldValue("uriPin") },
  tpm: { keyPassword: heldValue("tpmKeyPassword"), parentPassword: heldValue("parentPassword") },
});
const sources = (o: SignerOptions) => [o.keyPassword, o.pkcs11?.pin, o.pkcs11?.contextPin, o.pkcs11?.uriPin, o.tpm?.keyPassword, o.tpm?.parentPassword];
const text = (o: SignerOptions) => sources(o).map((s) => heldSecret(s)?.use((b) => b.toString()));
/** The bytes each field holds (taken before a wipe, which makes use() throw). */
const bytes = (o: SignerOptions) => sources(o).map((s) => heldSecret(s)!.use((b) => b));
const zeroed = (held: Buffer[]) => held.map((b) => b.length > 0 && b.every((x) => x === 0));

describe("heldSecrets: the secrets a holder wipes", () => {
  it("are all six fields' held values, in order (none left out: its bytes would stay for the daemon's life)", () => {
    const options = given();
    expect(heldSecrets(options)).toEqual(sources(options).map(heldSecret));
    expect(heldSecrets(options).map((s) => s.use((b) => b.toString()))).toEqual([...FIELDS]);
    expect(heldSecrets({ privateKey: "k.pem", keyPassword: { kind: "file", path: "/pw" } })).toEqual([]);
  });

  it("each of the six is zero once the holder closes", async () => {
    const options = given();
    const held = bytes(options);
    const holder = holdSigner(options, async () => { throw new Error("not opened"); }, () => {});
    expect(zeroed(held)).toEqual([false, false, false, false, false, false]);
    await holder.close();
    expect(zeroed(held)).toEqual([true, true, true, true, true, true]);
  });
});

describe("withOwnSecrets: one more holder's copy (update --once's next try)", () => {
  it("copies each of the six (another Secret, same bytes, same kind): wiping the copies leaves the run's own", () => {
    const options = given();
    const own = withOwnSecrets(options);
    expect(text(own)).toEqual([...FIELDS]);
    for (const [i, source] of sources(own).entries()) {
      expect(heldSecret(source), FIELDS[i]).not.toBe(heldSecret(sources(options)[i]));
      expect(source).toMatchObject({ kind: "value" });
    }
    const copies = bytes(own);
    heldSecrets(own).forEach((s) => s.wipe());
    expect(text(options)).toEqual([...FIELDS]);
    expect(zeroed(copies)).toEqual([true, true, true, true, true, true]);
  });

  it("leaves a source that is not held as it is, and absent pkcs11/tpm settings absent", () => {
    const file = { kind: "file", path: "/pw" } as const;
    const own = withOwnSecrets({ privateKey: "k.pem", keyPassword: file });
    expect(own.keyPassword).toBe(file);
    expect(own.pkcs11).toBeUndefined();
    expect(own.tpm).toBeUndefined();
  });
});

describe("the SDK provider's { kind: \"value\" }", () => {
  it("with a string is held (no string kept); with none or a number, a usage error (not a TypeError)", () => {
    const pin = (value: unknown) => credentialSettingsFromOptions({ ...ARNS, privateKey: "pkcs11:token=t;object=k", pkcs11: { pin: value } } as never).signer.pkcs11?.pin;
    const held = pin({ kind: "value", value: "2468" });
    expect(JSON.stringify(held)).toBe('{"kind":"value"}');
    expect(heldSecret(held)!.use((b) => b.toString())).toBe("2468");
    for (const value of [{ kind: "value", value: 2468 }, { kind: "value" }]) {
      expect(() => pin(value)).toThrow(expect.objectContaining({ code: "USAGE", message: expect.stringContaining("pkcs11.pin must be a string") }));
    }
  });
});
