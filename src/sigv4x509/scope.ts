export const SERVICE_NAME = "rolesanywhere";

/**
 * `YYYYMMDD'T'HHMMSS'Z'` in UTC: the ISO form without its `.sssZ`, `-` and `:`. String operations, not regular
 * expressions: each pattern costs a compilation on every cold run.
 */
export function amzDate(date: Date): string {
  return `${date.toISOString().slice(0, -5).replaceAll("-", "").replaceAll(":", "")}Z`;
}

/** `YYYYMMDD` in UTC. */
export function shortDate(date: Date): string {
  return amzDate(date).slice(0, 8);
}

export function credentialScope(date: Date, region: string, service = SERVICE_NAME): string {
  return `${shortDate(date)}/${region}/${service}/aws4_request`;
}

/** Parses an X-Amz-Date value; undefined when malformed. */
export function parseAmzDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return amzDate(date) === text ? date : undefined;
}
