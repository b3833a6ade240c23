import { UsageError } from "../errors.js";
import type { CommandSpec } from "./command.js";
import { nearestNames } from "../nearest-names.js";
import { BUILT_IN_COMMANDS } from "./commands/index.js";

const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;

/** Options that take a file path, so the shell completes file names after them. */
const PATH_OPTION = /(^|-)(certificate|private-key|intermediates|file|config|bundle|lib|socket|dir|anchors|out|key)$/;

/** The shell named, else the one $SHELL names (bash when it is unset): a script for another shell breaks in it. */
function shellFor(name: string | undefined, env: NodeJS.ProcessEnv): string {
  const chosen = name ?? (env["SHELL"]?.split("/").pop() || "bash");
  if ((COMPLETION_SHELLS as readonly string[]).includes(chosen)) return chosen;
  const near = nearestNames(chosen, COMPLETION_SHELLS);
  throw new UsageError("USAGE", `no completion script for the shell "${chosen}"${name === undefined ? " ($SHELL)" : ""}`, {
    hint: `${near.length ? `did you mean ${near.join(" or ")}? ` : ""}choose one of ${COMPLETION_SHELLS.join(", ")}`,
  });
}

/**
 * A static completion script (commands, then each command's flags; file names after path flags): the
 * shell never has to start Node to complete a word.
 */
export function completionScript(shellName: string | undefined, program: string, specs: readonly CommandSpec[], env: NodeJS.ProcessEnv): string {
  const shell = shellFor(shellName, env);
  const described = [...specs.map((s) => [s.name, s.describe] as const), ...Object.entries(BUILT_IN_COMMANDS)];
  const commands = described.map(([name]) => name).sort();
  const fn = `_${program.replace(/[^A-Za-z0-9]/g, "_")}`;
  if (shell === "bash") {
    const cases = specs
      .map((s) => `    ${s.name}) flags="${s.options.map((o) => `--${o.name}`).join(" ")}" ;;`)
      .join("\n");
    const pathFlags = [...new Set(specs.flatMap((s) => s.options.filter((o) => PATH_OPTION.test(o.name)).map((o) => `--${o.name}`)))].join("|");
    return `# bash completion for ${program} (source it, or install as /etc/bash_completion.d/${program})
${fn}() {
  local cur prev cmd flags
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.join(" ")}" -- "$cur") )
    return
  fi
  case "$prev" in
    ${pathFlags || "--none"}) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
  esac
  case "$cmd" in
${cases}
    help) flags="${specs.map((s) => s.name).join(" ")}" ;;
    completion) flags="${COMPLETION_SHELLS.join(" ")}" ;;
    *) flags="" ;;
  esac
  COMPREPLY=( $(compgen -W "$flags --help" -- "$cur") )
}
complete -o default -F ${fn} ${program}
`;
  }
  const escape = (text: string) => text.replace(/'/g, "'\\''");
  if (shell === "zsh") {
    const perCommand = specs
      .map((s) => {
        const args = s.options.map((o) => {
          const action = PATH_OPTION.test(o.name) ? ":file:_files" : o.type !== "boolean" ? ":value:" : "";
          return `'--${o.name}[${escape(o.description.replace(/[[\]:]/g, " "))}]${action}'`;
        });
        return `    ${s.name}) _arguments ${args.join(" ")} ;;`;
      })
      .join("\n");
    return `#compdef ${program}
# zsh completion for ${program} (put it in a directory of $fpath as _${program}, or source it after compinit)
${fn}() {
  local -a commands
  commands=(
${described.map(([name, describe]) => `    '${name}:${escape(describe.replace(/:/g, " "))}'`).join("\n")}
  )
  if (( CURRENT == 2 )); then
    _describe command commands
    return
  fi
  shift words
  (( CURRENT-- ))
  case "$words[1]" in
${perCommand}
    help) _values command ${specs.map((s) => s.name).join(" ")} ;;
    completion) _values shell ${COMPLETION_SHELLS.join(" ")} ;;
  esac
}
compdef ${fn} ${program}
`;
  }
  const lines = [
    `# fish completion for ${program} (save as ~/.config/fish/completions/${program}.fish)`,
    `complete -c ${program} -f`,
    ...described.map(([name, describe]) => `complete -c ${program} -n __fish_use_subcommand -a ${name} -d '${escape(describe)}'`),
    `complete -c ${program} -n '__fish_seen_subcommand_from help' -a '${specs.map((s) => s.name).join(" ")}'`,
    `complete -c ${program} -n '__fish_seen_subcommand_from completion' -a '${COMPLETION_SHELLS.join(" ")}'`,
  ];
  for (const s of specs) {
    for (const o of s.options) {
      const value = o.type === "boolean" ? "" : PATH_OPTION.test(o.name) ? " -r -F" : " -r";
      lines.push(`complete -c ${program} -n '__fish_seen_subcommand_from ${s.name}' -l ${o.name}${value} -d '${escape(o.description)}'`);
    }
  }
  return `${lines.join("\n")}\n`;
}
