import { AgentError, InputError } from "../../errors.js";
import type { Secret } from "../../secrets/secret.js";
import { readSecret, type SecretSource } from "../../secrets/secret-source.js";

/** Which password is being asked for; drives the prompt text and the hint. */
export type KeyPasswordKind = "PKCS#8" | "PKCS#12";

const PROMPTS: Readonly<Record<KeyPasswordKind, string>> = {
  "PKCS#8": "Please enter your PKCS#8 private key password: ",
  "PKCS#12": "Please enter your PKCS#12 password: ",
};

/**
 * Gets the password of an encrypted key file: from the configured source (flag, file, environment), else by
 * asking on the terminal. Without a terminal the failure says which options give it non-interactively.
 */
export async function obtainKeyPassword(
  source: SecretSource | undefined,
  kind: KeyPasswordKind,
  path: string,
): Promise<Secret> {
  const what = kind === "PKCS#8" ? `the PKCS#8 private key password for ${path}` : `the PKCS#12 password for ${path}`;
  if (source !== undefined) return readSecret(source, what);
  try {
    return await readSecret({ kind: "prompt", prompt: PROMPTS[kind] }, what);
  } catch (cause) {
    if (cause instanceof AgentError && cause.code === "PASSWORD_REQUIRED") {
      const noun = kind === "PKCS#8" ? "holds an encrypted private key" : "is password-protected";
      throw new InputError("PASSWORD_REQUIRED", `${path} ${noun} and no password was given`, {
        hint: "there is no terminal to prompt on: pass --pkcs8-password-file FILE or --pkcs8-password-env NAME",
        cause,
      });
    }
    throw cause;
  }
}
