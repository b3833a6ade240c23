/**
 * Whether the agent fast path (agent-fast-path.ts) could take this command line, decided without loading it:
 * it needs `credential-process` with a profile, and the parser (which reads `-name` like `--name`) sets one
 * only from an argument `--profile[=…]`. True does not mean it will: agentRequestOf() decides.
 */
export function mayNameProfile(argv: readonly string[]): boolean {
  return argv[0] === "credential-process" && argv.some(isProfileFlag);
}

/**
 * `--profile`, `-profile`, `--profile=…` or `-profile=…`. String tests: every run pays for this check, and a
 * regular expression tested on each argument costs more to compile than the test itself.
 */
function isProfileFlag(arg: string): boolean {
  const name = arg.startsWith("--") ? arg.slice(2) : arg.startsWith("-") ? arg.slice(1) : undefined;
  return name === "profile" || name?.startsWith("profile=") === true;
}
