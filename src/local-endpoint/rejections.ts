import { escapeControls, isAgentError, ServiceError } from "../errors.js";
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

/** `parse()`, with an AgentError it throws replaced by `wrap(its message)`. */
export function rethrownAs<T>(wrap: (message: string) => Error, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw isAgentError(error) ? wrap(error.message) : error;
  }
}
