/**
 * A library host whose token needs a PIN it was not given (prompting allowed: createCredentialSource, the agent) is
 * closed while the PIN prompt waits on its terminal: close() ends the prompt. Runs dist/ (npm run build first).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_ON_SIGUSR1, closeWhilePrompting } from "../test/helpers/close-while-prompting.js";
import { ARNS } from "../test/local-endpoint/support.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

let hsm: SoftHsmFixture;
beforeAll(() => {
  hsm = createSoftHsmFixture("raa-pkcs11-prompt-close-");
});
afterAll(() => hsm?.cleanup());

describe("close() while the PKCS#11 user PIN is asked for on the terminal", () => {
  it("resolves, the call rejects (AGENT_UNAVAILABLE), echo is back on, what is typed later is not read", () => {
    // Before: close() waited for the PIN's line, that is until someone typed one (or for ever).
    const lib = (path: string) => JSON.stringify(pathToFileURL(join(process.cwd(), "dist", "lib", path)).href);
    const certificate = `pkcs11:token=${hsm.token};object=ec-key`;
    const options = { certificate, pkcs11: { library: hsm.module }, ...ARNS, endpoint: "https://127.0.0.1:9", env: {} };
    const entry = join(hsm.dir, "close-while-prompting.mjs");
    writeFileSync(entry, `import { createCredentialSource } from ${lib("index.js")};
      import { credentialSettingsFromOptions } from ${lib("sdk/provider-options.js")};
      const settings = credentialSettingsFromOptions(${JSON.stringify(options)});
      const signer = { ...settings.signer, prompt: true };
      const source = createCredentialSource({ name: "${ARNS.roleArn}", settings: { ...settings, signer } });
      const provider = Object.assign(() => source.get(), { close: () => source.close() });${CLOSE_ON_SIGUSR1}`);
    const closed = `AgentError AGENT_UNAVAILABLE ${ARNS.roleArn} was closed (reloaded or removed): ask again`;
    const said = closeWhilePrompting(entry, "User PIN for ", { ...process.env, SOFTHSM2_CONF: hsm.conf });
    expect(said).toBe(`'closed\\n${closed}\\n' echo 'typed-later\\n'\n`);
  });
});
