import { describe, expect, it } from "vitest";
import { parseSecretSource } from "../../src/secrets/secret-source.js";
import { InputError } from "../../src/errors.js";

describe("parseSecretSource", () => {
  it("decodes a local file: URI", () => {
    expect(parseSecretSource("file:///run/a%20b", "P: ")).toEqual({ kind: "file", path: "/run/a b" });
    expect(parseSecretSource("file://localhost/run/p", "P: ")).toEqual({ kind: "file", path: "/run/p" });
  });

  it("refuses a file: URI that names no local file with an input error, not an internal one", () => {
    for (const uri of ["file://otherhost/x", "file:///a%2Fb", "file:///tmp/%zz"]) {
      let error: unknown;
      try {
        parseSecretSource(uri, "P: ");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).toOneLine()).toBe(
        `${uri} names no local file (another host, an encoded / or a bad %-escape) (write file:/path or file:///path)`,
      );
    }
  });
});
