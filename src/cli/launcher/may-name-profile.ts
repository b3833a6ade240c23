/**
 * Whether the agent fast path (agent-fast-path.ts) could take this command line, decided without loading it:
 * it needs `credential-process` with a profile, and the parser (which reads `-name` like `--name`) sets one
 * only from an argument `--profile[=…]`. True does not mean it will: agentRequestOf() decides.
 */
export function mayNameProfile(argv: readonly string[]): boolean {
  return argv[0] === "credential-process" && argv.some((a) => /^--?profile(=|$)/.test(a));
}
