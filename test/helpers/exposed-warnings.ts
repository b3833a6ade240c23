import { afterEach, beforeEach } from "vitest";

/** The RAA_EXPOSED_FILE process warnings emitted during each test of the file that calls this (emptied after each). */
export function exposedWarnings(): string[] {
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => void (warning.code === "RAA_EXPOSED_FILE" && warnings.push(warning.message));
  beforeEach(() => void process.on("warning", onWarning));
  afterEach(() => {
    process.off("warning", onWarning);
    warnings.length = 0;
  });
  return warnings;
}

/** Process warnings are emitted on the next tick. */
export const warningsEmitted = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
