/** The JSON value of `text`; undefined when it is not JSON (JSON.parse never returns undefined). */
export function parseJson(text: string | Buffer): unknown {
  try {
    return JSON.parse(text.toString());
  } catch {
    return undefined;
  }
}

/** JSON.parse, else `fail("not valid JSON (…)")` with {@link describeJsonError}'s reason. */
export function parseJsonOrFail(text: string, fail: (why: string) => never): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    return fail(`not valid JSON (${describeJsonError(cause, text)})`);
  }
}

/** JSON.parse's error as "… at line L, column C", never quoting the text (a secret given as a config file). */
function describeJsonError(cause: unknown, text: string): string {
  // V8 quotes the text around an unexpected token (`, …"text"… is not valid JSON`): the file's text is never echoed.
  const quoted = /,? ?(?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s;
  const message = (cause instanceof Error ? cause.message : String(cause)).replace(quoted, "") || "unexpected text";
  const m = /position (\d+)/.exec(message);
  if (!m) return message;
  const pos = Number(m[1]);
  // Counted in place: a copy of the text before it, split into lines, doubled a 16 MiB file.
  let [line, lineStart] = [1, 0];
  for (let nl = text.indexOf("\n"); nl >= 0 && nl < pos; nl = text.indexOf("\n", nl + 1)) [line, lineStart] = [line + 1, nl + 1];
  const column = pos - lineStart + 1;
  return `${message.replace(/ in JSON at position \d+.*$/, "")} at line ${line}, column ${column}`;
}
