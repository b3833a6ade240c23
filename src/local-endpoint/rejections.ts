import { isAgentError, ServiceError } from "../errors.js";

/**
 * How the local endpoint refuses a CreateSession request, in the service's terms: a 403
 * `AccessDeniedException` when authentication fails, a 400 `ValidationException` for bad input,
 * a 404 `ResourceNotFoundException` for an unknown profile. The message is what the client prints.
 */
export function accessDenied(message: string): ServiceError {
  return new ServiceError("ACCESS_DENIED", message, { status: 403, serviceCode: "AccessDeniedException" });
}

export function validationFailed(message: string): ServiceError {
  return new ServiceError("VALIDATION_FAILED", message, { status: 400, serviceCode: "ValidationException" });
}

export function resourceNotFound(message: string): ServiceError {
  return new ServiceError("RESOURCE_NOT_FOUND", message, { status: 404, serviceCode: "ResourceNotFoundException" });
}

/** `parse()`, with an AgentError it throws replaced by `wrap(its message)`. */
export function rethrownAs<T>(wrap: (message: string) => Error, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw isAgentError(error) ? wrap(error.message) : error;
  }
}
