import { describe, expect, it } from "vitest";
import { redactSecretArgs } from "../../src/cli/process-title.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../../src/pkcs11/uri.js";

describe("redactSecretArgs", () => {
  it("hides the values of secret flags in every spelling, and URI PINs", () => {
    expect(
      redactSecretArgs([
        "serve", "--pkcs8-password", "hunter2", "--tpm-key-password=s3cret", "-tpm-parent-password", "p@ss",
        "--certificate", "pkcs11:token=t;object=k;pin-value=1234?module-path=/x.so", "--private-key", "pkcs11:object=k?PIN-VALUE=9999&module-name=m",
      ]),
    ).toEqual([
      "serve", "--pkcs8-password", "***", "--tpm-key-password=***", "-tpm-parent-password", "***",
      "--certificate", "pkcs11:token=t;object=k;pin-value=***?module-path=/x.so", "--private-key", "pkcs11:object=k?PIN-VALUE=***&module-name=m",
    ]);
  });

  it("hides a URI PIN up to where the URI parser ends it: a query PIN may hold ; and ?", () => {
    const uri = parsePkcs11Uri("pkcs11:token=t?pin-value=12;34?56&module-name=m");
    expect(formatPkcs11Uri(uri, { revealPinValue: true })).toContain("pin-value=12%3B34?56"); // the PIN is 12;34?56
    expect(redactSecretArgs(["serve", "--private-key", "pkcs11:token=t?pin-value=12;34?56&module-name=m"])).toEqual([
      "serve", "--private-key", "pkcs11:token=t?pin-value=***&module-name=m",
    ]);
    expect(redactSecretArgs(["serve", "--private-key=pkcs11:object=k?module-name=m&pin-value=a;b"])).toEqual([
      "serve", "--private-key=pkcs11:object=k?module-name=m&pin-value=***",
    ]);
  });

  it("hides the whole of a path PIN in a URI without a query (not all but its last character)", () => {
    expect(redactSecretArgs(["serve", "--certificate", "pkcs11:token=t;object=k;pin-value=1234", "--private-key=pkcs11:pin-value=98;object=k"])).toEqual([
      "serve", "--certificate", "pkcs11:token=t;object=k;pin-value=***", "--private-key=pkcs11:pin-value=***;object=k",
    ]);
  });

  it("takes only an argument starting with a dash as a flag: a value that ends in a secret flag's name hides nothing", () => {
    expect(redactSecretArgs(["serve", "--role-session-name", "xpkcs8-password", "keep"])).toBeUndefined();
  });

  it("hides keygen's --tpm-owner-password", () => {
    expect(redactSecretArgs(["keygen", "--tpm-owner-password", "own3r", "--tpm-owner-password=own3r"])).toEqual([
      "keygen", "--tpm-owner-password", "***", "--tpm-owner-password=***",
    ]);
  });

  it("leaves argument lists without secrets alone (undefined), including file/env forms and values after --", () => {
    expect(redactSecretArgs(["credential-process", "--pkcs8-password-file", "/p", "--pkcs11-pin-env", "PIN", "--certificate", "pkcs11:object=k"])).toBeUndefined();
    expect(redactSecretArgs(["x", "--", "--pkcs8-password", "v"])).toBeUndefined();
    expect(redactSecretArgs(["x", "--pkcs8-password"])).toBeUndefined();
  });
});
