// dist/launcher-error.cjs: reports a failure of the launcher's own steps (e.g. dist/daemon/ missing from a broken
// installation) as every command reports its errors. A file of its own, required only then: dist/cli.js is
// compiled on every run.
import { FdOutput } from "../fd-output.js";
import { reportError, wantsDebug } from "../report-error.js";

export function reportLauncherErrorAndExit(error: unknown, argv: readonly string[]): never {
  process.exit(reportError(error, { stdout: new FdOutput(1), stderr: new FdOutput(2), env: process.env }, wantsDebug(argv)));
}
