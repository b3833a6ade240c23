import type { CommandSpec } from "../command.js";

/**
 * Every command, loaded on demand so that running one command never evaluates the others' modules.
 * Add a command by writing `src/cli/commands/<name>.ts` (default export: a CommandSpec) and one line here.
 */
export const COMMANDS: Readonly<Record<string, () => Promise<CommandSpec>>> = {
  agent: async () => (await import("./agent.js")).default,
  doctor: async () => (await import("./doctor.js")).default,
  csr: async () => (await import("./csr.js")).default,
  "credential-process": async () => (await import("./credential-process.js")).default,
  "install-certificate": async () => (await import("./install-certificate.js")).default,
  "install-systemd": async () => (await import("./install-systemd.js")).default,
  keygen: async () => (await import("./keygen.js")).default,
  "local-endpoint": async () => (await import("./local-endpoint.js")).default,
  "sign-string": async () => (await import("./sign-string.js")).default,
  "principal-tags": async () => (await import("./principal-tags.js")).default,
  "read-certificate-data": async () => (await import("./read-certificate-data.js")).default,
  serve: async () => (await import("./serve.js")).default,
  update: async () => (await import("./update.js")).default,
  version: async () => (await import("./version.js")).default,
};

/** The commands main.ts answers itself, with the description that --help and the completion scripts show. */
export const BUILT_IN_COMMANDS = { help: "Show the help of a command", completion: "Print the completion script for bash, zsh or fish (default $SHELL's, else bash)" };
