import type { RefreshEvent } from "./credential-cache.js";
import { formatExpiration } from "../rolesanywhere/credentials.js";

/** One log line for a refresh outcome. Never includes credentials: only times and the error's message. */
export function describeRefreshEvent(name: string, event: RefreshEvent): string {
  if (event.type === "refreshed") {
    return `${name}: new credentials, valid until ${formatExpiration(event.expiration)}; next refresh at ${formatExpiration(event.refreshAt)}`;
  }
  const { error } = event;
  const what = `${name}: refresh failed (${error.code}): ${error.toOneLine()}`;
  if (!event.nextAttemptAt) return `${what}; not retried (fix it, then reload with SIGHUP or restart)`;
  const serving = event.servingPreviousUntil
    ? `; still serving the previous credentials until ${formatExpiration(event.servingPreviousUntil)}`
    : "; no valid credentials to serve meanwhile";
  return `${what}; retry #${event.consecutiveFailures + 1} at ${formatExpiration(event.nextAttemptAt)}${serving}`;
}
