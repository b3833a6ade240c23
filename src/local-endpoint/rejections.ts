import { isAgentError, ServiceError } from "../errors.js";
import { refusalCode } from "../rolesanywhere/response.js";

/**
 * How the local endpoint refuses a request: the service's status and error type; the message is what the client
 * prints, so the request text it quotes (an ARN, a field, an action) has its control characters escaped.
 */
export function rejection(status: number, serviceCode: string, message: string): ServiceError {
  return new ServiceError(refusalCode(serviceCode, status), escapeControls(message), { status, serviceCode });
}

export const accessDenied = (message: string) => rejection(403, "AccessDeniedException", message);
export const validationFailed = (message: string) => rejection(400, "ValidationException", message);
export const resourceNotFound = (message: string) => rejection(404, "ResourceNotFoundException", message);

/**
 * Request text quoted in a message or log line, as `\u001b`: C0/C1 controls, line separators and bidi/invisible
 * format characters (the set errors.ts's printableLine drops), to forge no line, drive no terminal, hide nothing.
 */
export function escapeControls(text: string): string {
  const unprintable = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g;
  return text.replace(unprintable, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `parse()`, with an AgentError it throws replaced by `wrap(its message)`. */
export function rethrownAs<T>(wrap: (message: string) => Error, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw isAgentError(error) ? wrap(error.message) : error;
  }
}
