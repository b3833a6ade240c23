import { parsePkcs11Uri } from "../../pkcs11/uri.js";
import type { Certificate } from "../../x509/certificate.js";
import { installCertificateOnToken } from "./token-certificate.js";
import { withTokenSession } from "../../pkcs11/token-session.js";
import type { TokenSessionOptions } from "../../pkcs11/token-session-options.js";

export interface InstallOnTokenOptions extends Omit<TokenSessionOptions, "uri"> {
  readonly keyUri: string;
  readonly certificate: Certificate;
  readonly chain: readonly Certificate[];
  readonly replace: boolean;
}

/**
 * What installOnToken did. Declared here, not next to the code that writes the token: the library's public
 * declarations must not reach graphene-pk11's types (an install without the optional PKCS#11 packages lacks them).
 */
export interface InstallOnTokenResult {
  readonly uri: string;
  /** False when the very same certificate was already there. */
  readonly written: boolean;
  readonly chainWritten: number;
}

/** Opens a read-write session on the key's token and installs the certificate (and chain) next to the key. */
export async function installOnToken(opts: InstallOnTokenOptions): Promise<InstallOnTokenResult> {
  const uri = parsePkcs11Uri(opts.keyUri);
  return withTokenSession({ ...opts, uri }, (context) =>
    installCertificateOnToken(context, { keyUri: uri, certificate: opts.certificate, chain: opts.chain, replace: opts.replace }),
  );
}
