import { describe, expect, it } from "vitest";
import { SESSION_OPTIONS } from "../../src/cli/shared-options.js";
import { DEFAULT_TIMEOUT_MS } from "../../src/rolesanywhere/create-session.js";
import { DEFAULT_CONNECT_TIMEOUT_MS } from "../../src/rolesanywhere/http-client.js";
import { DEFAULT_DURATION_SECONDS } from "../../src/rolesanywhere/request.js";
import { DEFAULT_MAX_ATTEMPTS } from "../../src/rolesanywhere/retry.js";

// --help shows these defaults, but the library applies its own (a flag the user did not give is not passed on):
// the two must agree. The option specs cannot import the constants: they are on the launcher's fast path.
describe("the session defaults --help shows", () => {
  it("are the ones the library applies", () => {
    const shown = Object.fromEntries(SESSION_OPTIONS.map((o) => [o.name, o.default]));
    expect(shown).toMatchObject({
      "session-duration": DEFAULT_DURATION_SECONDS,
      timeout: DEFAULT_TIMEOUT_MS / 1000,
      "connect-timeout": DEFAULT_CONNECT_TIMEOUT_MS / 1000,
      "max-attempts": DEFAULT_MAX_ATTEMPTS,
    });
  });
});
