/** Commands that keep running: run from dist/daemon/ (main.ts says why), made non-dumpable (../long-running.ts). */
export const LONG_RUNNING_COMMANDS: ReadonlySet<string> = new Set(["agent", "serve", "update", "local-endpoint"]);
