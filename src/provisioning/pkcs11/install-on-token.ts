import { parsePkcs11Uri } from "../../signers/pkcs11/uri.js";
import type { Certificate } from "../../x509/certificate.js";
import { installCertificateOnToken } from "./token-certificate.js";
import { openTokenSession } from "./token-session.js";
import type { InstallOnTokenResult, TokenSessionOptions } from "./token-types.js";

export interface InstallOnTokenOptions extends Omit<TokenSessionOptions, "uri"> {
  readonly keyUri: string;
  readonly certificate: Certificate;
  readonly chain: readonly Certificate[];
  readonly replace: boolean;
}

/** Opens a read-write session on the key's token and installs the certificate (and chain) next to the key. */
export async function installOnToken(opts: InstallOnTokenOptions): Promise<InstallOnTokenResult> {
  const uri = parsePkcs11Uri(opts.keyUri);
  const session = await openTokenSession({ ...opts, uri });
  try {
    return installCertificateOnToken(session.context, { keyUri: uri, certificate: opts.certificate, chain: opts.chain, replace: opts.replace });
  } finally {
    session.close();
  }
}
