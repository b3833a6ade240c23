export const SERVICE_NAME = "rolesanywhere";

/** `YYYYMMDD'T'HHMMSS'Z'` in UTC. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
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
