/**
 * Building a PKCS#11 signer: certificate (token or file), the key's token, login, the key proven against the certificate
 * once, mechanism and chain. The Go helper's search, without its panic on a wrong PIN, junk chain or attestation match.
 */
import { randomBytes } from "node:crypto";
import { DeviceError, InputError, UsageError, isAgentError } from "../../errors.js";
import { curveFromEcParams, NAMED_CURVES } from "../../encoding/signature-encoding.js";
import { CERTIFICATE, CERTIFICATES, oneLineName, type Certificate } from "../../x509/certificate.js";
import { ENVIRONMENT, type Kinds } from "../../own-value.js";
import { heldSecret, promptFor, SECRET_SOURCE, secretsAlreadyHeld } from "../../secrets/secret-source.js";
import type { Secret } from "../../secrets/secret.js";
import { mismatchHint, OPTION_NAMES, optionName, refuseWrongOptions, type Pkcs11SignerOptions } from "../options.js";
import type { Signer } from "../signer.js";
import { objectNotFoundHint, type TokenObjectRecord } from "../../pkcs11/nearest-objects.js";
import { withoutAttestation } from "./attestation.js";
import { chainFromPool, type IssuerCandidates } from "../../x509/issuer-chain.js";
import { proveWithoutSigning, signatureMatches } from "./key-proof.js";
import { dropFailures, type DebugLog } from "../../debug-log.js";
import { acquireModule, type ModuleLease, type Pkcs11Module } from "../../pkcs11/module-loader.js";
import { chooseModule } from "../../pkcs11/module-path.js";
import {
  closeSession,
  findCertificates,
  findPrivateKeys,
  openSession,
  publicKeyOf,
  type CertificateObject,
  type ObjectFilter,
  type PrivateKeyObject,
  type TokenContext,
  type SkippedObject,
  type UsableKey,
} from "../../pkcs11/objects.js";
import type { UnreadableCertificate } from "../../pkcs11/unreadable-certificate.js";
import { Pkcs11AmbiguousError } from "../../pkcs11/pkcs11-errors.js";
import { readTbsFields } from "../../x509/tbs-fields.js";
import { Pkcs11Signer } from "./pkcs11-signer.js";
import { RememberedPin, givenUserPin, loginUser, pinFromSource, userPinPrompt, type PinSupply } from "../../pkcs11/pin.js";
import { describeToken, listTokenSlots, onlyMatchingSlot, slotMatches, tokenNotFound, type TokenSlot } from "../../pkcs11/slots.js";
import { CKF } from "../../pkcs11/constants.js";
import { planMechanisms, signOnToken, signingFailure, type MechanismPlan } from "../../pkcs11/token-signing.js";
import { formatPkcs11Uri, parsePkcs11Uri, withoutQuery, type Pkcs11Uri } from "../../pkcs11/uri.js";

/** A key chosen for the certificate: proven already, or to be proven by its first real signature. */
interface ChosenKey {
  readonly key: UsableKey;
  readonly proven: boolean;
}

/** {@link Pkcs11SignerOptions}' types, for callers in plain JavaScript (a PIN's source before any module loads). */
const OPTION_KINDS: Kinds = {
  keyUri: "string", certificateUri: "string", library: "string", reusePin: "boolean",
  pin: SECRET_SOURCE, contextPin: SECRET_SOURCE, uriPin: SECRET_SOURCE,
  certificate: CERTIFICATE, intermediates: CERTIFICATES, debug: "function", env: ENVIRONMENT, prompt: "boolean",
  names: OPTION_NAMES,
};

export async function createPkcs11Signer(given: Pkcs11SignerOptions): Promise<Signer> {
  refuseWrongOptions("createPkcs11Signer", given, OPTION_KINDS, ["keyUri"]);
  const opts = { ...given, debug: dropFailures(given.debug) };
  const keyUri = parsePkcs11Uri(opts.keyUri);
  // A pin-value's bytes (a URI given to the library directly: the settings take it out), wiped when the signer closes.
  const uriPins = keyUri.pin?.kind === "value" ? [keyUri.pin.value] : [];
  let lease: ModuleLease | undefined;
  let build: SignerBuild | undefined;
  try {
    const certUri = opts.certificate === undefined && opts.certificateUri !== undefined ? parsePkcs11Uri(opts.certificateUri) : undefined;
    if (certUri?.pin?.kind === "value") uriPins.push(certUri.pin.value);
    for (const uri of [keyUri, certUri]) {
      if (uri?.type === "secret-key" || uri?.type === "data") {
        throw new InputError("PKCS11_URI_INVALID", `${formatPkcs11Uri(uri)} names a ${uri.type} object, not a certificate or a key pair`);
      }
    }
    const uris = certUri ? [keyUri, certUri] : [keyUri];
    const library = optionName(opts.names, "pkcs11.library");
    // The settings' uriPin was the key URI's pin-value, else the certificate URI's: it stands where that was.
    const uriPin = heldSecret(opts.uriPin);
    const taken = uriPin && ({ kind: "value", value: uriPin } as const);
    // Before the module: a pin-source refused (https:, another host's file://) needs none loaded. A PIN's
    // { kind: "env" } is process.env's, as a key's or TPM password's: `env` gives the module's defaults.
    const userPin = givenUserPin(keyUri.pin ?? taken ?? certUri?.pin, opts.pin, "the token's user PIN", process.env, opts.signal);
    secretsAlreadyHeld(opts.pin, opts.contextPin, opts.uriPin);
    lease = await acquireModule(chooseModule(opts.library, uris, library), opts.debug);
    build = new SignerBuild(opts, lease, keyUri, certUri, uriPins, userPin);
    return await build.run();
  } catch (error) {
    if (build) build.abandon();
    else lease?.release();
    uriPins.forEach((pin) => pin.wipe());
    throw error;
  }
}

class SignerBuild {
  /** By slot: every slot here comes from the one listTokenSlots() call in run(). */
  private readonly sessions = new Map<TokenSlot, TokenContext>();
  private readonly loggedIn = new Set<TokenSlot>();
  private readonly debug: DebugLog | undefined;
  private readonly module: Pkcs11Module;
  private readonly rememberedUserPin: RememberedPin | undefined;
  private contextPin: RememberedPin | undefined;
  /** Mechanism plans made while proving keys, reused for the signer. */
  private readonly plans = new Map<PrivateKeyObject, MechanismPlan>();

  constructor(
    private readonly opts: Pkcs11SignerOptions,
    private readonly lease: ModuleLease,
    private readonly keyUri: Pkcs11Uri,
    private readonly certUri: Pkcs11Uri | undefined,
    private readonly uriPins: readonly Secret[],
    private readonly userPinSource: PinSupply | undefined,
  ) {
    this.debug = opts.debug;
    this.module = lease.module;
    // --reuse-pin: the user PIN is needed again for every signature of an always-authenticate key.
    if (opts.reusePin && this.userPinSource) this.rememberedUserPin = new RememberedPin(this.userPinSource);
  }

  async run(): Promise<Signer> {
    const slots = await listTokenSlots(this.module, this.debug, [this.certUri, this.keyUri]);
    this.debug?.(`pkcs11: tokens: ${slots.map((s) => describeToken(s.token)).join(", ") || "none"}`);

    const certObject = this.certUri ? await this.findCertificate(this.certUri, slots) : undefined;
    const certificate = this.opts.certificate ?? certObject?.certificate;
    const keyFollowsCert = certObject !== undefined && this.opts.certificateUri === this.opts.keyUri;
    const keySlot = keyFollowsCert
      ? certObject.slot
      : onlyMatchingSlot(this.keyUri, slots, this.module, "add token= or serial= to say which token holds the key",
        certObject?.slot);
    const context = this.session(keySlot);
    if (this.needsLogin(keySlot)) await this.login(keySlot);

    const { key, proven } = await this.findKey(context, certificate, certObject, keyFollowsCert);
    const plan = this.plans.get(key) ?? planMechanisms(context, key);
    if (key.alwaysAuthenticate) await this.readContextPin(key, keySlot);
    this.debug?.(`pkcs11: using ${formatPkcs11Uri(key.uri)}${key.alwaysAuthenticate ? " (CKA_ALWAYS_AUTHENTICATE)" : ""}`);

    let chain = this.opts.intermediates ?? [];
    if (this.opts.intermediates === undefined && certificate !== undefined) {
      chain = chainFromPool(certificate, issuersOnToken(certObject ? this.session(certObject.slot) : context));
      const names = chain.map((c) => oneLineName(c.subject)).join(" / ");
      this.debug?.(`pkcs11: chain from the token: ${chain.length === 0 ? "none needed" : names}`);
    }

    for (const [id, other] of this.sessions) if (other !== context) closeSession(other), this.sessions.delete(id);
    if (!key.alwaysAuthenticate || this.contextPin !== this.rememberedUserPin) this.rememberedUserPin?.wipe();
    return new Pkcs11Signer({
      lease: this.lease,
      context,
      key,
      plan,
      certificate,
      chain,
      publicKey: certificate ? undefined : publicKeyOf(context, key),
      unproven: proven ? undefined : certificate,
      relogin: this.needsLogin(keySlot) ? { pin: this.reloginPin(keySlot) } : undefined,
      contextPin: this.contextPin,
      uriPins: this.uriPins,
      names: this.opts.names,
    });
  }

  /** Called when building failed: nothing of it may stay open or in memory. */
  abandon(): void {
    for (const context of this.sessions.values()) closeSession(context);
    this.sessions.clear();
    this.rememberedUserPin?.wipe();
    this.contextPin?.wipe();
    this.lease.release();
  }

  private async findCertificate(uri: Pkcs11Uri, slots: TokenSlot[]): Promise<CertificateObject> {
    const certSlots = slots.filter((s) => slotMatches(uri, s, this.module.info));
    if (certSlots.length === 0) throw tokenNotFound(uri, slots, this.module);
    const unreadable: UnreadableCertificate[] = [];
    const filter = { id: uri.id, label: uri.object };
    const search = (slot: TokenSlot) =>
      withoutAttestation(findCertificates(this.session(slot), filter, unreadable), uri);
    let found = certSlots.flatMap(search);
    if (found.length === 0 && unreadable.length === 0 && certSlots.length === 1) {
      // Some tokens show certificates only after login (CKA_PRIVATE certificates).
      const [slot] = certSlots as [TokenSlot];
      try {
        await this.login(slot);
        found = search(slot);
      } catch (error) {
        // No PIN to be had: report what was asked for (not found), saying a PIN might reveal it.
        if (!(isAgentError(error) && error.code === "PASSWORD_REQUIRED")) throw error;
        throw new InputError("PKCS11_OBJECT_NOT_FOUND", `no certificate matches ${formatPkcs11Uri(withoutQuery(uri))} on ${describeToken(slot.token)} without a login`, {
          hint:
            `if the certificate is a private object, give the PIN (${this.name("pkcs11.pin")}); ` +
            "check the URI with read-certificate-data",
        });
      }
    }
    const [bad] = unreadable;
    if (found.length === 0 && bad) {
      const what = `the certificate object ${formatPkcs11Uri(bad.uri)}`;
      throw new InputError("CERTIFICATE_INVALID", `${what} cannot be used: ${bad.reason}`, {
        hint: `${bad.hint}; or give the certificate file with ${this.name("certificate")}`,
      });
    }
    if (found.length === 0) {
      const records = certSlots.flatMap((s) => objectRecords(this.session(s)));
      throw new InputError("PKCS11_OBJECT_NOT_FOUND", `no certificate matches ${formatPkcs11Uri(withoutQuery(uri))} on ${certSlots.map((s) => describeToken(s.token)).join(", ")}`, {
        hint: objectNotFoundHint({ label: uri.object, id: uri.id }, records, "cert", this.name("certificate")),
      });
    }
    // Copies of one certificate for one key are one (install-certificate run at once by several processes on a
    // token that shows each process's new objects late, as SoftHSM does, may leave several).
    const same = (a: CertificateObject, b: CertificateObject) =>
      a.slot === b.slot && a.id.equals(b.id) && a.certificate.der.equals(b.certificate.der);
    found = found.filter((c, i) => !found.slice(0, i).some((earlier) => same(earlier, c)));
    if (found.length > 1) {
      throw new Pkcs11AmbiguousError(
        `${formatPkcs11Uri(withoutQuery(uri))} matches ${found.length} certificates`,
        found.map((c) => formatPkcs11Uri(c.uri)),
        "add the id=, object=, token= or serial= of the one to use (they are in the URIs above)",
      );
    }
    const [only] = found as [CertificateObject];
    this.debug?.(`pkcs11: certificate ${formatPkcs11Uri(only.uri)}`);
    return only;
  }

  private async findKey(
    context: TokenContext,
    certificate: Certificate | undefined,
    certObject: CertificateObject | undefined,
    keyFollowsCert: boolean,
  ): Promise<ChosenKey> {
    const uriFilter: ObjectFilter = { id: this.keyUri.id, label: this.keyUri.object };
    // One URI for both: the key is the one with the certificate's CKA_ID, else any key that matches it.
    const attempts: ObjectFilter[] = keyFollowsCert
      ? [...(certObject!.id.length > 0 ? [{ id: certObject!.id }] : []), uriFilter, {}]
      : [uriFilter];
    const certType = certificate ? await certificate.keyType() : undefined;
    if (certificate && certType !== "RSA" && certType !== "EC") {
      // Node's name of the key types Go's certificate parser (Certificate) lets through besides RSA, EC and ML-DSA.
      const nodeType = certificate.publicKey?.asymmetricKeyType;
      const named = certType ?? ({ ed25519: "Ed25519", x25519: "X25519" } as Record<string, string>)[nodeType ?? ""] ?? nodeType ?? "unknown";
      throw new InputError("PRIVATE_KEY_UNSUPPORTED", `the certificate's key type (${named}) cannot be used on a PKCS#11 token`, {
        hint: "tokens sign with RSA or EC keys",
      });
    }
    const curve = certificate?.publicKey?.asymmetricKeyDetails?.namedCurve;
    if (certType === "EC" && !signsOn(curve)) throw curveRefused(curve, "the certificate's key", "have the CA issue a certificate for");
    const tried = new Set<string>();
    const mismatched: UsableKey[] = [];
    const skipped: SkippedObject[] = [];
    for (const filter of attempts) {
      const signature = `${filter.id?.toString("hex") ?? "*"}/${filter.label ?? "*"}`;
      if (tried.has(signature)) continue;
      tried.add(signature);
      // A key an earlier search found and checked already is neither checked (signed with) nor listed again.
      const candidates = withoutAttestation(findPrivateKeys(context, filter, skipped), this.keyUri).filter(
        (k): k is UsableKey =>
          k.keyType !== undefined &&
          (certType === undefined || k.keyType === certType) &&
          !mismatched.some((m) => m.handle.equals(k.handle)),
      );
      if (candidates.length === 0) continue;
      const signable = candidates.filter((k) => k.canSign);
      if (signable.length === 0) {
        throw new DeviceError("PKCS11_KEY_CANNOT_SIGN", `the private key ${formatPkcs11Uri(candidates[0]!.uri)} has CKA_SIGN=false: the token does not let it sign`, {
          hint: "use a key created for signing (e.g. pkcs11-tool --usage-sign, p11tool --mark-sign)",
        });
      }
      if (certificate === undefined) {
        if (signable.length > 1) {
          throw new Pkcs11AmbiguousError(
            `${formatPkcs11Uri(withoutQuery(this.keyUri))} matches ${signable.length} private keys and there is no certificate to tell them apart`,
            signable.map((k) => formatPkcs11Uri(k.uri)),
            `add the id= or object= of the key to use, or give its certificate with ${this.name("certificate")}`,
          );
        }
        const [key] = signable as [UsableKey];
        if (key.keyType === "EC" && curveFromEcParams(key.ecParams) === undefined) {
          // Its CKA_EC_PARAMS names another curve (an OID), or none (explicit parameters, or not shown): the public
          // half names it, if the token shows one. Explicit parameters with no named curve are refused as the
          // certificate check refuses them (a P-224 key so written signed, every signature one the service refuses).
          const shown = publicKeyOf(context, key)?.asymmetricKeyDetails?.namedCurve;
          const namesOther = shown === undefined ? key.ecParams !== undefined : !signsOn(shown);
          if (namesOther) throw curveRefused(shown, `the key ${formatPkcs11Uri(key.uri)}`, "use");
        }
        return { key, proven: true };
      }
      const chosen = await this.proveAgainst(context, signable, certificate, mismatched);
      if (chosen) return chosen;
    }
    const token = describeToken(context.slot.token);
    if (mismatched.length > 0) {
      const subject = oneLineName(certificate!.subject);
      const keys = mismatched.map((k) => formatPkcs11Uri(k.uri)).join("\n  ");
      const message = `no private key on ${token} matches the certificate (${subject}); keys checked:\n  ${keys}`;
      throw new InputError("KEY_CERTIFICATE_MISMATCH", message, {
        hint: mismatchHint(this.opts.names),
      });
    }
    const records = objectRecords(context);
    const query = { label: this.keyUri.object, id: this.keyUri.id };
    const left = skipped[0];
    const leftOut = left ? `; the private key object ${formatPkcs11Uri(left.uri)} is left out: ${left.reason}` : "";
    throw new InputError("PKCS11_OBJECT_NOT_FOUND", `no ${certType ? `${certType} ` : ""}private key matches ${formatPkcs11Uri(withoutQuery(this.keyUri))} on ${token}${leftOut}`, {
      hint:
        records.some((r) => r.class === "private")
          ? objectNotFoundHint(query, records, "private", this.name("certificate"))
          : this.loggedIn.has(context.slot)
            ? "the token shows no private keys"
            : `the token shows no private keys without a login: give the PIN (${this.name("pkcs11.pin")})`,
    });
  }

  /** Chooses among `keys` by the rules in key-proof.ts; always-authenticate keys get their test signature last. */
  private async proveAgainst(context: TokenContext, keys: UsableKey[], certificate: Certificate, mismatched: UsableKey[]): Promise<ChosenKey | undefined> {
    const unknown: UsableKey[] = [];
    for (const k of keys) {
      const proof = proveWithoutSigning(context, k, certificate);
      if (proof.result === "match") {
        this.debug?.(`pkcs11: ${formatPkcs11Uri(k.uri)} matches the certificate (${proof.by})`);
        return { key: k, proven: true };
      }
      if (proof.result === "mismatch") mismatched.push(k);
      else unknown.push(k);
    }
    if (unknown.length === 1) {
      const [only] = unknown as [UsableKey];
      this.debug?.(`pkcs11: ${formatPkcs11Uri(only.uri)} shows no public key; its first signature is checked against the certificate`);
      return { key: only, proven: false };
    }
    unknown.sort((a, b) => Number(a.alwaysAuthenticate) - Number(b.alwaysAuthenticate));
    for (const k of unknown) {
      const plan = planMechanisms(context, k);
      this.plans.set(k, plan);
      const contextPin = k.alwaysAuthenticate ? await this.readContextPin(k, context.slot) : undefined;
      const message = Buffer.concat([Buffer.from("roles-anywhere-agent key proof "), randomBytes(32)]);
      let signature: Buffer;
      try {
        signature = signOnToken(context, k, plan, message, "SHA256", contextPin);
      } catch (error) {
        if (isAgentError(error) && error.category === "auth") throw error;
        throw signingFailure(k, error);
      }
      if (signatureMatches(certificate, message, "SHA256", signature)) {
        this.debug?.(`pkcs11: ${formatPkcs11Uri(k.uri)} matches the certificate (test signature)`);
        return { key: k, proven: true };
      }
      mismatched.push(k);
    }
    return undefined;
  }

  private session(slot: TokenSlot): TokenContext {
    let context = this.sessions.get(slot);
    if (context === undefined) {
      context = openSession(this.module, slot, this.debug);
      this.sessions.set(slot, context);
    }
    return context;
  }

  private needsLogin(slot: TokenSlot): boolean {
    return (slot.flags & CKF.LOGIN_REQUIRED) !== 0 || this.userPinSource !== undefined;
  }

  /** An option as the caller knows it (SignerOptions.names): the CLI's flag or the library's option. */
  private name(option: Parameters<typeof optionName>[1]): string {
    return optionName(this.opts.names, option);
  }

  /**
   * The user PIN: URI, then options, then (with a terminal) a prompt; none at all on a token with a PIN pad. A typed
   * PIN is kept in the holder's askedPin, if any: its re-opens (after a device error, update's retries) ask no more.
   */
  private userPin(slot: TokenSlot): PinSupply | undefined {
    const asked = this.opts.askedPin;
    const given = this.rememberedUserPin ?? this.userPinSource ?? asked?.pin;
    if (given) return given;
    const prompt = userPinPrompt(slot, this.opts.prompt, this.name("pkcs11.pin"), this.opts.signal);
    return asked && prompt ? (asked.pin = new RememberedPin(prompt)) : prompt;
  }

  /** What a re-login after re-insertion uses: the remembered PIN only if it is kept anyway (--reuse-pin). */
  private reloginPin(slot: TokenSlot): PinSupply | undefined {
    const kept = this.rememberedUserPin !== undefined && this.contextPin === this.rememberedUserPin;
    return kept ? this.rememberedUserPin : (this.userPinSource ?? this.userPin(slot));
  }

  private async login(slot: TokenSlot): Promise<void> {
    if (this.loggedIn.has(slot)) return;
    await loginUser(this.session(slot), this.userPin(slot));
    this.loggedIn.add(slot);
  }

  /** Reads (once) the PIN an always-authenticate key needs before each signature. */
  private async readContextPin(k: UsableKey, slot: TokenSlot): Promise<RememberedPin> {
    if (this.contextPin === undefined) {
      if (this.opts.contextPin) {
        const what = "the context-specific PIN";
        this.contextPin = new RememberedPin(pinFromSource(this.opts.contextPin, what, process.env, this.opts.signal));
      } else if (this.opts.reusePin) {
        const user = this.userPin(slot);
        if (user === undefined) {
          const reuse = this.name("pkcs11.reusePin");
          throw new UsageError("USAGE", `${reuse} was given but the token has a PIN pad and no PIN was supplied`);
        }
        this.contextPin = user instanceof RememberedPin ? user : new RememberedPin(user);
      } else {
        const uri = formatPkcs11Uri(k.uri);
        const asked = `the context-specific PIN of ${uri}`;
        const give = `pass ${this.name("pkcs11.reusePin")}, or ${this.name("pkcs11.contextPin")}`;
        const option = "pkcs11.contextPin (or pkcs11.reusePin)";
        const prompt = promptFor(`Context-specific PIN for ${uri}: `, asked, this.opts.prompt, option);
        const what = `${asked} (the key has CKA_ALWAYS_AUTHENTICATE: ${give})`;
        this.contextPin = new RememberedPin(pinFromSource(prompt, what, process.env, this.opts.signal));
      }
    }
    (await this.contextPin.read()).wipe();
    return this.contextPin;
  }
}

/** Go's parser reads P-224 too; the agent signs on the curves of NAMED_CURVES only (as the file signer's keys). */
const signsOn = (curve: string | undefined): boolean => Object.values(NAMED_CURVES).some((c) => c.ecdhName === curve);

/** The refusal of a key on another curve, the certificate's or (a key URI alone) the token key's; `instead`: the fix. */
function curveRefused(curve: string | undefined, whose: string, instead: string): InputError {
  return new InputError("PRIVATE_KEY_UNSUPPORTED", `${whose} is on ${curve ?? "a curve it does not name"}, which the agent does not sign with`, {
    hint: `${instead} an RSA key or an ECDSA key on ${Object.keys(NAMED_CURVES).join(", ")}`,
  });
}

/**
 * A certificate's possible issuers on the token: the certificate objects whose CKA_SUBJECT is its issuer name (the
 * token searches, so that a token full of certificates is not read and parsed whole), then, when none of those
 * issued it, every certificate object (read once), for tokens that leave CKA_SUBJECT empty or encode it otherwise.
 */
function issuersOnToken(context: TokenContext): IssuerCandidates {
  let all: Certificate[] | undefined;
  return function* (child) {
    yield* bySubject(context, child);
    all ??= findCertificates(context, {}).map((c) => c.certificate);
    yield* all;
  };
}

function bySubject(context: TokenContext, child: Certificate): Certificate[] {
  try {
    return findCertificates(context, { subject: readTbsFields(child.der).issuer.raw }).map((c) => c.certificate);
  } catch {
    return []; // a name our DER reader does not take, or a token that cannot search by CKA_SUBJECT: read them all
  }
}

/** The certificates and private keys a session can see, as the records the nearest-object matcher takes. */
function objectRecords(context: TokenContext): TokenObjectRecord[] {
  return [
    ...findCertificates(context, {}).map((c) => ({ label: c.label, id: c.id, class: "cert" as const })),
    ...findPrivateKeys(context, {}).map((k) => ({ label: k.label, id: k.id, class: "private" as const })),
  ];
}
