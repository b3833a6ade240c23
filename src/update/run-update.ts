import {
  createCredentialSource,
  type CertificateWarning,
  type CredentialSource,
} from "../credentials/credential-source.js";
import { isTransient, loggingSource } from "../daemon/run-daemon.js";
import { runDaemon, type Log } from "../daemon/signals.js";
import { readinessGate, reportReady } from "../os/service-manager.js";
import { formatExpiration } from "../rolesanywhere/credentials.js";
import type { CredentialSettings } from "../settings/credential-settings.js";
import { credentialsFileUpdater } from "./file-updater.js";
import { writeProfileCredentials } from "./write-credentials.js";

interface UpdateRun {
  /** The settings; called again on SIGHUP. */
  readonly settings: () => Promise<CredentialSettings>;
  /** The credentials file and the section (profile) of it to keep filled. */
  readonly path: string;
  readonly section: string;
  readonly once: boolean;
  readonly log: Log;
  readonly certificateWarning?: CertificateWarning | undefined;
  readonly failFast?: boolean;
}

/** Keeps one section of a credentials file filled with fresh credentials until SIGTERM or SIGINT. */
export async function runUpdate(run: UpdateRun): Promise<void> {
  const { path, section, log } = run;
  if (run.once) {
    const source = createCredentialSource({ name: section, settings: await run.settings(), certificateWarning: run.certificateWarning });
    try {
      const credentials = await source.get();
      await writeProfileCredentials(path, section, credentials);
      log(`wrote profile [${section}] to ${path}; valid until ${formatExpiration(credentials.expiration)}`);
      return;
    } finally {
      await source.close();
    }
  }

  // systemd (Type=notify): ready once the file holds credentials, so that units After= this one find them.
  const ready = readinessGate(["written"], () => reportReady(`profile [${section}] written to ${path}`, log));
  const updater = credentialsFileUpdater({ path, profile: section, log, onWritten: () => ready("written") });
  const newSource = (settings: CredentialSettings) =>
    loggingSource({ name: section, settings }, log, {
      certificateWarning: run.certificateWarning,
      onRefreshed: (_name, credentials) => updater.offer(credentials),
    });
  let source!: CredentialSource;
  // Signals from the first step (runDaemon): a SIGHUP while the source opens rebuilds it once updating.
  await runDaemon(log, {
    startUp: async () => {
      source = newSource(await run.settings());
      const end = async (error: unknown) => {
        await Promise.all([updater.stop(), source.close()]);
        throw error;
      };
      await source.open().catch(async (error: unknown) => {
        if (run.failFast || !isTransient(error)) await end(error);
        log(`${section}: ${(error as Error).message}; will keep trying`);
      });
      if (run.failFast) await source.get().catch(end);
      source.start();
      log(`updating profile [${section}] in ${path}`);
    },
    reload: async () => {
      const old = source;
      source = newSource(await run.settings());
      await old.close();
      source.start();
      return "configuration reloaded";
    },
    shutDown: async () => {
      await updater.stop();
      await source.close();
    },
  });
}
