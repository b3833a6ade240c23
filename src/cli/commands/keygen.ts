import { UsageError } from "../../errors.js";
import { isPkcs11Uri, uriGivesPin } from "../../pkcs11/uri.js";
import type { KeySpec } from "../../provisioning/key-spec.js";
import { heldSecret, type SecretSource } from "../../secrets/secret-source.js";
import { isTpmHandleRef } from "../../signers/options.js";
import type { TpmKeygenOptions } from "../../provisioning/tpm/tpm-keygen.js";
import { boolArg, defaultedString, stringArg, type CliIo, type CommandSpec, type ParsedArgs } from "../command.js";
import { DEBUG_OPTION, signerOptionsNamed } from "../shared-options.js";
import { debugLogger, secretFromArgs, tokenAccessFromArgs, waitForDeviceFromArgs } from "../settings-args.js";

const command: CommandSpec = {
  name: "keygen",
  describe: "Generate a non-exportable key on a PKCS#11 token or the TPM and print the --private-key reference to use",
  options: [
    { name: "private-key", type: "string", refuseEmpty: true, description: "Where: pkcs11:token=…;object=<label>[;id=%xx] (token), a path (TSS2 key file, TPM) or handle:0x81… (TPM persistent)" },
    { name: "key-type", type: "string", refuseEmpty: true, default: "p256", description: "rsa2048, rsa3072, p256 or p384 (rsa4096 where the token or TPM supports it)" },
    { name: "id", type: "string", refuseEmpty: true, description: "PKCS#11: CKA_ID in hex (default: id= of the URI, else random)" },
    { name: "label", type: "string", refuseEmpty: true, description: "PKCS#11: CKA_LABEL (default: object= of the URI)" },
    { name: "format", type: "string", default: "text", choices: ["text", "json"], description: "text: the reference alone; json: reference, key type and public key" },
    // keygen is not the Go helper's: an empty --pkcs11-lib is refused here (refuseEmpty), unlike in sign-string.
    ...signerOptionsNamed("pkcs11-lib").map((o) => ({ ...o, refuseEmpty: true })),
    ...signerOptionsNamed("pkcs11-pin-file", "pkcs11-pin-env", "tpm-device"),
    { name: "tpm-key-password-file", type: "string", refuseEmpty: true, description: "TPM: give the new key this password (read from a file)" },
    { name: "tpm-key-password-env", type: "string", refuseEmpty: true, description: "TPM: give the new key the password in this environment variable" },
    { name: "tpm-parent-password", type: "string", refuseEmpty: true, description: "TPM: owner hierarchy or parent password (or file:/path, env:NAME, prompt)" },
    {
      name: "tpm-owner-password",
      type: "string",
      refuseEmpty: true,
      description: "TPM: owner hierarchy password for handle:… under a persistent --tpm-parent (or file:/path, env:NAME, prompt)",
    },
    { name: "tpm-pcr", type: "string", refuseEmpty: true, description: "TPM: bind the key to the current values of these PCRs, e.g. sha256:0,7" },
    { name: "tpm-parent", type: "string", refuseEmpty: true, description: "TPM: parent handle (default 0x40000001: the owner hierarchy's standard ECC SRK)" },
    { name: "force", type: "boolean", description: "TPM key file: replace an existing file" },
    ...signerOptionsNamed("wait-for-device"),
    DEBUG_OPTION,
  ],
  async run(args, io) {
    const target = stringArg(args, "private-key");
    if (!target) throw new UsageError("USAGE", "--private-key is required: a pkcs11: URI, a TSS2 key file path or handle:0x81…");
    const { parseKeySpec } = await import("../../provisioning/key-spec.js");
    const keyType = defaultedString(args, "key-type");
    const spec = parseKeySpec(keyType);
    const isToken = isPkcs11Uri(target);
    // Read once, wiped when keygen ends, refused or not (generateTpmKey reads clones of them: readSecret).
    const passwords: (SecretSource | undefined)[] = [];
    try {
      if (!isToken) for (const flag of ["tpm-parent-password", "tpm-owner-password"]) passwords.push(secretFromArgs(args, flag));
      // A spinner only where nothing else may be asked on the terminal meanwhile (a PIN or password prompt).
      const mayPrompt = isToken
        ? secretFromArgs(args, "pkcs11-pin") === undefined && !uriGivesPin(target)
        : passwords.some((s) => s?.kind === "prompt");
      // Every check that needs no device comes before the progress line.
      const generate = await (isToken ? prepareTokenKeygen(target, spec, args, io) : prepareTpmKeygen(target, spec, args, io, passwords));
      const { withProgress } = await import("../progress.js");
      const what = `generating ${/^(rsa|[aeiou])/i.test(keyType) ? "an" : "a"} ${keyType} key ${isToken ? "on the token" : "in the TPM"}${!isToken && /^rsa/i.test(keyType) ? " (RSA can take a minute)" : ""}`;
      const wait = waitForDeviceFromArgs(args, io);
      const { waitForDevice } = await import("../../signers/wait-for-device.js");
      const generateWhenPresent = wait.waitForDeviceMs ? () => waitForDevice(generate, { timeoutMs: wait.waitForDeviceMs!, onWait: wait.onDeviceWait }) : generate;
      const result = await withProgress(what, io.stderr, generateWhenPresent, {
        spinner: io.stderr.isTTY === true && !mayPrompt,
      });
      if (stringArg(args, "format") === "json") {
        const publicKey = result.publicKey?.export({ type: "spki", format: "pem" }).toString();
        io.stdout.write(`${JSON.stringify({ privateKey: result.reference, keyType: spec.name, ...(publicKey ? { publicKey } : {}) }, null, 2)}\n`);
      } else {
        io.stdout.write(`${result.reference}\n`);
      }
      return 0;
    } finally {
      passwords.forEach((s) => heldSecret(s)?.wipe());
    }
  },
};
export default command;

async function prepareTokenKeygen(uri: string, spec: KeySpec, args: ParsedArgs, io: CliIo) {
  const tpmFlags = ["tpm-device", "tpm-key-password-file", "tpm-key-password-env", "tpm-parent-password", "tpm-owner-password"];
  for (const flag of [...tpmFlags, "tpm-pcr", "tpm-parent"]) {
    if (args.explicit.has(flag)) throw new UsageError("USAGE", `--${flag} is for TPM keys, not pkcs11: URIs`);
  }
  const idHex = stringArg(args, "id")?.replace(/^0x/, "");
  if (idHex !== undefined && !/^([0-9a-fA-F]{2})+$/.test(idHex)) {
    throw new UsageError("USAGE", `--id must be hex bytes, e.g. 01 or a1b2c3`);
  }
  const { checkTokenKeygen, generateKeyOnToken } = await import("../../provisioning/pkcs11/token-keygen.js");
  const options = { uri, spec, id: idHex ? Buffer.from(idHex, "hex") : undefined, label: stringArg(args, "label"), ...tokenAccessFromArgs(args, io) };
  checkTokenKeygen(options);
  return async () => {
    const result = await generateKeyOnToken(options);
    return { reference: result.uri, publicKey: result.publicKey };
  };
}

async function prepareTpmKeygen(target: string, spec: KeySpec, args: ParsedArgs, io: CliIo, [parentPassword, ownerPassword]: (SecretSource | undefined)[]) {
  for (const flag of ["id", "label", "pkcs11-lib", "pkcs11-pin-file", "pkcs11-pin-env"]) {
    if (args.explicit.has(flag)) throw new UsageError("USAGE", `--${flag} is for pkcs11: URIs, not TPM keys`);
  }
  const [{ checkTpmKeygen, generateTpmKey }, { parsePcrRequest }, { parseTpmHandle }] = await Promise.all([
    import("../../provisioning/tpm/tpm-keygen.js"),
    import("../../provisioning/tpm/pcr-policy.js"),
    import("../../signers/factory.js"),
  ]);
  const pcrText = stringArg(args, "tpm-pcr");
  const parentText = stringArg(args, "tpm-parent");
  const options: TpmKeygenOptions = {
    target: isTpmHandleRef(target)
      ? { kind: "handle", handle: parseTpmHandle(target, { anyRange: true }) }
      : { kind: "file", path: target, overwrite: boolArg(args, "force") },
    spec,
    device: stringArg(args, "tpm-device"),
    env: io.env,
    keyPassword: secretFromArgs(args, "tpm-key-password"),
    parentPassword,
    ownerPassword,
    parent: parentText ? parseTpmHandle(parentText, { anyRange: true, name: `--tpm-parent ${parentText}` }) : undefined,
    pcr: pcrText ? parsePcrRequest(pcrText) : undefined,
    debug: debugLogger(args, io),
  };
  await checkTpmKeygen(options);
  return () => generateTpmKey(options);
}
