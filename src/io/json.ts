/** The JSON value of `text`; undefined when it is not JSON (JSON.parse never returns undefined). */
export function parseJson(text: string | Buffer): unknown {
  try {
    return JSON.parse(text.toString());
  } catch {
    return undefined;
  }
}
