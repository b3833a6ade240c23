import { isUsable, type Credentials } from "../rolesanywhere/credentials.js";
import { oneLine } from "../daemon/signals.js";
import { writeProfileCredentials } from "./write-credentials.js";

interface FileUpdaterOptions {
  readonly path: string;
  readonly profile: string;
  readonly log: (line: string) => void;
  /** Called after each successful write (the first one makes a Type=notify unit ready). */
  readonly onWritten?: () => void;
  /** Delay before writing again after a failed write (default 30 s). */
  readonly retryMs?: number;
  readonly write?: (path: string, profile: string, credentials: Credentials) => Promise<void>;
}

/**
 * Writes each new set of credentials to the credentials file, one write at a time; only the newest set is
 * ever written (a set superseded while a write was running is skipped). A failed write (disk full, file
 * locked too long) is logged once until its error changes and retried, so the loop survives it as it survives
 * refresh failures.
 */
export function credentialsFileUpdater(options: FileUpdaterOptions) {
  const { path, profile, log, retryMs = 30_000, write = writeProfileCredentials } = options;
  let pending: Credentials | undefined;
  let writing: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let written: Date | undefined;
  /** The failed write's line, logged once until it changes (a read-only or full disk: not 2,880 lines a day). */
  let failure: string | undefined;

  const drain = async () => {
    try {
      while (pending && !stopped) {
        const credentials = pending;
        pending = undefined;
        try {
          await write(path, profile, credentials);
          log(`wrote profile [${profile}] to ${path}`);
          written = credentials.expiration;
          failure = undefined;
          options.onWritten?.();
        } catch (error) {
          const line = `could not write ${path}: ${oneLine(error)}`;
          const again = `trying again in ${Math.round(retryMs / 1000)} s; not logged again until it changes`;
          if (line !== failure) log(`${line}; ${again}`);
          failure = line;
          // Judged again when the retry comes: they may have lapsed meanwhile (usableCredentials' margin).
          const usable = () => isUsable(credentials.expiration.getTime(), Date.now());
          if (!pending && usable()) retryTimer = setTimeout(() => usable() && offer(credentials), retryMs);
        }
      }
    } finally {
      writing = undefined;
    }
  };
  const offer = (credentials: Credentials) => {
    if (stopped) return;
    pending = credentials;
    clearTimeout(retryTimer);
    writing ??= drain();
  };
  /** Resolves when nothing is being written (for shutdown and tests). */
  const idle = async () => {
    while (writing) await writing;
  };
  const stop = async () => {
    stopped = true;
    clearTimeout(retryTimer);
    await idle();
  };
  /** The expiration of the credentials last written (undefined: none yet). */
  return { offer, idle, stop, written: () => written };
}
