import type { Credentials } from "../rolesanywhere/credentials.js";
import { isAgentError } from "../errors.js";
import type { Timers } from "../credentials/credential-cache.js";
import { writeProfileCredentials } from "./write-credentials.js";

export interface FileUpdaterOptions {
  readonly path: string;
  readonly profile: string;
  readonly log: (line: string) => void;
  /** Called after each successful write (the first one makes a Type=notify unit ready). */
  readonly onWritten?: () => void;
  /** Delay before writing again after a failed write (default 30 s). */
  readonly retryMs?: number;
  readonly write?: (path: string, profile: string, credentials: Credentials) => Promise<void>;
  readonly timers?: Timers;
}

/**
 * Writes each new set of credentials to the credentials file, one write at a time; only the newest set is
 * ever written (a set superseded while a write was running is skipped). A failed write (disk full, file
 * locked too long) is logged and retried, so the loop survives it as it survives refresh failures.
 */
export class CredentialsFileUpdater {
  readonly #options: FileUpdaterOptions;
  readonly #write: NonNullable<FileUpdaterOptions["write"]>;
  readonly #timers: Timers;
  #pending: Credentials | undefined;
  #writing: Promise<void> | undefined;
  #retryTimer: unknown;
  #stopped = false;

  constructor(options: FileUpdaterOptions) {
    this.#options = options;
    this.#write = options.write ?? writeProfileCredentials;
    this.#timers = options.timers ?? { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  /** Queues `credentials` for writing. */
  offer(credentials: Credentials): void {
    if (this.#stopped) return;
    this.#pending = credentials;
    this.#clearRetry();
    this.#writing ??= this.#drain();
  }

  /** Resolves when nothing is being written (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearRetry();
    await this.idle();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending && !this.#stopped) {
        const credentials = this.#pending;
        this.#pending = undefined;
        try {
          await this.#write(this.#options.path, this.#options.profile, credentials);
          this.#options.log(`wrote profile [${this.#options.profile}] to ${this.#options.path}`);
          this.#options.onWritten?.();
        } catch (error) {
          const text = isAgentError(error) ? error.toOneLine() : String(error);
          const retryMs = this.#options.retryMs ?? 30_000;
          this.#options.log(`could not write ${this.#options.path}: ${text}; trying again in ${Math.round(retryMs / 1000)} s`);
          if (!this.#pending && credentials.expiration.getTime() > Date.now()) {
            this.#retryTimer = this.#timers.setTimeout(() => {
              this.#retryTimer = undefined;
              this.offer(credentials);
            }, retryMs);
          }
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) {
      this.#timers.clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
  }
}
