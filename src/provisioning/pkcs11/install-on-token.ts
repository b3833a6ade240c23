/**
 * install-certificate on a token: the certificate goes next to its key, with the key's CKA_ID and CKA_LABEL, after a
 * check that it certifies that key. Only the library's API is exported: its declarations must not reach the binding's.
 */
import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { escapeQuoted, InputError } from "../../errors.js";
import { createObject, destroyObject, findObjects, findPrivateKeys, publicKeyOf, readAttributes, unreadAttributes } from "../../pkcs11/objects.js";
import type { Template, TokenContext } from "../../pkcs11/objects.js";
import { ckrName, Pkcs11AmbiguousError, pkcs11Failure } from "../../pkcs11/pkcs11-errors.js";
import { describeToken } from "../../pkcs11/slots.js";
import { formatPkcs11Uri, parsePkcs11Uri, withoutQuery, type Pkcs11Uri } from "../../pkcs11/uri.js";
import { CERTIFICATE, CERTIFICATES, type Certificate } from "../../x509/certificate.js";
import type { Kinds } from "../../own-value.js";
import { DerError } from "../../encoding/der.js";
import { readCertificateNames } from "../../x509/names/certificate-names.js";
import { readTbsFields } from "../../x509/tbs-fields.js";
import { CERTIFICATE_CATEGORY, CKA, CKC_X_509, CKO } from "../../pkcs11/constants.js";
import { dropFailures } from "../../debug-log.js";
import { withTokenSession } from "../../pkcs11/token-session.js";
import { TOKEN_SESSION_KINDS, type TokenSessionOptions } from "../../pkcs11/token-session-options.js";
import { tokenKeyUri } from "./token-keygen.js";
import { optionName, refuseWrongOptions } from "../../signers/options.js";
import { requireSameKey, type IssuedCertificate } from "../file-certificate.js";

export interface InstallOnTokenOptions extends TokenSessionOptions, IssuedCertificate {
  /** Locates the private key (`id=` and/or `object=`). */
  readonly keyUri: string;
}

export interface InstallOnTokenResult {
  readonly uri: string;
  /** False when the very same certificate was already there. */
  readonly written: boolean;
  readonly chainWritten: number;
}

const INSTALL_KINDS: Kinds = {
  ...TOKEN_SESSION_KINDS, keyUri: "string", certificate: CERTIFICATE, chain: CERTIFICATES, replace: "boolean",
};

/** Opens a read-write session on the key's token and installs the certificate (and chain) next to the key. */
export async function installOnToken(given: InstallOnTokenOptions): Promise<InstallOnTokenResult> {
  refuseWrongOptions("installOnToken", given, INSTALL_KINDS, ["keyUri", "certificate", "chain"]);
  const opts = { ...given, debug: dropFailures(given.debug) };
  const uri = parsePkcs11Uri(opts.keyUri);
  return withTokenSession(uri, opts, (context) => install(context, uri, opts), (o) => optionName(opts.names, o));
}

async function install(
  context: TokenContext, keyUri: Pkcs11Uri, request: InstallOnTokenOptions,
): Promise<InstallOnTokenResult> {
  const token = describeToken(context.slot.token);
  const keys = findPrivateKeys(context, { id: keyUri.id, label: keyUri.object });
  const shown = formatPkcs11Uri(withoutQuery(keyUri));
  if (keys.length === 0) throw new InputError("PKCS11_OBJECT_NOT_FOUND", `no private key matches ${shown} on ${token}`);
  if (keys.length > 1) {
    throw new Pkcs11AmbiguousError(`${shown} matches ${keys.length} private keys`, keys.map((k) => formatPkcs11Uri(k.uri)), "add the id= or object= of the key");
  }
  const key = keys[0]!;
  if (key.id.length === 0) throw new InputError("PKCS11_OBJECT_NOT_FOUND", `the key ${formatPkcs11Uri(key.uri)} has no CKA_ID to give its certificate`);
  requireSameKey(publicKeyOf(context, key), request.certificate, formatPkcs11Uri(key.uri));

  let written = false;
  // Another install-certificate (another process) may store one for this key meanwhile: ours is kept only if no
  // other is there once it is made, so that the key never ends up with two (then unusable: "matches 3 certificates").
  for (let attempt = 1; ; attempt++) {
    const existing = findObjects(context, { class: CKO.CERTIFICATE, id: key.id });
    const same = existing.find((h) => readAttributes(context, h, [CKA.VALUE], unreadAttributes())[0]?.equals(request.certificate.der));
    if (same) {
      // Next to another (a --replace that could not remove it, another tool's): the key is unusable until one goes.
      const others = existing.filter((h) => !h.equals(same));
      if (others.length > 0 && !request.replace) {
        throw new InputError("OBJECT_EXISTS", `${token} holds this certificate and ${others.length} other(s) with the key's id ${key.id.toString("hex")}`, {
          hint: `pass ${optionName(request.names, "replace")} to remove the others: a key with two certificates cannot be used`,
        });
      }
      for (const old of others) {
        const failure = destroyUnlessGone(context, old);
        if (failure !== undefined) {
          throw pkcs11Failure(`removing the replaced certificate from ${token}`, failure, "delete it with the token's tools (e.g. pkcs11-tool --delete-object)");
        }
      }
      break;
    }
    if (existing.length > 0 && !request.replace) {
      throw new InputError("OBJECT_EXISTS", `${token} already holds another certificate with the key's id ${key.id.toString("hex")}`, {
        hint: `pass ${optionName(request.names, "replace")} to replace it (after renewal, for example)`,
      });
    }
    const ours = createCertificate(context, request.certificate, key.id, key.label, CERTIFICATE_CATEGORY.TOKEN_USER);
    // Left next to one not removed, ours would pass for "already on the token" at the next run: the key would keep two.
    for (const [removed, old] of existing.entries()) {
      const failure = destroyUnlessGone(context, old);
      if (failure === undefined) continue;
      const hint = destroyUnlessGone(context, ours) !== undefined
        ? `this certificate, serial ${request.certificate.serialHex}, could not be removed again either: the key has both;`
          + " delete the replaced one with the token's tools (e.g. pkcs11-tool --delete-object)"
        : `this certificate was removed again${removed ? `; ${removed} of the ${existing.length} replaced ones were` : ": the token is as before"}`;
      throw pkcs11Failure(`removing the replaced certificate from ${token}`, failure, hint);
    }
    written = !findObjects(context, { class: CKO.CERTIFICATE, id: key.id }).some((h) => !h.equals(ours));
    if (written) break;
    const failure = destroyUnlessGone(context, ours);
    if (failure !== undefined) {
      throw pkcs11Failure(`removing this certificate again from ${token}, where another program stored one for the key meanwhile,`, failure,
        "the key now has this certificate and the other's: delete the one not wanted with the token's tools (e.g. pkcs11-tool --delete-object)");
    }
    if (attempt === 3) {
      const what = `certificates with the key's id ${key.id.toString("hex")}`;
      throw new InputError("OBJECT_EXISTS", `another program stored ${what} on ${token} meanwhile`, {
        hint: "was install-certificate run twice at once? Run it again once the other has finished",
      });
    }
    await delay(20 + Math.random() * 80); // apart from the other
  }
  let chainWritten = 0;
  for (const ca of request.chain) {
    if (findObjects(context, { class: CKO.CERTIFICATE, value: ca.der }).length > 0) continue;
    // SHA-1 of the CA's SubjectPublicKeyInfo: stable, unique, and unrelated to any key id on the token.
    const id = createHash("sha1").update(readTbsFields(ca.der).subjectPublicKeyInfo.raw).digest();
    const label = readCertificateNames(ca.der).subject.find((a) => a.name === "CN")?.value ?? "CA certificate";
    createCertificate(context, ca, id, label, CERTIFICATE_CATEGORY.AUTHORITY);
    chainWritten++;
  }
  return { uri: formatPkcs11Uri(tokenKeyUri(context.slot.token, key.id, key.label)), written, chainWritten };
}

/** The module's failure, if any; gone already (CKR_OBJECT_HANDLE_INVALID) is none: another install removed it too. */
function destroyUnlessGone(context: TokenContext, handle: Buffer): unknown {
  try {
    destroyObject(context, handle);
    return undefined;
  } catch (error) {
    return ckrName(error) === "CKR_OBJECT_HANDLE_INVALID" ? undefined : error;
  }
}

function createCertificate(
  context: TokenContext, certificate: Certificate, id: Buffer, label: string, category: number,
): Buffer {
  let tbs;
  try {
    tbs = readTbsFields(certificate.der);
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    throw new InputError("CERTIFICATE_INVALID", `cannot read the certificate "${escapeQuoted(label)}": ${cause.message}`, { cause });
  }
  const template: Template = [
    { type: CKA.CLASS, value: CKO.CERTIFICATE },
    { type: CKA.CERTIFICATE_TYPE, value: CKC_X_509 },
    { type: CKA.TOKEN, value: true },
    { type: CKA.PRIVATE, value: false },
    { type: CKA.ID, value: id },
    { type: CKA.LABEL, value: label },
    { type: CKA.SUBJECT, value: Buffer.from(tbs.subject.raw) },
    { type: CKA.ISSUER, value: Buffer.from(tbs.issuer.raw) },
    { type: CKA.SERIAL_NUMBER, value: Buffer.from(tbs.serial.raw) },
    { type: CKA.VALUE, value: certificate.der },
  ];
  try {
    try {
      return createObject(context, [...template, { type: CKA.CERTIFICATE_CATEGORY, value: category }]);
    } catch (error) {
      // CKA_CERTIFICATE_CATEGORY is PKCS#11 v2.20+; some tokens refuse it. It is a hint for applications only.
      if (ckrName(error) !== "CKR_ATTRIBUTE_TYPE_INVALID") throw error;
      return createObject(context, template);
    }
  } catch (error) {
    throw pkcs11Failure(`storing the certificate "${escapeQuoted(label)}" on ${describeToken(context.slot.token)}`, error);
  }
}
