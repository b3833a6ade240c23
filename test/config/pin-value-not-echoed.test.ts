/**
 * Round 35 (S30): a key-source field (private-key, certificate) of another JSON type was echoed in its error
 * ("got [\"pkcs11:…?pin-value=…\"]"): such a field is where a config file holds a pkcs11: URI, and with it a PIN.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";

const PIN = "739182";
const uri = `pkcs11:token=gw;object=key?pin-value=${PIN}`;

function errorText(value: unknown, field: string): string {
  try {
    parseConfig(JSON.stringify({ profiles: { gw: { [field]: value } } }), "/c.json");
  } catch (error) {
    return `${(error as Error).message} ${(error as { hint?: string }).hint ?? ""}`;
  }
  throw new Error("not refused");
}

describe("a key-source field of another JSON type", () => {
  it("is refused without its value: a URI in an array or an object may hold the pin-value", () => {
    for (const field of ["private-key", "certificate"]) {
      for (const value of [[uri], { uri }]) {
        const text = errorText(value, field);
        expect(text).toContain(`profile "gw": field "${field}" must be a non-empty string`);
        expect(text).not.toContain(PIN);
      }
    }
  });
});
