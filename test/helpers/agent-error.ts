import { expect } from "vitest";
import { AgentError } from "../../src/errors.js";

/** Awaits `promise`, which must reject with an AgentError, and returns that error for further checks. */
export async function failure(promise: Promise<unknown>): Promise<AgentError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AgentError);
    return error as AgentError;
  }
  throw new Error("expected a failure");
}

/** Runs `f`, which must throw, and returns what it threw (an AgentError, where the test checks its code). */
export function thrown(f: () => unknown): AgentError {
  try {
    f();
  } catch (error) {
    return error as AgentError;
  }
  throw new Error("expected a throw");
}
