import { lookup } from "node:dns/promises";
import { pinSourcePath } from "../pkcs11/pin.js";
import { isPkcs11Uri, uriGivesPin, uriPinForm } from "../pkcs11/uri.js";
import { existsSync, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { signatureVerifies } from "../encoding/signature-encoding.js";
import { AgentError, isAgentError, shellWord } from "../errors.js";
import {
  aclReader, aclReaderText, changeableDirectory, changeableDirectoryText, exposedModeText, foreignOwnerText, isExposed, KEY_OWN_FILE,
  uncheckedDirectoryAcl, uncheckedFileAcl, type AclAsked, type FileFacts,
  type KeyInside,
} from "../os/exposed-file.js";
import { DUMPABLE_RISK, loadNativeHelper, nativeHelperPath } from "../os/native-helper.js";
import { plantedRefusal } from "../os/planted-code.js";
import { isFileInput, readInputFile, type InputBytes } from "../io/input-file.js";
import { fileKind } from "../io/trusted-path.js";
import type { CreateSessionOptions, CreateSessionParams } from "../rolesanywhere/types.js";
import { readSecretInput, SecretReadAhead, secretsAlreadyHeld, type SecretSource } from "../secrets/secret-source.js";
import type { Signer } from "../signers/signer.js";
import type { CertificateFile } from "../x509/read-certificates.js";
import { isTpmHandleRef, mismatchHint, optionName, type ReadAlready, type SignerOptions } from "../signers/options.js";
import { oneLineName, type Certificate } from "../x509/certificate.js";
import { DAY_MS, checkCertificateValidity, roughDuration, utc } from "../x509/validity.js";

/** One line of the doctor's table. */
export interface CheckRow {
  readonly name: string;
  readonly outcome: "pass" | "fail" | "skip";
  readonly detail: string;
  /** What to do about a failure (or how to run a skipped check). */
  readonly hint?: string | undefined;
  readonly error?: AgentError | undefined;
}

export interface DoctorInput {
  /** The config file the settings came from (its owner and mode are checked on reading), or why it could not be used. */
  readonly configPath?: string | AgentError | undefined;
  /** The owner and mode of the config file as read, when a profile's pkcs11: URI in it holds a pin-value. */
  readonly configPinFile?: FileFacts | undefined;
  /** The settings, or the error that stopped them being built. */
  readonly signer: SignerOptions | AgentError;
  readonly session: CreateSessionParams | AgentError;
  readonly endpoint: CreateSessionOptions;
  /** Where `endpoint.endpoint` was given (`--endpoint`, a config profile's field), as the settings name it. */
  readonly endpointFrom?: string | undefined;
  readonly trustAnchors?: string | undefined;
  /** The socket to check, or why there is no default one. */
  readonly agentSocket: string | AgentError;
  readonly createSession: boolean;
  readonly warningDays: number;
  readonly env: NodeJS.ProcessEnv;
}

const pass = (name: string, detail: string): CheckRow => ({ name, outcome: "pass", detail });
const skip = (name: string, detail: string, hint?: string): CheckRow => ({ name, outcome: "skip", detail, hint });
function fail(name: string, error: unknown): CheckRow {
  const e = isAgentError(error) ? error : new AgentError("INTERNAL", error instanceof Error ? error.message : String(error));
  return { name, outcome: "fail", detail: e.message, hint: e.hint, error: e };
}
const failText = (name: string, detail: string, hint: string, code: AgentError["code"] = "FILE_UNSAFE"): CheckRow =>
  fail(name, new AgentError(code, detail, { hint }));

/**
 * Checks a setup end to end, one row per check, reported as each completes. Nothing is retried: a login is
 * tried once and only with a PIN source given, and no session is created unless `createSession` asks.
 */
export async function runChecks(input: DoctorInput, report: (row: CheckRow) => void): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const add = (...more: CheckRow[]) => {
    rows.push(...more);
    more.forEach(report);
  };

  if (process.geteuid?.() === 0) {
    const hint = "to check a service's setup, run doctor as its user: sudo -u roles-anywhere roles-anywhere-agent doctor …";
    add(skip("checked as", "root, which can read files the service's user cannot", hint));
  }
  add(nativeHelperRow());
  const config = input.configPath;
  // A pin-value in it makes it a secret file (load-config.ts warns as for a PIN file).
  const configInfo = typeof config === "string" ? input.configPinFile : undefined;
  const configAcl = configInfo && aclReader(configInfo, config as string);
  if (config instanceof AgentError) add(fail("config file", config));
  else if (configInfo && isExposed(configInfo)) add(exposedRow("config file", config!, configInfo, ": it holds a pin-value"));
  else if (configAcl) add(aclRow("config file", config as string, configAcl));
  else if (!config) add(skip("config file", "none used (settings from flags)"));
  else add((configInfo && aclUnchecked("config file", config, configInfo)) ?? pass("config file", `${config} (owner and mode checked)`));

  const signerOptions = input.signer instanceof AgentError ? undefined : input.signer;
  const ahead = new SecretReadAhead(); // the PIN and password files read for their rows: this run's signer's alone
  let signer: Signer | undefined;
  let key: KeyFile | CheckRow | undefined, cert: Awaited<ReturnType<typeof readCertificate>>; // the signer's to wipe once made
  // From the first read ahead: a row's report, a module or a hostile file that throws must not leave a secret behind.
  try {
    key = signerOptions && (await readKeyFile(signerOptions));
    const intermediates = signerOptions && (await readIntermediates(signerOptions));
    cert = signerOptions && (await readCertificate(signerOptions));
    if (!signerOptions) add(fail("signer settings", input.signer));
    else add(...(await fileRows(signerOptions, key, intermediates, cert, ahead)));
    // Intermediates that failed their row are left out, of the signer and of the chain row: the key's rows (the
    // module's, the TPM's) are then about the key.
    const badChain = rows.some((r) => r.name === "intermediates file" && r.outcome === "fail");
    const intermediatesFile = !badChain && intermediates && "certificates" in intermediates ? intermediates : undefined;
    const opened = signerOptions
      ? await openSigner(badChain ? { ...signerOptions, intermediates: undefined } : signerOptions, input.env, ahead, key, intermediatesFile, cert)
      : { rows: [], chain: [] };
    add(...opened.rows);
    signer = opened.signer;
    let { certificate, chain } = opened;
    // The key could not be used: the certificate file (and --intermediates) can still be checked on their own.
    const certFile = signerOptions?.certificate;
    if (!certificate && isFileRef(certFile)) {
      const { readCertificateFile, chainOf } = await import("../x509/read-certificates.js");
      const file = cert ? cert.certificates : await readCertificateFile(certFile).catch(() => undefined);
      certificate = file?.certificates[0];
      chain = chainOf(file, intermediatesFile);
    }
    if (certificate) {
      add(validityRow(certificate, new Date(), input.warningDays));
      add(await chainRow(certificate, chain, input.trustAnchors, new Date()));
    } else if (signerOptions) {
      add(skip("certificate validity", "no certificate could be read"));
    }
    if (signer && certificate) add(await keyMatchRow(signer, certificate));
    add(await agentSocketRow(input.agentSocket));
    if (input.session instanceof AgentError) {
      add(fail("ARNs and region", input.session));
    } else {
      add(...(await endpointRows(input.session, input.endpoint, input.env, input.endpointFrom)));
      if (input.createSession) {
        if (!signer) add(skip("CreateSession", "no usable signer"));
        else if (rows.some((r) => r.outcome === "fail")) add(skip("CreateSession", "not tried: fix the failures above first"));
        else add(await createSessionRow(signer, input.session, input.endpoint, input.env));
      } else {
        add(skip("CreateSession", "not tried", "add --create-session to exchange the certificate for credentials (they are not printed)"));
      }
    }
  } finally {
    ahead.wipe(); // what the signer did not read
    if (!signer) [key && "bytes" in key ? key : undefined, cert].forEach((read) => read?.bytes.fill(0));
    await signer?.close();
  }
  return rows;
}

function nativeHelperRow(): CheckRow {
  const { helper, reason, planted } = loadNativeHelper();
  if (helper) return pass("native helper", `loaded (${nativeHelperPath()})`);
  const cost = `; without it secret files' POSIX ACLs are not read, the agent judges its clients by its socket's directories, not their uid, Type=notify units cannot report readiness, and the daemons stay dumpable: ${DUMPABLE_RISK}`;
  if (!planted) return skip("native helper", `not loaded: ${reason}${cost}`, "build the package where a C compiler is available (npm run build)");
  return failText("native helper", `${plantedRefusal(nativeHelperPath(), planted)}${cost}`, `check what is in it, then run: ${planted.fix}`);
}

/** What the exposed-file rule reads of a stat. */
const facts = ({ mode, uid, gid }: { mode: number; uid: number; gid: number }) => ({ mode, owner: uid, gid });
/**
 * A key or secret file not read ahead: its stat. A FIFO's or device's ACL is not read (its bytes are the signer's): only
 * a reader's descriptor gives it (fgetxattr refuses O_PATH), and a reader opened before the signer's wakes a FIFO's
 * waiting writer, whose bytes are then lost (the signer's read times out). The signer's read judges it; the row says so.
 */
const unreadFileFacts = (info: Stats): FileFacts =>
  info.isFile() ? facts(info) : { ...facts(info), acl: { unknown: `${fileKind(info)} is not opened before the signer reads it` } };
/** A regular key file whose read ahead failed: no descriptor, so no ACL (a by-name read would be of whatever is there later). */
const KEY_UNREAD: FileFacts["acl"] = { unknown: 'its read failed, as the "key and certificate" row says' };
const isFileRef = (ref: string | undefined): ref is string => ref !== undefined && !isPkcs11Uri(ref) && !isTpmHandleRef(ref);

type KeyFile = NonNullable<ReadAlready["keyFile"]>;
type Intermediates = (CertificateFile | { error: unknown }) & { mode?: number | undefined };

/**
 * The key file read once, as the signer reads it (by descriptor, size cap): its row, the TPM-key check and the signer
 * judge these bytes, this fstat and the ACL read from this descriptor, so a file swapped meanwhile cannot give a row about one version and a signer built
 * from another. Only a regular file: a FIFO or pipe (`<(…)`) gives its bytes once, and they are the signer's.
 */
async function readKeyFile(o: SignerOptions): Promise<KeyFile | CheckRow | undefined> {
  const keyRef = await regularFile(o.privateKey ?? o.certificate);
  if (keyRef === undefined) return undefined;
  return readSecretInput(keyRef, o.privateKey ? "private key file" : "certificate file").catch((error: unknown) => fail("key and certificate", error));
}

/**
 * `--intermediates` read once, by descriptor, as {@link readKeyFile} reads the key: its row (that descriptor's mode),
 * the signer's chain and the chain check all take this read. The bundle, or why it was refused (with the mode when read).
 */
async function readIntermediates(o: SignerOptions): Promise<Intermediates | undefined> {
  const ref = await regularFile(o.intermediates);
  if (ref === undefined) return undefined;
  const { certificateBundle } = await import("../x509/read-certificates.js");
  const input = await readInputFile(ref, "intermediates file").catch((error: unknown) => ({ error }));
  if ("error" in input) return input;
  try {
    return Object.assign(certificateBundle(input, ref), { mode: input.mode });
  } catch (error) {
    return { error, mode: input.mode };
  }
}

/**
 * The certificate file beside a separate key, read once as {@link readKeyFile} reads the key: its row judges this read's
 * mode, the signer takes (and wipes: it may hold a key) these bytes, and the certificates parsed from them first are
 * the ones checked when the key cannot be used. Undefined where it cannot be read: the signer's read tells why.
 */
async function readCertificate(o: SignerOptions): Promise<(InputBytes & { certificates?: CertificateFile; keyInside: KeyInside[] }) | undefined> {
  const ref = o.privateKey !== undefined && o.certificate !== o.privateKey ? await regularFile(o.certificate) : undefined;
  if (!ref) return undefined;
  const { parseCertificateBytes, keyInCertificateFindings, readCertificateInput } = await import("../x509/read-certificates.js");
  const input = await readCertificateInput(ref, "certificate file").catch(() => undefined);
  if (!input) return undefined;
  // None where the signer's parse of these bytes refuses them too.
  const [leaf, ...chain] = await Promise.resolve().then(() => parseCertificateBytes(input.bytes, ref, true)).catch(() => []);
  const certificates = leaf && { path: ref, stamp: input.stamp, certificates: [leaf, ...chain] as const };
  return Object.assign(input, { certificates, keyInside: keyInCertificateFindings(input, ref) });
}

/** `ref` if it is a path (not a pkcs11: URI, TPM handle, `env:` or `-`) naming a regular file: read once ahead of the signer. */
async function regularFile(ref: string | undefined): Promise<string | undefined> {
  return isFileRef(ref) && isFileInput(ref) && (await stat(ref).catch(() => undefined))?.isFile() ? ref : undefined;
}

async function fileRows(
  o: SignerOptions, key: KeyFile | CheckRow | undefined, intermediates: Intermediates | undefined,
  cert: { mode?: number; keyInside: readonly KeyInside[] } | undefined, ahead: SecretReadAhead,
): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const secrets = new Map<string, SecretSource & { kind: "file" }>(); // the PIN and password files, by row
  const keyRef = o.privateKey ?? o.certificate;
  // PIN and password files are secrets as a key file is (the signer warns about the same modes).
  const secret = (source: SecretSource | undefined, name: string) => (source?.kind === "file" ? secrets.set(name, source) && source.path : undefined);
  // A URI's PIN wins over --pkcs11-pin-file (open-signer.ts); "" for a pin-value (taken out of the URI: uriPin).
  const uriPin = uriPinFile(keyRef) ?? (o.pkcs11?.uriPin && "") ?? uriPinFile(o.certificate);
  const files = [["private key file", keyRef], ["certificate file", o.certificate], ["intermediates file", o.intermediates],
    ["pin-source file", uriPin ? secret({ kind: "file", path: uriPin }, "pin-source file") : undefined],
    ["PIN file", uriPin === undefined ? secret(o.pkcs11?.pin, "PIN file") : undefined],
    ["context PIN file", secret(o.pkcs11?.contextPin, "context PIN file")], ["key password file", secret(o.keyPassword, "key password file")],
    ["TPM key password file", secret(o.tpm?.keyPassword, "TPM key password file")],
    ["TPM parent password file", secret(o.tpm?.parentPassword, "TPM parent password file")]] as const;
  const read = (name: string) => (name === "private key file" && key && "bytes" in key ? key : undefined);
  const keyUnread = (name: string, info: Stats) => (name === "private key file" && key && !("bytes" in key) ? { ...facts(info), acl: KEY_UNREAD } : undefined);
  const secretsRead = new Map<string, FileFacts>(); // a PIN or password file as the signer will take it (`ahead`), its ACL too
  for (const [name, ref] of files) {
    // `env:` and `-` are no file: nothing to stat (they read as "does not exist"); the signer's rows say how they read.
    // Without --private-key the certificate file is the key's (keyRef): its row is the key's.
    if (!isFileRef(ref) || !isFileInput(ref) || (name === "certificate file" && o.privateKey === undefined)) continue;
    const info = await stat(ref).catch(() => undefined);
    // A directory is read ahead too: its read fails at once, and that failure is its row (not a ✔ for its mode).
    const source = info?.isFile() || info?.isDirectory() ? secrets.get(name) : undefined;
    const secretRead = source && (await ahead.read(source, name).catch((error: unknown) => fail(name, error)));
    if (secretRead && "outcome" in secretRead) {
      rows.push(secretRead);
      continue;
    }
    if (secretRead) secretsRead.set(name, secretRead);
    if (!info) rows.push(failText(name, `${ref} does not exist`, "check the path", "FILE_NOT_FOUND"));
    else if (name === "certificate file" || name === "intermediates file") {
      const bundle = name === "intermediates file" ? intermediates : undefined; // its mode as read
      const writable = ((bundle?.mode ?? (name === "certificate file" ? cert?.mode : undefined) ?? info.mode) & 0o022) !== 0;
      const keyInside = name === "certificate file" ? cert?.keyInside[0] : undefined; // as the signer warns of it
      if (keyInside) rows.push(failText(name, `${ref} ${keyInside.problem}`, `${KEY_OWN_FILE}, or run: ${keyInside.fix}`));
      else if (writable) rows.push(failText(name, `${ref} is writable by other users`, `run: chmod go-w ${shellWord(ref)}`));
      else if (bundle && "error" in bundle) rows.push(fail(name, bundle.error));
      else if (!bundle && !info.isFile()) rows.push(skip(name, `${ref} is ${fileKind(info)}, not a regular file: what comes through it is read with the key`));
      else rows.push(pass(name, ref));
    } else rows.push(await secretFileRow(name, ref, read(name) ?? secretsRead.get(name) ?? keyUnread(name, info) ?? unreadFileFacts(info), o, read(name)));
  }
  return rows;
}

/**
 * A key, PIN or password file's row, judged by `file` (its mode, owner and ACL as read) by the signer's rules
 * (exposed-file.ts): who may read it, its owner, the directories on the way.
 */
async function secretFileRow(name: string, ref: string, file: FileFacts, o: SignerOptions, key: KeyFile | undefined): Promise<CheckRow> {
  const reader = aclReader(file, ref);
  if ((isExposed(file) || reader) && !(key && (await isTpmKeyWithPassword(key, ref, o)))) {
    return reader ? aclRow(name, ref, reader) : exposedRow(name, ref, file);
  }
  const aclAsked: AclAsked[] = []; // directories only their ACL could make changeable by others
  const directory = changeableDirectory(ref, aclAsked);
  const foreign = foreignOwnerText(file, ref);
  if (directory || foreign) {
    const { problem, hint } = directory ? changeableDirectoryText(ref, directory) : foreign!;
    return failText(name, problem, hint.replace(/^run /, "run: ")); // doctor's hints say `run: command`
  }
  return aclUnchecked(name, ref, file) ?? directoryAclUnchecked(name, aclAsked) ?? pass(name, `${ref} (mode ${(file.mode! & 0o777).toString(8)})`); // as the warnings write it
}


/** The file a pkcs11: URI's pin-source names, "" for a pin-value; undefined without either, or for a URI the signer refuses. */
function uriPinFile(ref: string | undefined): string | undefined {
  const pin = ref === undefined ? undefined : uriPinForm(ref);
  if (pin?.kind !== "source") return pin && "";
  try {
    return pinSourcePath(pin.source);
  } catch {
    return undefined;
  }
}

/** A secret file whose ACL lets others read it, as the signer's warning says. */
function aclRow(name: string, ref: string, entry: string): CheckRow {
  const { problem, fix } = aclReaderText(ref, entry);
  return failText(name, problem, `run: ${fix}`);
}

/** A secret file whose group may read it and whose ACL was not read (uncheckedFileAcl): not a ✔. */
function aclUnchecked(name: string, ref: string, file: FileFacts): CheckRow | undefined {
  const unchecked = uncheckedFileAcl(file, ref);
  return unchecked && skip(name, `ACL not checked: ${unchecked.why} (${ref}, mode ${((file.mode ?? 0) & 0o777).toString(8)})`, unchecked.hint);
}

/** The same for a directory on the way whose group may write to it (nobody else in that group): its ACL could let others. */
function directoryAclUnchecked(name: string, aclAsked: readonly AclAsked[]): CheckRow | undefined {
  const unchecked = uncheckedDirectoryAcl(aclAsked);
  return unchecked && skip(name, `ACL not checked: ${unchecked.why} (directory ${unchecked.path})`, unchecked.hint);
}

/** A secret file others can read or change, in the signer's warning's words (src/os/exposed-file.ts). */
function exposedRow(name: string, ref: string, file: FileFacts, why = ""): CheckRow {
  const { problem, fix } = exposedModeText(file, ref);
  return failText(name, `${problem}${why}`, `run: ${fix}`);
}

/** A TPM key file the signer does not warn about when others can read it (key-password.ts: passwordLess), or one it refuses. */
async function isTpmKeyWithPassword(key: KeyFile, path: string, o: SignerOptions): Promise<boolean> {
  const [{ parseTss2Key }, { passwordLess }, { containsTss2Key }] = await Promise.all([
    import("../signers/tpm/tpm-signer.js"), import("../signers/tpm/key-password.js"), import("../tpm/keys/tss2-detect.js"),
  ]);
  if (!containsTss2Key(key.bytes)) return false;
  key.tss2Key ??= parseTss2Key(path, key.bytes); // the signer's parse too (factory.ts)
  return key.tss2Key.then((parsed) => !passwordLess(parsed.file, o.tpm?.ignoreEmptyAuth), () => true);
}

/** Opens the signer once (one login at most), turning each stage's outcome into rows. */
async function openSigner(
  o: SignerOptions, env: NodeJS.ProcessEnv, ahead: SecretReadAhead, key: KeyFile | CheckRow | undefined, intermediatesFile?: CertificateFile,
  certificateFile?: InputBytes,
) {
  const keyRef = o.privateKey ?? o.certificate ?? "";
  const pkcs11Uri = [o.privateKey, o.certificate].find((r) => r !== undefined && isPkcs11Uri(r));
  const rows: CheckRow[] = [];
  // A key the signer could not read either is reported once, not twice.
  if (key && !("bytes" in key)) return { rows: [key], chain: [] };
  const tpm = key ? (await import("../tpm/keys/tss2-key-file.js")).containsTss2Key(key.bytes) : isTpmHandleRef(keyRef);
  // The signer takes the PIN from either URI (`&pin-source=` after another query attribute too).
  if (pkcs11Uri && o.pkcs11?.pin === undefined && !o.pkcs11?.uriPin && ![o.privateKey, o.certificate].some((r) => r && uriGivesPin(r))) {
    key?.bytes.fill(0); // not handed to a signer
    certificateFile?.bytes.fill(0);
    rows.push(...(await pkcs11PresenceRows(o, pkcs11Uri)));
    rows.push(skip("token login", "not tried: no PIN source given", "give --pkcs11-pin-file or --pkcs11-pin-env (tried once, never twice) to check the login and the key"));
    return { rows, chain: [] };
  }
  const { createSignerWith } = await import("../signers/factory.js");
  // Whether the TPM answered a command (the client tells its debug sink, tpm.ts TpmDebugLog): a key refused
  // before that proves nothing.
  let tpmAnswered = false;
  // How far the PKCS#11 signer got, from its debug lines (module-loader.ts, pin.ts): an error's code alone does not
  // say (a PIN file that cannot be read fails before any login, with a file's code).
  let pkcs11Reached = 0;
  const debug = (line: string, answer?: { readonly rc: number }) => {
    tpmAnswered ||= answer !== undefined;
    if (line.startsWith("pkcs11: loaded ")) pkcs11Reached ||= 2;
    if (line.startsWith("pkcs11: logged in to ")) pkcs11Reached = 3;
    o.debug?.(line);
  };
  let signer: Signer;
  try {
    // It owns (and wipes) the key's bytes now, and takes the PIN and password files' reads (its alone: `ahead.lend`).
    signer = await ahead.lend(() => createSignerWith({ ...o, env, debug }, { keyFile: key, intermediatesFile, certificateFile }));
  } catch (error) {
    key?.bytes.fill(0); // what the factory left unread (it stopped before the key)
    certificateFile?.bytes.fill(0);
    const code = isAgentError(error) ? error.code : "INTERNAL";
    if (pkcs11Uri) {
      const byCode = code === "PKCS11_MODULE_NOT_FOUND" ? 0 : code === "PKCS11_TOKEN_NOT_FOUND" ? 1 : ["PIN_INCORRECT", "PIN_LOCKED", "PASSWORD_REQUIRED"].includes(code) ? 2 : 3;
      // The certificate is looked for before any login: an object refused then is not the login's failure.
      const beforeLogin = pkcs11Reached === 2 && ["PKCS11_AMBIGUOUS", "PKCS11_OBJECT_NOT_FOUND"].includes(code);
      const stage = beforeLogin ? 3 : Math.min(byCode, pkcs11Reached);
      const names = ["PKCS#11 module", "token present", "token login", "key and certificate on the token"];
      names.forEach((name, i) => rows.push(i < stage ? pass(name, "ok") : i === stage ? fail(name, error) : skip(name, "not reached")));
      if (beforeLogin) rows[2] = skip("token login", "not tried: the token's objects were refused first");
    } else if (tpm) {
      const unreachable = code === "TPM_UNAVAILABLE" || code === "TPM_DEVICE_INVALID";
      if (unreachable) rows.push(fail("TPM reachable", error));
      else rows.push(tpmAnswered ? pass("TPM reachable", "ok") : skip("TPM reachable", "not reached: the key was refused first"));
      if (!unreachable) rows.push(fail("TPM key loads", error));
    } else rows.push(fail("key and certificate", error));
    return { rows, chain: [] };
  }
  const certificate = await signer.certificate().catch(() => undefined);
  const chain = await signer.certificateChain().catch(() => []);
  const where = signer.backend === "pkcs11" ? "token" : signer.backend === "tpm" ? "TPM" : "file";
  if (pkcs11Uri) {
    rows.push(pass("PKCS#11 module", "loaded"), pass("token present", "found"), pass("token login", "logged in (once)"));
  }
  if (signer.backend === "tpm") rows.push(pass("TPM reachable", o.tpm?.device ?? env["TPM_DEVICE"] ?? "/dev/tpmrm0"), pass("TPM key loads", keyRef));
  rows.push(pass("key opens", `${signer.keyType} key in the ${where}`));
  return { rows, signer, certificate, chain };
}

/** Module and token only: no session login, so no PIN is needed or spent. */
async function pkcs11PresenceRows(o: SignerOptions, uriText: string): Promise<CheckRow[]> {
  const [{ parseWithoutPin }, { chooseModule }, { acquireModule }, { listTokenSlots, slotMatches, describeToken }] = await Promise.all([
    import("../pkcs11/uri.js"),
    import("../pkcs11/module-path.js"),
    import("../pkcs11/module-loader.js"),
    import("../pkcs11/slots.js"),
  ]);
  const uri = parseWithoutPin(uriText);
  secretsAlreadyHeld(o.pkcs11?.pin, o.pkcs11?.contextPin);
  let lease;
  try {
    lease = await acquireModule(chooseModule(o.pkcs11?.library, [uri], optionName(o.names, "pkcs11.library")));
  } catch (error) {
    return [fail("PKCS#11 module", error), skip("token present", "not reached")];
  }
  try {
    const rows = [pass("PKCS#11 module", `${lease.module.info.manufacturer} ${lease.module.info.description}`.trim() || "loaded")];
    let slots;
    try {
      slots = await listTokenSlots(lease.module);
    } catch (error) {
      return [...rows, fail("token present", error)];
    }
    const matching = slots.filter((s) => slotMatches(uri, s, lease.module.info));
    if (matching.length > 0) return [...rows, pass("token present", matching.map((s) => describeToken(s.token)).join(", "))];
    const tokens = slots.map((s) => describeToken(s.token)).join(", ") || "none";
    const hint = "plug the token in, or fix token=/serial= in the URI";
    return [...rows, failText("token present", `no token matches the URI (tokens: ${tokens})`, hint, "PKCS11_TOKEN_NOT_FOUND")];
  } finally {
    lease.release();
  }
}

function validityRow(cert: Certificate, now: Date, warningDays: number): CheckRow {
  try {
    checkCertificateValidity(cert, now);
  } catch (error) {
    return fail("certificate validity", error);
  }
  const left = cert.notAfter.getTime() - now.getTime();
  const detail = `${oneLineName(cert.subject)}, valid until ${utc(cert.notAfter)} (${roughDuration(left)} left)`;
  if (warningDays > 0 && left <= warningDays * DAY_MS) {
    return failText("certificate validity", `${detail}: expires within ${warningDays} days`, "renew the certificate now", "CERTIFICATE_EXPIRED");
  }
  return pass("certificate validity", detail);
}

const CLOCK_OR_RENEW = "check it (date -u, NTP), else renew the certificate out of its dates";

async function chainRow(leaf: Certificate, chain: Certificate[], anchorsPath: string | undefined, now: Date): Promise<CheckRow> {
  if (!anchorsPath) return skip("certificate chain", "not checked", "give --trust-anchors with the trust anchor's CA bundle (PEM) to check the chain");
  try {
    const [{ readCertificateBundle }, { verifyCertificatePath, describe }] = await Promise.all([
      import("../x509/read-certificates.js"),
      import("../local-endpoint/verify-chain.js"),
    ]);
    const anchors = (await readCertificateBundle(anchorsPath, "--trust-anchors", false)).certificates;
    const path = await verifyCertificatePath({ leaf, intermediates: chain, anchors, now });
    return pass("certificate chain", path.map((c) => describe(c)).join(" → "));
  } catch (error) {
    // Dates are judged by this machine's clock, which may be what is wrong (a device booted before NTP answered).
    const dates = isAgentError(error) && !error.hint && /not yet valid|expired/.test(error.message);
    const hint = `by this machine's clock (${utc(now)}): ${CLOCK_OR_RENEW}`;
    if (dates) return failText("certificate chain", error.message, hint, error.code);
    if (isAgentError(error)) return fail("certificate chain", error);
    const message = (error as { message?: string }).message ?? String(error);
    return failText("certificate chain", message, "send the intermediates with --intermediates, or check that the trust anchor is the CA that issued the certificate", "CHAIN_INVALID");
  }
}

async function keyMatchRow(signer: Signer, cert: Certificate): Promise<CheckRow> {
  const key = cert.publicKey;
  if (!key || (signer.keyType !== "RSA" && signer.keyType !== "EC")) return skip("key matches certificate", `not checked for ${signer.keyType} keys`);
  const message = Buffer.from(`roles-anywhere-agent doctor ${Date.now()}`);
  try {
    const signature = await signer.sign(message, "SHA256");
    if (signatureVerifies(key, "SHA256", message, signature)) return pass("key matches certificate", "a test signature verifies with the certificate's public key");
    return failText("key matches certificate", "a test signature does not verify with the certificate's public key", mismatchHint(), "KEY_CERTIFICATE_MISMATCH");
  } catch (error) {
    return fail("key matches certificate", error);
  }
}

async function agentSocketRow(path: string | AgentError): Promise<CheckRow> {
  if (path instanceof AgentError) return fail("agent socket", path);
  if (!existsSync(path)) return skip("agent socket", `no agent socket at ${path}`);
  try {
    const { connectToAgent } = await import("../agent/socket-trust.js");
    const socket = await connectToAgent(path);
    if (!socket) return skip("agent socket", `${path} exists but no agent answers`);
    socket.destroy();
    return pass("agent socket", `${path}: served by this user, private directory`);
  } catch (error) {
    return fail("agent socket", error);
  }
}

async function endpointRows(
  params: CreateSessionParams, options: CreateSessionOptions, env: NodeJS.ProcessEnv, optionFrom?: string,
): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const [{ prepareCreateSession }, { partitionOf }, { createTransport, sendRequest }, { clockSkewMs, clockSkewText, CLOCK_SKEW_LIMIT_MS }] = await Promise.all([
    import("../rolesanywhere/signed-request.js"),
    import("../rolesanywhere/partitions.js"),
    import("../rolesanywhere/http-client.js"),
    import("../rolesanywhere/response.js"),
  ]);
  // The settings were built by the same call: it cannot fail here.
  const target = prepareCreateSession(params, { ...options, env });
  const partition = partitionOf(target.region).name;
  rows.push(pass("ARNs and region", `${target.region} (partition ${partition})`));
  let transport;
  try {
    transport = await createTransport(target.endpoint, { ...options, env });
  } catch (error) {
    return [...rows, fail("endpoint", error)];
  }
  const fips = /fips/.test(target.endpoint.hostname) ? ", FIPS" : "";
  const via = transport.proxy ? `, through proxy ${transport.proxy.display} (${transport.proxy.source})` : ", no proxy";
  const tlsOff = transport.tls.rejectUnauthorized ? "" : ", TLS verification OFF";
  const { describeSource } = await import("../rolesanywhere/endpoint.js");
  const from = (target.endpoint.source === "option" && optionFrom) || describeSource(target.endpoint.source);
  rows.push(pass("endpoint", `${target.endpoint.baseUrl} (from ${from}${fips}${via}${tlsOff})`));

  const host = transport.proxy?.hostname ?? target.endpoint.hostname;
  try {
    const { isLocalhostName, LOCALHOST_ADDRESSES } = await import("../rolesanywhere/connection.js");
    const local = isLocalhostName(host);
    const addresses = local ? LOCALHOST_ADDRESSES : await lookup(host, { all: true });
    const how = local ? " (a localhost name: loopback, not looked up)" : "";
    rows.push(pass("DNS", `${host} → ${addresses.map((a) => a.address).slice(0, 3).join(", ")}${how}`));
  } catch (error) {
    rows.push(failText("DNS", `${host} does not resolve (${(error as NodeJS.ErrnoException).code ?? "error"})`, "check /etc/resolv.conf, the host name, or HTTPS_PROXY", "NETWORK_ERROR"));
    rows.push(skip("reachability", "not reached"), skip("clock", "not checked"));
    return rows;
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 15_000);
  try {
    const started = Date.now();
    const response = await sendRequest(transport, { method: "GET", path: `${target.endpoint.pathPrefix}/`, headers: { Host: target.endpoint.host }, body: "" }, controller.signal);
    const receivedAt = new Date();
    const tls = target.endpoint.protocol === "https:" ? "TLS verified, " : "plain HTTP, ";
    rows.push(pass("reachability", `${tls}HTTP ${response.status} in ${Date.now() - started} ms`));
    const skew = clockSkewMs(response, receivedAt);
    if (skew === undefined) rows.push(skip("clock", "the endpoint sent no Date header"));
    else if (Math.abs(skew) > CLOCK_SKEW_LIMIT_MS) {
      rows.push(failText("clock", `this machine's clock is ${clockSkewText(skew)}`, "fix the clock (NTP): signatures more than 5 minutes off are refused", "NETWORK_ERROR"));
    } else rows.push(pass("clock", `within ${roughDuration(Math.max(1000, Math.abs(skew)))} of the endpoint's Date header`));
  } catch (error) {
    rows.push(fail("reachability", error), skip("clock", "not checked"));
  } finally {
    clearTimeout(timer);
  }
  return rows;
}

async function createSessionRow(signer: Signer, params: CreateSessionParams, options: CreateSessionOptions, env: NodeJS.ProcessEnv): Promise<CheckRow> {
  try {
    const { createSession } = await import("../rolesanywhere/create-session.js");
    const { credentials } = await createSession(signer, params, { ...options, env });
    return pass("CreateSession", `credentials ${credentials.accessKeyId.slice(0, 4)}… valid until ${utc(credentials.expiration)} (not printed)`);
  } catch (error) {
    return fail("CreateSession", error);
  }
}
