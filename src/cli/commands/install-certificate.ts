import { UsageError } from "../../errors.js";
import { isPkcs11Uri } from "../../pkcs11/uri.js";
import { isTpmHandleRef } from "../../signers/options.js";
import { boolArg, stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { SIGNER_OPTIONS } from "../shared-options.js";
import { signerOptionsFromArgs, tokenAccessFromArgs, withSigner } from "../settings-args.js";

const command: CommandSpec = {
  name: "install-certificate",
  describe: "Store the issued certificate (and chain) next to its key: on the token with the key's CKA_ID and label, or beside a key file",
  options: [
    { name: "private-key", type: "string", refuseEmpty: true, description: "The key: pkcs11: URI, TSS2 key file, key file or handle:0x81…" },
    { name: "certificate", type: "string", refuseEmpty: true, description: "The issued certificate (PEM or DER); PEM may carry the chain after it" },
    { name: "intermediates", type: "string", refuseEmpty: true, description: "PEM bundle of CA certificates to store with it" },
    { name: "out", type: "string", refuseEmpty: true, description: "Key files and handles: where to write the certificate (default: <key>.cert.pem beside the key)" },
    { name: "replace", type: "boolean", description: "Replace a certificate already stored for the key" },
    ...SIGNER_OPTIONS.filter((o) => !["certificate", "private-key", "intermediates"].includes(o.name)),
  ],
  async run(args, io) {
    const keyRef = stringArg(args, "private-key");
    const certPath = stringArg(args, "certificate");
    if (!keyRef || !certPath) throw new UsageError("USAGE", "--private-key and --certificate are required");
    if (isPkcs11Uri(certPath)) throw new UsageError("USAGE", "--certificate must be the issued certificate's file");
    if (certPath === "-" && keyRef === "-") throw new UsageError("USAGE", "only one of --certificate and --private-key can be -");
    const { readCertificateFile, readCertificateBundle } = await import("../../x509/read-certificates.js");
    const [certificate, ...inFile] = (await readCertificateFile(certPath)).certificates;
    const intermediates = stringArg(args, "intermediates");
    const chain = intermediates ? [...(await readCertificateBundle(intermediates)).certificates] : inFile;
    if (isPkcs11Uri(keyRef)) {
      const { installOnToken } = await import("../../provisioning/pkcs11/install-on-token.js");
      const result = await installOnToken({ keyUri: keyRef, certificate, chain, replace: boolArg(args, "replace"), ...tokenAccessFromArgs(args, io) });
      if (!result.written) io.stderr.write("the certificate was already on the token\n");
      io.stdout.write(`${result.uri}\n`);
      return 0;
    }
    const [{ certificatePathBeside, writeCertificateFile }, { isFileInput }] = await Promise.all([
      import("../../provisioning/file-certificate.js"),
      import("../../io/input-file.js"),
    ]);
    // Only a key file has a place beside it: not handle:, nor - and env:NAME (./-.cert.pem, ./env:NAME.cert.pem).
    const beside = !isTpmHandleRef(keyRef) && isFileInput(keyRef);
    const out = stringArg(args, "out") ?? (beside ? certificatePathBeside(keyRef) : undefined);
    if (out === undefined) throw new UsageError("USAGE", "--out is required for handle:, env: and - (standard input) keys");
    await writeCertificateFile({
      path: out,
      keyName: keyRef,
      publicKey: await keyPublicKey(keyRef, args, io),
      certificate,
      chain,
      replace: boolArg(args, "replace"),
    });
    io.stdout.write(`${out}\n`);
    return 0;
  },
};
export default command;

/** A TSS2 key file's public key is in the file: no TPM, no password. Other keys are opened. */
async function keyPublicKey(keyRef: string, args: ParsedArgs, io: CliIo) {
  // Standard input is read once: the signer below reads it (sniffing it here left the signer an empty input).
  if (!isTpmHandleRef(keyRef) && keyRef !== "-") {
    const { readInputFile } = await import("../../io/input-file.js");
    const { bytes } = await readInputFile(keyRef, "private key file");
    try {
      const [{ containsTss2Key, parseTss2KeyFile }, { publicKeyOf }] = await Promise.all([
        import("../../tpm/keys/tss2-key-file.js"),
        import("../../tpm/keys/public-area.js"),
      ]);
      if (containsTss2Key(bytes)) {
        const file = await parseTss2KeyFile(bytes, keyRef);
        return publicKeyOf(file.public.public, keyRef);
      }
    } finally {
      bytes.fill(0); // a plain key's bytes: the signer below reads its own
    }
  }
  const options = signerOptionsFromArgs(args, io);
  // The key alone: a certificate already beside it must not be checked against the key (it may be the old one).
  // A handle's public key is read with TPM2_ReadPublic, which needs no authorization: never ask for a password.
  const tpm = isTpmHandleRef(keyRef) ? { tpm: { ...options.tpm, noKeyPassword: true } } : {};
  return withSigner({ ...options, ...tpm, certificate: undefined, privateKey: keyRef }, (signer) => signer.publicKey());
}
