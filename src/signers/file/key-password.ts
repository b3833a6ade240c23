import { AgentError, InputError } from "../../errors.js";
import type { Secret } from "../../secrets/secret.js";
import { promptFor, readSecret } from "../../secrets/secret-source.js";
import { optionName, type PromptSignal, type SignerOptions } from "../options.js";

/**
 * Gets the password of an encrypted key file: from the configured source (flag, file, environment), else by
 * asking on the terminal. Without a terminal the failure says which options give it non-interactively.
 */
export async function obtainKeyPassword(
  kind: "PKCS#8" | "PKCS#12",
  path: string,
  options: Pick<SignerOptions, "keyPassword" | "prompt" | "names"> & PromptSignal,
): Promise<Secret> {
  const { keyPassword: source, prompt, names, signal } = options;
  const noun = kind === "PKCS#8" ? "PKCS#8 private key" : "PKCS#12";
  const what = `the ${noun} password for ${path}`;
  if (source !== undefined) return readSecret(source, what, process.env, signal);
  try {
    const asked = promptFor(`Please enter your ${noun} password: `, what, prompt, "keyPassword");
    return await readSecret(asked, what, process.env, signal);
  } catch (cause) {
    if (!(cause instanceof AgentError && cause.code === "PASSWORD_REQUIRED")) throw cause;
    const state = kind === "PKCS#8" ? "holds an encrypted private key" : "is password-protected";
    const give = `there is no terminal to prompt on: pass ${optionName(names, "keyPassword")}`;
    const hint = prompt === false ? cause.hint : give;
    throw new InputError("PASSWORD_REQUIRED", `${path} ${state} and no password was given`, { hint, cause });
  }
}
