import { UsageError } from "../errors.js";
import { fractionLost } from "../own-value.js";
import { unknownFlagHint } from "./flag-suggestions.js";
import type { CommandSpec, OptionSpec, ParsedArgs } from "./command.js";

const EMPTY_HINT = "give a value, or leave the flag out for the default";

/**
 * Parses one command's arguments from its {@link CommandSpec} (yargs, slow to load, renders --help only), in the
 * Go helper's syntax: `--flag value`, `--flag=value`, `--bool`, `--bool=false`, Go's integer prefixes.
 */
export function parseCommandArgs(spec: Pick<CommandSpec, "name" | "options" | "conflicts">, argv: readonly string[]): ParsedArgs {
  const values: Record<string, string | boolean | number | string[] | undefined> = {};
  const explicit = new Set<string>();
  const positionals: string[] = [];

  for (const o of spec.options) if (o.default !== undefined) values[o.name] = o.default;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    const flag = flagOf(arg);
    if (!flag) {
      positionals.push(arg);
      continue;
    }
    const { name } = flag;
    let inline = flag.inline;
    const option = optionNamed(spec.options, name);
    if (!option) {
      const suggestion = unknownFlagHint(name, spec.options.map((o) => o.name));
      const help = `see 'roles-anywhere-agent ${spec.name} --help'`;
      throw new UsageError("USAGE", `unknown flag --${name} for '${spec.name}'`, { hint: suggestion ? `${suggestion} ${help}` : help });
    }
    if (option.type === "boolean") {
      const value = booleanOf(inline);
      if (value !== undefined) values[name] = value;
      // Not echoed: `--reuse-pin=123456` is a PIN typed where no value belongs.
      else throw new UsageError("USAGE", `invalid value for --${name} (not shown): expected true or false`);
      explicit.add(name);
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length) throw new UsageError("USAGE", `flag needs an argument: --${name}`);
      inline = argv[++i]!;
    }
    const value = option.type === "number" ? parseGoInteger(inline, name) : inline;
    if (option.choices && !option.choices.includes(String(value))) {
      throw new UsageError("USAGE", `invalid argument "${inline}" for "--${name}" flag: ${inline} is not included in ${option.choices.join(",")}`);
    }
    // Defaults are never arrays: an array is what earlier occurrences of a repeatable flag collected.
    const prev = values[name];
    values[name] = option.repeatable ? [...(Array.isArray(prev) ? prev : []), String(value)] : value;
    explicit.add(name);
  }

  const empty = spec.options.find((o) => o.refuseEmpty && explicit.has(o.name) && [values[o.name]].flat().includes(""));
  if (empty) throw new UsageError("USAGE", `--${empty.name} is empty`, { hint: EMPTY_HINT });
  // The Go helper's message for a mutually exclusive pair, verbatim in shape.
  for (const [a, b] of spec.conflicts ?? []) {
    if (explicit.has(a) && explicit.has(b)) {
      const set = [a, b].sort().join(" ");
      throw new UsageError(
        "USAGE",
        `if any flags in the group [${a} ${b}] are set none of the others can be; [${set}] were all set`,
      );
    }
  }
  return { values, explicit, positionals };
}

/** A flag's name and `=value`, with one dash or two; undefined for an argument that is not a flag. */
export function flagOf(arg: string): { name: string; inline: string | undefined } | undefined {
  if (!arg.startsWith("-") || arg === "-") return undefined;
  const body = arg.slice(arg.startsWith("--") ? 2 : 1); // `-x` or `--x` (a string test: no pattern to compile)
  const eq = body.indexOf("=");
  return eq >= 0 ? { name: body.slice(0, eq), inline: body.slice(eq + 1) } : { name: body, inline: undefined };
}

/** A boolean flag's value as Go's strconv.ParseBool reads its `=value` (none: true); undefined when it is neither. */
export function booleanOf(inline: string | undefined): boolean | undefined {
  if (inline === undefined || /^(true|1|t|TRUE|True)$/.test(inline)) return true;
  return /^(false|0|f|FALSE|False)$/.test(inline) ? false : undefined;
}

/** Go's `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`/`0`, `0b`, a sign, `_` between digits or after a prefix. */
function parseGoInteger(text: string, flag: string): number {
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$/.exec(text);
  if (!m) {
    const n = /^[+-]?(?:(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][+-]?\d+)?|Infinity)$|^NaN$/.test(text) ? Number(text) : undefined;
    // 900.5, 1e21, NaN: for the flag's rule, as in config; a fraction the double drops (899.99999999999999, 1e-400) is no whole number.
    if (n !== undefined && !fractionLost(text)) return n;
    const decimal = /^([+-]?)0[0-9_]*[89]/.test(text) && text.replace(/_/g, "").replace(/^([+-]?)0+(?=\d)/, "$1");
    const hint = decimal && /^[+-]?\d+$/.test(decimal) ? { hint: `a leading 0 makes it octal, as in Go: write ${decimal}` } : {};
    throw new UsageError("USAGE", `invalid argument "${text}" for "--${flag}" flag: not an integer`, hint);
  }
  // Number() reads 0x, 0o and 0b; Go's leading-zero octal becomes 0o. Too large: the flag's rule says so, as of 1e400.
  const n = Number(m[2]!.replace(/_/g, "").replace(/^0(?=[0-7])/, "0o"));
  return m[1] === "-" ? -n : n;
}

/** A linear search: a command has ~50 options and a command line ~10 flags; a Map of them cost ~4 KB per cold run. */
function optionNamed(options: readonly OptionSpec[], name: string): OptionSpec | undefined {
  for (const o of options) if (o.name === name) return o;
  return undefined;
}
