import { createHmac, randomBytes } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, statSync, type BigIntStats } from "node:fs";
import { settingsFingerprint, type CredentialSettings } from "../settings/credential-settings.js";
import type { CredentialSource } from "./credential-source.js";
import { heldSecrets } from "./signer-holder.js";
import { heldSecret } from "../secrets/secret-source.js";
import { AgentError, ERROR_CODES, type ErrorCode } from "../errors.js";
import { MAX_INPUT_BYTES, readSized } from "../io/read-opened-file.js";
import { caBundleOf } from "../rolesanywhere/http-client.js";
import { uriModulePath } from "../pkcs11/uri.js";

export interface SourceSpec {
  readonly name: string;
  readonly settings: CredentialSettings;
}

export interface ApplyResult {
  readonly added: readonly string[];
  readonly replaced: readonly string[];
  readonly removed: readonly string[];
  readonly kept: readonly string[];
  /**
   * Sources whose signer could not be opened: they stay registered and answer requests with this error; and those
   * whose refreshing could not start: closed and not registered (their role unknown until the next reload).
   */
  readonly failed: readonly { readonly name: string; readonly error: unknown }[];
}

/**
 * The named credential sources of a daemon. `apply` moves from one set of specs to the next (start-up and
 * SIGHUP reload): unchanged sources keep their cache and open signer (keptOnReload); changed, failed and removed
 * ones are closed and rebuilt, so that a corrected PIN file is tried again after a reload.
 */
export class SourceRegistry {
  readonly #create: (spec: SourceSpec) => CredentialSource;
  readonly #sources = new Map<string, { source: CredentialSource; fingerprint: string }>();

  constructor(create: (spec: SourceSpec) => CredentialSource) {
    this.#create = create;
  }

  get(name: string): CredentialSource | undefined {
    return this.#sources.get(name)?.source;
  }

  names(): string[] {
    return [...this.#sources.keys()];
  }

  all(): CredentialSource[] {
    return [...this.#sources.values()].map((e) => e.source);
  }

  /**
   * Replaces the set of sources; new sources are opened (prompting if needed) and started. All are built first, which
   * touches no device: one that cannot be built leaves every source as it was ("keeping the previous configuration").
   */
  async apply(specs: readonly SourceSpec[]): Promise<ApplyResult> {
    const result = { added: [] as string[], replaced: [] as string[], removed: [] as string[], kept: [] as string[], failed: [] as { name: string; error: unknown }[] };
    const built: { spec: SourceSpec; fingerprint: string; existing?: { source: CredentialSource }; source?: CredentialSource }[] = [];
    try {
      for (const spec of specs) {
        const fingerprint = sourceFingerprint(spec.settings);
        const existing = this.#sources.get(spec.name);
        built.push({ spec, fingerprint, existing, source: keptOnReload(existing, fingerprint) ? undefined : this.#create(spec) });
      }
    } catch (error) { // those built, never opened, hold only the specs' secrets: owned by no source (but a registered one's)
      const owned = this.all().flatMap((source) => heldSecrets(source.settings.signer));
      specs.forEach((s) => heldSecrets(s.settings.signer).forEach((secret) => owned.includes(secret) || secret.wipe()));
      throw error;
    }
    const wanted = new Map(specs.map((s) => [s.name, s]));
    for (const [name, entry] of [...this.#sources]) {
      if (!wanted.has(name)) {
        this.#sources.delete(name);
        result.removed.push(name);
        await entry.source.close().catch(() => {});
      }
    }
    for (const { spec, fingerprint, existing, source } of built) {
      if (!source) {
        result.kept.push(spec.name);
        wipeUnused(existing!.source, spec.settings);
        continue;
      }
      // The old signer closes first (a token's login is shared by all its sessions; swtpm takes one connection at
      // a time); until the new source is open, the old one answers from valid credentials, or waits for it.
      let handOver: (next: CredentialSource | undefined) => void = () => {};
      if (existing) await existing.source.close(new Promise((r) => (handOver = r))).catch(() => {});
      try {
        // A source that cannot open (no token, wrong PIN) still starts: its requests get that error, clearly.
        await source.open().catch((error: unknown) => result.failed.push({ name: spec.name, error }));
        source.start();
        this.#sources.set(spec.name, { source, fingerprint });
        (existing ? result.replaced : result.added).push(spec.name);
      } catch (error) { // start() threw: not kept (its signer maybe open), and the old one is closed
        this.#sources.delete(spec.name);
        await source.close().catch(() => {});
        const why = `could not start refreshing (${error instanceof Error ? error.message : String(error)}); not served until the next reload`;
        result.failed.push({ name: spec.name, error: new AgentError("INTERNAL", why, { cause: error }) });
      } finally {
        handOver(source);
      }
    }
    return result;
  }

  async closeAll(): Promise<void> {
    const entries = [...this.#sources.values()];
    this.#sources.clear();
    await Promise.all(entries.map((e) => e.source.close().catch(() => {})));
  }
}

/** The reload rule of the agent, `serve` and `update`: a source is kept when its fingerprint is the same and it serves. */
export function keptOnReload(existing: { source: CredentialSource; fingerprint: string } | undefined, fingerprint: string): boolean {
  return existing !== undefined && existing.fingerprint === fingerprint && !servesNothing(existing.source);
}

/** For a source kept on reload: its own secrets stay; those `read` (the reload's settings) holds are not used, so wiped. */
export function wipeUnused(kept: CredentialSource, read: CredentialSettings): void {
  const own = heldSecrets(kept.settings.signer);
  heldSecrets(read.signer).forEach((secret) => own.includes(secret) || secret.wipe());
}

/** Keyed, as rejected-secrets.ts's digests are: a fingerprint in memory is no oracle for a PIN file. */
const FILES_KEY = randomBytes(32);

/**
 * The settings' fingerprint with a digest of the content of every file they name (a PKCS#11 module's included), and of
 * AWS_CA_BUNDLE's (taken before the source is built).
 * Content, not stat: a file rewritten in place (same inode and size, within the mtime's granularity) is a change,
 * and one copied over with the same bytes (configuration management at each run) none. A FIFO or device is not read
 * (that would take what the signer is to read): its identity stands for it, an error's code for a file unreadable.
 */
export function sourceFingerprint(settings: CredentialSettings): string {
  const { signer, endpoint } = settings;
  const { pkcs11, tpm } = signer;
  const secrets = [signer.keyPassword, pkcs11?.pin, pkcs11?.contextPin, pkcs11?.uriPin, tpm?.keyPassword, tpm?.parentPassword];
  const digest = createHmac("sha256", FILES_KEY);
  // A pkcs11: URI, handle:, `-` or env: names no file here: its "cannot be read" never changes.
  // A PKCS#11 module replaced at its path: rebuilt, the source loads it anew (module-loader.ts warns if it cannot).
  const modules = [signer.pkcs11?.library?.includes("/") && signer.pkcs11.library,
    ...[signer.certificate, signer.privateKey].map((key) => key !== undefined && uriModulePath(key))];
  const inputs = [signer.certificate, signer.privateKey, signer.intermediates, caBundleOf(endpoint)?.value, ...modules];
  for (const path of [...inputs, ...secrets.map((s) => s?.kind === "file" && s.path)]) {
    if (!path) continue;
    let input: FileInput;
    try {
      input = fileContent(path);
    } catch (error) {
      input = { kind: "error", bytes: Buffer.from(String((error as NodeJS.ErrnoException).code)) };
    }
    // Framed by its path, kind and length: no content can pass for a file boundary, an identity or an error.
    digest.update(JSON.stringify([path, input.kind, input.bytes.length])).update(input.bytes);
    input.bytes.fill(0);
  }
  for (const secret of secrets.map(heldSecret)) secret?.use((bytes) => digest.update(`held ${bytes.length}:`).update(bytes));
  // Digested too, not kept as text for the source's life.
  const text = settingsFingerprint(settings);
  return digest.update(`settings ${text.length}:`).update(text).digest("hex");
}

/**
 * The bytes of the regular file at `path`, read from the descriptor that fstat saw, as the real read does (a FIFO or
 * device put there in between is not read, nor a file grown past 16 MiB); else the identity of what is there.
 * A file that reports no size but holds bytes (/proc) is not read either: it may never end.
 */
interface FileInput {
  readonly kind: "content" | "identity" | "error";
  readonly bytes: Buffer;
}

function fileContent(path: string): FileInput {
  // A FIFO made anew may get the inode number back: ctime in ns too.
  const id = (s: BigIntStats): FileInput =>
    ({ kind: "identity", bytes: Buffer.from(`${s.mode} ${s.dev} ${s.ino} ${s.rdev} ${s.ctimeNs}`) });
  const content = (bytes: Buffer): FileInput => ({ kind: "content", bytes });
  const named = statSync(path, { bigint: true });
  if (!named.isFile()) return id(named); // a device is not even opened
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd, { bigint: true });
    if (!stats.isFile() || stats.size > MAX_INPUT_BYTES) return id(stats);
    if (stats.size > 0n) return content(readSized(fd, Number(stats.size)));
    return readSized(fd, 1).length === 0 ? content(Buffer.alloc(0)) : id(stats); // empty, or one that does not say (/proc)
  } finally {
    closeSync(fd);
  }
}

/**
 * Failed for good (a wrong PIN), or nothing to serve because its key, certificate or file could not be used: kept,
 * it would answer that error until its next retry, up to 5 minutes after the fix that the reload announces.
 */
function servesNothing(source: CredentialSource): boolean {
  const { state, lastError } = source.status();
  return state === "failed" || (state === "expired" && ERROR_CODES[lastError?.code as ErrorCode] === "input");
}
