/**
 * read-certificate-data's and principal-tags' lines for the certificate objects they leave out (K2/K3): at most five,
 * in URI order, then a count. native-test/pkcs11-unusable-certificates.test.ts shows them on a real token; these pin
 * each rule of src/cli/commands/skipped-certificates.ts without one.
 */
import { describe, expect, it } from "vitest";
import { skippedCertificates } from "../../src/cli/commands/skipped-certificates.js";
import { parsePkcs11Uri } from "../../src/pkcs11/uri.js";

function told(objects: readonly { id: string; reason?: string }[]): string[] {
  let stderr = "";
  const { skipped, tell } = skippedCertificates({ write: (text: string | Uint8Array) => ((stderr += String(text)), true) });
  for (const { id, reason = "broken" } of objects) skipped({ uri: parsePkcs11Uri(`pkcs11:token=t;id=%${id}`), reason, hint: "fix it" });
  expect(stderr).toBe(""); // nothing before tell
  tell();
  expect(stderr === "" || stderr.endsWith("\n")).toBe(true);
  return stderr.split("\n").slice(0, -1);
}

const line = (id: string, reason = "broken") =>
  `roles-anywhere-agent: warning: the certificate object pkcs11:id=%${id};token=t is not listed: ${reason}; fix it`;
const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: (0x40 - i).toString(16).toUpperCase() }));

describe("skippedCertificates", () => {
  it("says nothing when no object was left out", () => {
    expect(told([])).toEqual([]);
  });

  it("tells each of five, in URI order, with no count", () => {
    expect(told(ids(5))).toEqual(["3C", "3D", "3E", "3F", "40"].map((id) => line(id)));
  });

  it("of six, the first five by URI and that one more is not listed", () => {
    expect(told(ids(6))).toEqual([
      ...["3B", "3C", "3D", "3E", "3F"].map((id) => line(id)),
      "roles-anywhere-agent: warning: 1 more certificate object is not listed either (--debug names each)",
    ]);
  });

  it("counts the rest in the plural", () => {
    const lines = told(ids(12));
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe(line("35"));
    expect(lines[5]).toBe("roles-anywhere-agent: warning: 7 more certificate objects are not listed either (--debug names each)");
  });

  it("writes a reason from the token on one printable line, cut after 2,000 characters", () => {
    expect(told([{ id: "01", reason: "a\nb\x1bc" }])).toEqual([line("01", "a b c")]);
    const [long] = told([{ id: "01", reason: "x".repeat(5_000) }]);
    expect(long).toBe(`${line("01", "x".repeat(5_000)).slice(0, "roles-anywhere-agent: warning: ".length + 2_000)}…`);
  });
});
