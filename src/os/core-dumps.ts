import { loadNativeHelper } from "./native-helper.js";

export type CoreDumpProtection = { readonly protected: true } | { readonly protected: false; readonly reason: string };

/**
 * Makes this process non-dumpable, as ssh-agent does: no core file is written (RLIMIT_CORE 0 as well), and
 * other processes of the same user can no longer read its memory (/proc/PID/mem), environment or attach a
 * debugger; only root can. For the long-running commands, which hold PINs, key passwords and credentials in
 * memory for days. Needs the native helper; without it the process stays as it was and the reason is returned.
 */
export function disableCoreDumps(): CoreDumpProtection {
  const load = loadNativeHelper();
  if (!load.helper) return { protected: false, reason: `the native helper is not available (${load.reason})` };
  try {
    if (load.helper.disableCoreDumps()) return { protected: true };
    return { protected: false, reason: `${process.platform} has no non-dumpable flag; only core files are disabled` };
  } catch (error) {
    return { protected: false, reason: (error as Error).message };
  }
}
