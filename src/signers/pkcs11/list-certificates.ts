/**
 * `read-certificate-data --certificate pkcs11:…`: every certificate the URI matches on every matching token, each with
 * its own full URI (the Go helper printed the first token's for all), PIV attestation certificates left out. The PIN is
 * used (with a single matching token) when no certificate is visible before login.
 */
import type { Certificate } from "../../x509/certificate.js";
import { InputError } from "../../errors.js";
import { dropFailures } from "../../debug-log.js";
import { TOKEN_SESSION_KINDS, type TokenSessionOptions } from "../../pkcs11/token-session-options.js";
import { withoutAttestation } from "./attestation.js";
import { goSubjectAndIssuer } from "../../x509/names/go-name.js";
import { acquireModule, type ModuleLease } from "../../pkcs11/module-loader.js";
import { chooseModule } from "../../pkcs11/module-path.js";
import { optionName, refuseWrongOptions } from "../options.js";
import { closeSession, findCertificates, openSession, type CertificateObject, type TokenContext } from "../../pkcs11/objects.js";
import type { UnreadableCertificate } from "../../pkcs11/unreadable-certificate.js";
import { givenUserPin, loginUser } from "../../pkcs11/pin.js";
import { listTokenSlots, slotMatches } from "../../pkcs11/slots.js";
import { formatPkcs11Uri, parsePkcs11Uri, wipeUriPin, withoutQuery } from "../../pkcs11/uri.js";
import { secretsAlreadyHeld } from "../../secrets/secret-source.js";

export interface ListPkcs11Options extends TokenSessionOptions {
  readonly uri: string;
  /** Told each certificate object the URI matches that is left out because its CKA_VALUE is no usable certificate. */
  readonly skipped?: ((object: UnreadableCertificate) => void) | undefined;
}

export interface Pkcs11CertificateEntry {
  certificate: Certificate;
  /** Lower-case hex SHA-1 of the DER. */
  sha1Fingerprint: string;
  /** Go `pkix.Name.String()` form, as the Go helper prints it. */
  subject: string;
  issuer: string;
  /** Upper-case hex without leading zeros. */
  serialHex: string;
  /** Full URI with attributes sorted by name (no PIN). */
  uri: string;
}

export async function listPkcs11Certificates(given: ListPkcs11Options): Promise<Pkcs11CertificateEntry[]> {
  refuseWrongOptions("listPkcs11Certificates", given, { ...TOKEN_SESSION_KINDS, uri: "string", skipped: "function" }, ["uri"]);
  const opts = { ...given, debug: dropFailures(given.debug) };
  const uri = parsePkcs11Uri(opts.uri);
  const pin = givenUserPin(uri.pin, opts.pin, "the token's user PIN", process.env); // a pin-source refused: no module loaded
  secretsAlreadyHeld(opts.pin);
  let lease: ModuleLease | undefined;
  const sessions: TokenContext[] = [];
  try {
    if (uri.type !== undefined && uri.type !== "cert") {
      const hint = `drop type=${uri.type} from the URI, or write type=cert`;
      throw new InputError("PKCS11_URI_INVALID", `${formatPkcs11Uri(withoutQuery(uri))} names ${uri.type} objects, never a certificate`, { hint });
    }
    const { module } = (lease = await acquireModule(chooseModule(opts.library, [uri], optionName(opts.names, "library")), opts.debug));
    const listed = await listTokenSlots(module, opts.debug);
    const slots = listed.filter((s) => slotMatches(uri, s, module.info));
    let unreadable: UnreadableCertificate[] = [];
    const search = (context: TokenContext) => withoutAttestation(findCertificates(context, { id: uri.id, label: uri.object }, unreadable), uri);
    let found: CertificateObject[] = [];
    for (const slot of slots) {
      const context = openSession(module, slot, opts.debug);
      sessions.push(context);
      found.push(...search(context));
    }
    if (found.length === 0 && sessions.length === 1 && pin !== undefined) {
      const [context] = sessions as [TokenContext];
      await loginUser(context, pin);
      unreadable = [];
      found = search(context);
    }
    for (const object of unreadable) opts.skipped?.(object);
    const entries = await Promise.all(
      found.map(async (c) => ({
        certificate: c.certificate,
        sha1Fingerprint: c.certificate.sha1Fingerprint(),
        ...(await goSubjectAndIssuer(c.certificate.der, `the certificate object ${formatPkcs11Uri(c.uri)}`)),
        serialHex: c.certificate.serialHex,
        uri: formatPkcs11Uri(c.uri),
      })),
    );
    return entries.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  } finally {
    for (const context of sessions) closeSession(context);
    lease?.release();
    wipeUriPin(uri);
  }
}
