import { loadNativeHelper } from "./native-helper.js";

/**
 * Makes this process non-dumpable, as ssh-agent does: no core file, and other processes of the same user can no
 * longer read its memory or attach a debugger. For the long-running commands, which hold PINs, key passwords and
 * credentials for days. Without the native helper the process stays as it was and the reason is returned.
 */
export function disableCoreDumps(): { readonly protected: true } | { readonly protected: false; readonly reason: string } {
  const load = loadNativeHelper();
  if (!load.helper) return { protected: false, reason: `the native helper is not available (${load.reason})` };
  try {
    if (load.helper.disableCoreDumps()) return { protected: true };
    return { protected: false, reason: `${process.platform} has no non-dumpable flag; only core files are disabled` };
  } catch (error) {
    return { protected: false, reason: (error as Error).message };
  }
}
