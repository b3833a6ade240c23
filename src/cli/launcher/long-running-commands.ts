/**
 * Commands that keep running. The launcher runs them from dist/daemon/ (memory matters more than start-up
 * time there), and the CLI makes their process non-dumpable before anything else (../long-running.ts).
 */
export const LONG_RUNNING_COMMANDS: ReadonlySet<string> = new Set(["agent", "serve", "update", "local-endpoint"]);
