/**
 * A read-write, logged-in session on the one token a `pkcs11:` URI names: what creating objects needs
 * (the signer's sessions are read-only). Module loading, token matching and PIN handling are the signer's.
 */
import { DeviceError } from "../../errors.js";
import type { SecretSource } from "../../secrets/secret-source.js";
import type { DebugLog } from "../../signers/options.js";
import { acquireModule, type ModuleLease } from "../../signers/pkcs11/module-loader.js";
import { chooseModule } from "../../signers/pkcs11/module-path.js";
import { closeSession, type TokenContext } from "../../signers/pkcs11/objects.js";
import { Pkcs11AmbiguousError, pkcs11Failure } from "../../signers/pkcs11/pkcs11-errors.js";
import { loginUser, pinFromPrompt, pinFromSource, pinFromUri, type PinSupply } from "../../signers/pkcs11/pin.js";
import { CKF_PROTECTED_AUTHENTICATION_PATH, describeToken, listTokenSlots, slotMatches, tokenUri, type TokenSlot } from "../../signers/pkcs11/slots.js";
import { formatPkcs11Uri, withoutQuery, type Pkcs11Uri } from "../../signers/pkcs11/uri.js";
import type { TokenSessionOptions } from "./token-types.js";

const CKF_RW_SESSION = 0x2;
const CKF_SERIAL_SESSION = 0x4;
const CKF_WRITE_PROTECTED = 0x2;

export type { TokenSessionOptions };

export interface TokenSession {
  readonly context: TokenContext;
  close(): void;
}

export async function openTokenSession(opts: TokenSessionOptions): Promise<TokenSession> {
  const lease = await acquireModule(chooseModule(opts.library, [opts.uri]), opts.debug);
  let context: TokenContext | undefined;
  try {
    const slot = chooseSlot(lease, opts.uri);
    if (slot.flags & CKF_WRITE_PROTECTED) {
      throw new DeviceError("PKCS11_ERROR", `${describeToken(slot.token)} is write-protected`);
    }
    const module = lease.module;
    try {
      const session = new module.graphene.Slot(slot.handle, module.module, module.lib).open(CKF_SERIAL_SESSION | CKF_RW_SESSION);
      context = { module, slot, session, generation: module.generation, debug: opts.debug };
    } catch (error) {
      throw pkcs11Failure(`opening a read-write session on ${describeToken(slot.token)}`, error);
    }
    await loginUser(context, pinSupply(opts, slot), (slot.flags & CKF_PROTECTED_AUTHENTICATION_PATH) !== 0);
    const open = context;
    return {
      context: open,
      close() {
        closeSession(open);
        lease.release();
      },
    };
  } catch (error) {
    if (context) closeSession(context);
    lease.release();
    throw error;
  }
}

function chooseSlot(lease: ModuleLease, uri: Pkcs11Uri): TokenSlot {
  const slots = listTokenSlots(lease.module);
  const matching = slots.filter((s) => slotMatches(uri, s, lease.module.info));
  if (matching.length === 1) return matching[0]!;
  if (matching.length === 0) {
    throw new DeviceError("PKCS11_TOKEN_NOT_FOUND", `no token matches ${formatPkcs11Uri(withoutQuery(uri))}`, {
      hint: slots.length > 0 ? `tokens: ${slots.map((s) => formatPkcs11Uri(tokenUri(s))).join(" ")}` : "the module shows no initialised token",
    });
  }
  throw new Pkcs11AmbiguousError(
    `${formatPkcs11Uri(withoutQuery(uri))} matches ${matching.length} tokens`,
    matching.map((s) => formatPkcs11Uri(tokenUri(s))),
    "add token= or serial= to say which token to use",
  );
}

function pinSupply(opts: TokenSessionOptions, slot: TokenSlot): PinSupply | undefined {
  if (opts.uri.pin) return pinFromUri(opts.uri.pin);
  if (opts.pin) return pinFromSource(opts.pin, `the user PIN of ${describeToken(slot.token)}`, opts.env ?? process.env);
  if (slot.flags & CKF_PROTECTED_AUTHENTICATION_PATH) return undefined;
  return pinFromPrompt(
    `User PIN for ${describeToken(slot.token)}: `,
    `the user PIN of ${describeToken(slot.token)} (give it with pin-source= in the URI, --pkcs11-pin-file or --pkcs11-pin-env)`,
  );
}
