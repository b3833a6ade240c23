/**
 * How to unblock a user PIN, per token family: PIV cards with their PUK, SoftHSM and tpm2-pkcs11 by a new PIN set as the
 * security officer (`pkcs11-tool --unlock-pin` only works for cards OpenSC itself manages as PKCS#15). Never a command
 * that takes a PIN as an argument: one that asks for it.
 */
import { quotedWord, shellWord } from "../errors.js";
import { labelKnown, type LibraryInfo } from "./module-loader.js";
import type { TokenSlot } from "./slots.js";

export type TokenFamily = "yubikey" | "piv" | "softhsm" | "tpm2-pkcs11" | "other";

/** Recognised from what the module reports: ykcs11 and OpenSC's PIV driver, and the reader a card sits in. */
export function tokenFamily(slot: Pick<TokenSlot, "token" | "slotDescription">, library: Pick<LibraryInfo, "manufacturer" | "description">): TokenFamily {
  const { manufacturer, model } = slot.token;
  if (/^Yubico/i.test(manufacturer) || /YubiKey/i.test(model) || /^Yubico/i.test(slot.slotDescription)) return "yubikey";
  if (/^piv_II$/i.test(manufacturer) || /\bPIV\b/.test(model)) return "piv";
  if (/SoftHSM/i.test(manufacturer) || /SoftHSM/i.test(library.manufacturer)) return "softhsm";
  if (/tpm2-software/i.test(library.manufacturer) || /TPM2\.0 Cryptoki/i.test(library.description)) return "tpm2-pkcs11";
  return "other";
}

/** A token as a pasted command names it: its label, its slot (when the label is not known, see labelKnown), its module. */
export interface TokenForCommand {
  readonly label: string;
  readonly slotId: bigint;
  readonly modulePath: string;
}

/**
 * The command that sets a new user PIN as the security officer, on a module that allows it (SoftHSM). The label and the
 * module's path are the token's and the user's text, quoted to be pasted; the path comes last, so that the placeholder for
 * one too long to quote (PATH_TOO_LONG) is a syntax error, not a redirection into the next word. A label whose bytes
 * were not UTF-8 (U+FFFD in it) would be another label: the token is named by its slot instead (SoftHSM's and
 * tpm2-pkcs11's slot ids stay with their token).
 */
export function initPinCommand(token: TokenForCommand): string {
  const which = labelKnown(token.label) ? `--token-label ${quotedWord(token.label)}` : `--slot ${token.slotId}`;
  return `pkcs11-tool ${which} --login --login-type so --init-pin --module ${shellWord(token.modulePath)}`;
}

/** `token`: the token's label, slot and the module's path, for commands that can be pasted. */
export function unblockHint(family: TokenFamily, token: TokenForCommand): string {
  switch (family) {
    case "yubikey":
      return "unblock it with the PUK: `ykman piv access unblock-pin` (or `yubico-piv-tool -a unblock-pin`); if the PUK is blocked too, only `ykman piv reset` helps, and it erases the PIV keys";
    case "piv":
      return "unblock it with the card's PUK (a PIV RESET RETRY COUNTER, e.g. `yubico-piv-tool -r '' -a unblock-pin`) or with the card issuer's tool";
    case "softhsm":
      return `set a new user PIN as the security officer: \`${initPinCommand(token)}\``;
    case "tpm2-pkcs11":
      // tpm2_ptool initpin takes both PINs only as arguments (no prompt, file or variable), which every local user
      // reads in /proc/PID/cmdline; the module's own C_InitPIN, through pkcs11-tool, asks for them on the terminal.
      return `set a new user PIN as the security officer: \`${initPinCommand(token)}\` (it asks for the SO PIN and the new PIN; not \`tpm2_ptool initpin\`, which takes them as arguments that every local user can read in the process list); if the TPM itself is in lockout, wait for its recovery time or clear it with tpm2_dictionarylockout`;
    case "other":
      return "unblock it with the SO PIN or PUK using the token vendor's tool (on tokens that allow it: `pkcs11-tool --login --login-type so --init-pin`)";
  }
}
