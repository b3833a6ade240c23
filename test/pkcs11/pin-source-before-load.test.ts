/**
 * A URI's pin-source the signer refuses (another scheme, another host's file://) is refused before any PKCS#11 module
 * is loaded: the check needs none. The module named here does not exist, so a load tried first would say so instead.
 */
import { describe, expect, it } from "vitest";
import { runMain } from "../helpers/run-main.js";

const MODULE = "/nonexistent/raa-pin-source/module.so";
const uri = (source: string) => `pkcs11:token=t;object=k?module-path=${MODULE}&pin-source=${source}`;

describe("a pin-source the signer refuses is refused before the module is loaded", () => {
  const commands: [string, (u: string) => string[]][] = [
    ["sign-string", (u) => ["sign-string", "--private-key", u]],
    ["read-certificate-data", (u) => ["read-certificate-data", "--certificate", u]],
    ["keygen", (u) => ["keygen", "--private-key", u]],
  ];
  it.each(commands.flatMap(([name, argv]) => [
    [name, "https://example.com/pin", "pin-source=https:… is not supported", argv],
    [name, "file://server/pin", "pin-source=file://server/pin names no local file", argv],
  ] as const))("%s, pin-source=%s", async (_, source, said, argv) => {
    const run = await runMain(argv(uri(source)), { CI: "true" });
    expect(run.stderr).toContain(said);
    expect(run.stderr).not.toContain(MODULE);
    expect(run.code).toBe(3);
  });
});
