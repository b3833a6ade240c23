import type { Credentials } from "../rolesanywhere/credentials.js";
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
 * locked too long) is logged and retried, so the loop survives it as it survives refresh failures.
 */
export class CredentialsFileUpdater {
  readonly #options: FileUpdaterOptions;
  #pending: Credentials | undefined;
  #writing: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: FileUpdaterOptions) {
    this.#options = options;
  }

  offer(credentials: Credentials): void {
    if (this.#stopped) return;
    this.#pending = credentials;
    clearTimeout(this.#retryTimer);
    this.#writing ??= this.#drain();
  }

  /** Resolves when nothing is being written (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    await this.idle();
  }

  async #drain(): Promise<void> {
    const { path, profile, log, retryMs = 30_000, write = writeProfileCredentials } = this.#options;
    try {
      while (this.#pending && !this.#stopped) {
        const credentials = this.#pending;
        this.#pending = undefined;
        try {
          await write(path, profile, credentials);
          log(`wrote profile [${profile}] to ${path}`);
          this.#options.onWritten?.();
        } catch (error) {
          log(`could not write ${path}: ${oneLine(error)}; trying again in ${Math.round(retryMs / 1000)} s`);
          if (!this.#pending && credentials.expiration.getTime() > Date.now()) {
            this.#retryTimer = setTimeout(() => this.offer(credentials), retryMs);
          }
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }
}
