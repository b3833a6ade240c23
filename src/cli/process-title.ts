/** Flags whose value is a secret when given on the command line (accepted for aws_signing_helper compatibility). */
const SECRET_FLAGS: ReadonlySet<string> = new Set(["pkcs8-password", "tpm-key-password", "tpm-parent-password", "tpm-owner-password"]);
const REDACTED = "***";

/** The arguments with secret flag values and URI `pin-value`s replaced by `***`, or undefined when nothing is hidden. */
export function redactSecretArgs(args: readonly string[]): string[] | undefined {
  const out = [...args];
  for (let i = 0; i < out.length; i++) {
    const arg = out[i]!;
    if (arg === "--") break;
    // String tests before any regular expression: this runs on every command line (credential-process included),
    // and compiling one costs more than the whole check.
    const body = arg.startsWith("--") ? arg.slice(2) : arg.startsWith("-") ? arg.slice(1) : undefined;
    const eq = body?.indexOf("=") ?? -1;
    const flag = eq >= 0 ? body!.slice(0, eq) : body;
    if (flag === undefined || !SECRET_FLAGS.has(flag)) {
      if (arg.toLowerCase().includes("pin-value=")) {
        // The URI parser ends a query value at & alone (a PIN may hold ; or ?), a path value at ; or the ?.
        const q = arg.includes("?") ? arg.indexOf("?") : arg.length;
        const hide = (part: string, value: RegExp) => part.replace(value, `$1${REDACTED}`);
        out[i] = hide(arg.slice(0, q), /(pin-value=)[^;]*/gi) + hide(arg.slice(q), /(pin-value=)[^&]*/gi);
      }
    } else if (eq >= 0) out[i] = `${arg.slice(0, arg.indexOf("="))}=${REDACTED}`;
    else if (i + 1 < out.length) out[++i] = REDACTED;
  }
  return out.some((arg, i) => arg !== args[i]) ? out : undefined;
}

/**
 * Anyone on the host can read a process's command line (`ps`, /proc/PID/cmdline). When it holds a secret,
 * replace it: on Linux, setting process.title overwrites the argv area that /proc/PID/cmdline shows (and
 * the first 15 bytes become /proc/PID/comm). The secret is visible from exec until this runs, which is why
 * the file and environment forms exist.
 */
export function hideSecretsInProcessTitle(argv: readonly string[] = process.argv): void {
  const redacted = redactSecretArgs(argv.slice(2));
  if (!redacted) return;
  process.title = [process.argv0, ...argv.slice(1, 2), ...redacted].join(" ");
}
