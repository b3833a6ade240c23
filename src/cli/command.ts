import { AgentError, UsageError } from "../errors.js";
import { wholeNumberProblem } from "../own-value.js";

export interface OptionSpec {
  /** Long name without dashes, e.g. `role-arn`. */
  readonly name: string;
  readonly type: "string" | "boolean" | "number";
  readonly description: string;
  readonly default?: string | boolean | number;
  readonly choices?: readonly string[];
  /** May be given several times (collected into an array of strings). */
  readonly repeatable?: boolean;
  /**
   * An empty value (an unset "$VAR") is a usage error (parseCommandArgs): the one home of that rule. Not on
   * the Go helper's flags: scripts written for it pass `--intermediates "$X"` with X unset, and it reads "" as unset.
   */
  readonly refuseEmpty?: boolean;
}

/** The values of one invocation: option name → value, and which names the user set explicitly. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | number | string[] | undefined>>;
  readonly explicit: ReadonlySet<string>;
  readonly positionals: readonly string[];
}

/** Where a command writes text: process.stdout/stderr, the CLI's fd writers, or a test's collector. */
export interface TextOutput {
  write(text: string | Uint8Array): unknown;
  /** True on a terminal; absent or false for files, pipes and tests. */
  readonly isTTY?: boolean;
}

export interface CliIo {
  readonly stdout: TextOutput;
  readonly stderr: TextOutput;
  readonly env: NodeJS.ProcessEnv;
}

export interface CommandSpec {
  readonly name: string;
  readonly describe: string;
  readonly options: readonly OptionSpec[];
  /** Pairs that may not both be set (the Go helper's flag groups). */
  readonly conflicts?: readonly (readonly [string, string])[];
  /** Runs the command; resolves to the exit code. Heavy modules are imported inside, lazily. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

export function stringArg(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** A string option whose spec has a default, which the parser sets: the spec is the one home of that default. */
export function defaultedString(args: ParsedArgs, name: string): string {
  return stringArg(args, name) ?? noDefault(name);
}

export function boolArg(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** An integer flag within [min, max]: the settings' one rule (own-value.ts), unless a `rule` ends the usage error. */
export function integerArg(args: ParsedArgs, name: string, min: number, max: number, rule?: string) {
  const v = args.values[name];
  const problem = typeof v === "number" ? wholeNumberProblem(v, min, max) : undefined;
  if (problem) throw new UsageError("USAGE", rule ? `--${name} ${v} ${rule}` : `--${name} ${problem}`);
  return typeof v === "number" ? v : undefined;
}

/** {@link integerArg} of an option whose spec has a default. */
export function defaultedInteger(args: ParsedArgs, name: string, min: number, max: number, rule?: string): number {
  return integerArg(args, name, min, max, rule) ?? noDefault(name);
}

function noDefault(name: string): never {
  throw new AgentError("INTERNAL", `--${name} has no default in its command's options`);
}

export function listArg(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  return Array.isArray(v) ? v : [];
}
