import { resolve } from "node:path";
import { isFileInput } from "../io/input-file.js";
import { formatPkcs11Uri, isPkcs11Uri, parseWithoutPin } from "../pkcs11/uri.js";
import { prepareCreateSession } from "../rolesanywhere/signed-request.js";
import type { CredentialSettings } from "../settings/credential-settings.js";
import { isTpmHandleRef } from "../signers/options.js";

/**
 * What, besides the ARNs and the role session name, shapes the credentials a profile gets: a client asking the agent
 * by ARNs sends these, and only a profile with the same values answers. Each is normalised (absolute paths, URIs as
 * parsed, the duration as a number, the endpoint as resolved) so that one thing written two ways compares equal; never
 * a secret (a PKCS#11 URI's pin-value and pin-source are left out: a PIN does not change which key signs).
 */
export const CONDITION_NAMES = ["certificate", "private-key", "pkcs11-lib", "tpm-device", "session-duration", "region", "endpoint"] as const;
export type RequestConditions = Readonly<Record<(typeof CONDITION_NAMES)[number], string>>;

/** The conditions of `settings`, or undefined when a source cannot be compared (`-`, `env:`: read by one process). */
export function requestConditions(settings: CredentialSettings): RequestConditions | undefined {
  if (!hasRequestConditions(settings)) return undefined;
  const { signer, session, endpoint } = settings;
  const [certificate, privateKey] = [keySource(signer.certificate), keySource(signer.privateKey)];
  const target = prepareCreateSession(session, endpoint);
  const library = signer.pkcs11?.library ?? "";
  return {
    certificate,
    "private-key": privateKey,
    "pkcs11-lib": library.includes("/") ? resolve(library) : library,
    "tpm-device": signer.tpm?.device ?? "",
    "session-duration": String(session.durationSeconds),
    region: target.region,
    endpoint: target.endpoint.baseUrl,
  };
}

/** Whether requestConditions has conditions for `settings`, without normalising them. */
export function hasRequestConditions({ signer }: CredentialSettings): boolean {
  return [signer.certificate, signer.privateKey].every((ref) => ref === undefined || isPkcs11Uri(ref) || isTpmHandleRef(ref) || isFileInput(ref));
}

/** A key or certificate source, normalised: hasRequestConditions has checked that it can be. */
function keySource(ref: string | undefined): string {
  if (ref === undefined) return "";
  if (isPkcs11Uri(ref)) {
    // How the PIN is given (pin-value, pin-source) does not change which key signs: left out, a pin-value wiped.
    return formatPkcs11Uri(parseWithoutPin(ref));
  }
  if (isTpmHandleRef(ref)) return ref.toLowerCase();
  return resolve(ref);
}
