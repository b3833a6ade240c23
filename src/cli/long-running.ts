import { printableLine } from "../errors.js";
import { DUMPABLE_RISK, loadNativeHelper, refuseInspector } from "../os/native-helper.js";
import type { TextOutput } from "./command.js";
import { LONG_RUNNING_COMMANDS } from "./launcher/long-running-commands.js";
import { PROGRAM } from "./report-error.js";

/**
 * For a long-running command (they hold PINs, key passwords and credentials in memory for days): no core file,
 * and no /proc/PID/mem, environ or ptrace for other processes of the same user (prctl PR_SET_DUMPABLE 0, as
 * ssh-agent does, through the native helper). Where that is not possible, one warning line says so. Nor a Node.js
 * inspector (refuseInspector).
 */
export function protectLongRunningProcess(command: string | undefined, stderr: TextOutput, load = loadNativeHelper): void {
  if (command === undefined || !LONG_RUNNING_COMMANDS.has(command)) return;
  refuseInspector();
  const { helper, reason } = load();
  let problem = helper ? undefined : `the native helper is not available (${reason})`;
  try {
    if (helper && !helper.disableCoreDumps()) problem = `${process.platform} has no non-dumpable flag; only core files are disabled`;
  } catch (error) {
    problem = (error as Error).message;
  }
  if (problem === undefined) return;
  stderr.write(
    `${PROGRAM}: warning: the process stays dumpable: ${printableLine(problem)}; ${DUMPABLE_RISK} (see SECURITY.md)\n`, // the reason names the install path: any bytes
  );
}
