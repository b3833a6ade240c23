/**
 * A URI's type= other than cert names no certificate: read-certificate-data and principal-tags refuse it, in one line
 * and before any module is loaded (before: type= was ignored and the token's certificates were listed). The module
 * named here does not exist, so a load tried first would say so instead.
 */
import { describe, expect, it } from "vitest";
import { runMain } from "../../helpers/run-main.js";

const MODULE = "/nonexistent/raa-uri-type/module.so";
const uri = (type: string) => `pkcs11:token=t;object=k;type=${type}?module-path=${MODULE}`;

describe("a pkcs11: URI whose type= names no certificate, where certificates are listed", () => {
  it.each([
    ["read-certificate-data", "private"],
    ["read-certificate-data", "data"],
    ["principal-tags", "public"],
  ])("%s --certificate …;type=%s: PKCS11_URI_INVALID (3), one line", async (command, type) => {
    const run = await runMain([command, "--certificate", uri(type)], { CI: "true" });
    expect(run.stderr).toContain(`names ${type} objects, never a certificate`);
    expect(run.stderr).toContain(`drop type=${type} from the URI, or write type=cert`);
    expect(run.stderr).not.toContain(MODULE);
    expect(run.code).toBe(3);
  });

  it.each([["type=cert", uri("cert")], ["no type=", `pkcs11:token=t;object=k?module-path=${MODULE}`]])("control: %s goes on to the module", async (_, given) => {
    const run = await runMain(["read-certificate-data", "--certificate", given], { CI: "true" });
    expect(run.stderr).toContain(`cannot load the PKCS#11 module ${MODULE}`);
  });
});
