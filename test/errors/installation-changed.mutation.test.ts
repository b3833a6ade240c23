import { describe, expect, it } from "vitest";
import { installationChanged } from "../../src/errors.js";

describe("installationChanged: the build's end marker", () => {
  it("only Node's own link error, at the start of the message, is a module cut short (not one quoting it)", () => {
    const linkError = "The requested module './chunk-AB12.mjs' does not provide an export named '__raaEnd'";
    expect(installationChanged(new SyntaxError(linkError))?.message).toMatch(/: \.\/chunk-AB12\.mjs is cut short$/);
    // A SyntaxError of another origin that quotes it (a JSON file or a user's text naming the module) is not one.
    expect(installationChanged(new SyntaxError(`Unexpected token in ${linkError}`))).toBeUndefined();
  });
});
