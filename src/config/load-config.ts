import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { InputError } from "../errors.js";
import { readFileAsync, statAsync as stat } from "../io/fs-callbacks.js";
import { parseConfig, type AgentConfig } from "./parse-config.js";

/** `$XDG_CONFIG_HOME/roles-anywhere-agent/config.json`, else `~/.config/roles-anywhere-agent/config.json`. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const base = env["XDG_CONFIG_HOME"] && env["XDG_CONFIG_HOME"].startsWith("/") ? env["XDG_CONFIG_HOME"] : join(home, ".config");
  return join(base, "roles-anywhere-agent", "config.json");
}

/**
 * Reads and validates the config file (`explicitPath`, else the default location). A file that other
 * users may write is refused: whoever can edit it can point the agent at their own endpoint and
 * collect signed requests.
 */
export async function loadConfig(explicitPath?: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentConfig> {
  const path = resolve(explicitPath ?? defaultConfigPath(env));
  let text: string;
  try {
    const info = await stat(path);
    if ((info.mode & 0o022) !== 0) {
      throw new InputError("CONFIG_INVALID", `config ${path} is writable by other users; it was not used`, {
        hint: `run: chmod go-w ${path}`,
      });
    }
    text = (await readFileAsync(path)).toString("utf8");
  } catch (cause) {
    if (cause instanceof InputError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new InputError("CONFIG_NOT_FOUND", `config file ${path} does not exist`, {
        hint: explicitPath ? "check the --config path" : "create it (see docs/long-running.md) or pass --config",
        cause,
      });
    }
    throw new InputError("FILE_UNREADABLE", `cannot read config file ${path}: ${code ?? "error"}`, { cause });
  }
  return parseConfig(text, path);
}
