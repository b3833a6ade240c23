/**
 * createSigner's signal (a host's own AbortController) ends a prompt on the terminal, whether the secret was not given
 * (`prompt: true`) or given as a `prompt` source: echo back on, nothing typed afterwards read.
 */
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { CLOSE_ON_SIGUSR1, closeWhilePrompting } from "../helpers/close-while-prompting.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";

const tmp = makeTempDir("raa-prompt-signal-");
afterAll(() => tmp.cleanup());

describe("createSigner aborted while it prompts for the key password", () => {
  const leaf = issueLeaf(createCa(join(tmp.dir, "ca"), { name: "Signal CA" }), join(tmp.dir, "leaf"), { name: "signal" });
  const key = join(tmp.dir, "encrypted.key");
  openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", key, "-v2", "aes-256-cbc", "-passout", "pass:k3y-pw"]);
  const given = {
    "keyPassword: a prompt source": { keyPassword: { kind: "prompt", prompt: "Key password: " } },
    "no key password, prompt: true": { prompt: true },
  };
  it.each(Object.entries(given))("%s: the call rejects with the signal's reason, echo is back on", async (name, more) => {
    // Before (a prompt source): the abort went unheard; the prompt waited until someone typed a line.
    const options = { certificate: leaf.certPath, privateKey: key, ...more };
    const outfile = join(tmp.dir, `${name.split(":")[0]!.replace(/\W/g, "-")}.mjs`);
    const contents = `import { AgentError } from "./src/errors.ts";
      import { createSigner } from "./src/signers/factory.ts";
      const closing = new AbortController();
      const provider = Object.assign(() => createSigner(${JSON.stringify(options)}, closing.signal), {
        close: async () => closing.abort(new AgentError("AGENT_UNAVAILABLE", "aborted by its host")),
      });${CLOSE_ON_SIGUSR1}`;
    const stdin = { contents, resolveDir: resolve("."), loader: "ts" as const };
    await build({ stdin, outfile, bundle: true, format: "esm", platform: "node", target: "node20", logLevel: "silent" });
    const said = "AgentError AGENT_UNAVAILABLE aborted by its host";
    expect(closeWhilePrompting(outfile, "password: ")).toBe(`'closed\\n${said}\\n' echo 'typed-later\\n'\n`);
  }, 120_000);
});
