/**
 * A read-write, logged-in session on the one token a `pkcs11:` URI names: what creating objects needs
 * (the signer's sessions are read-only).
 */
import { DeviceError } from "../errors.js";
import type { SecretSource } from "../secrets/secret-source.js";
import { CKF } from "./constants.js";
import { acquireModule, type DebugLog, type ModuleLease } from "./module-loader.js";
import { chooseModule } from "./module-path.js";
import { closeSession, openSession, type TokenContext } from "./objects.js";
import { Pkcs11AmbiguousError, pkcs11Failure } from "./pkcs11-errors.js";
import { givenUserPin, loginUser, userPinPrompt, type PinSupply } from "./pin.js";
import { describeToken, hasPinPad, listTokenSlots, slotMatches, tokenNotFound, tokenUri, type TokenSlot } from "./slots.js";
import { formatPkcs11Uri, withoutQuery, type Pkcs11Uri } from "./uri.js";

export interface TokenSessionOptions {
  readonly uri: Pkcs11Uri;
  /** `--pkcs11-lib`. */
  readonly library?: string | undefined;
  /** PIN when the URI has none. */
  readonly pin?: SecretSource | undefined;
  readonly debug?: DebugLog | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

export interface TokenSession {
  readonly context: TokenContext;
  close(): void;
}

export async function openTokenSession(opts: TokenSessionOptions): Promise<TokenSession> {
  const lease = await acquireModule(chooseModule(opts.library, [opts.uri]), opts.debug);
  let context: TokenContext | undefined;
  try {
    const slot = chooseSlot(lease, opts.uri);
    if (slot.flags & CKF.WRITE_PROTECTED) {
      throw new DeviceError("PKCS11_ERROR", `${describeToken(slot.token)} is write-protected`);
    }
    try {
      context = openSession(lease.module, slot, opts.debug, true);
    } catch (error) {
      throw pkcs11Failure(`opening a read-write session on ${describeToken(slot.token)}`, error);
    }
    await loginUser(context, pinSupply(opts, slot), hasPinPad(slot));
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
  if (matching.length === 0) throw tokenNotFound(uri, slots);
  throw new Pkcs11AmbiguousError(
    `${formatPkcs11Uri(withoutQuery(uri))} matches ${matching.length} tokens`,
    matching.map((s) => formatPkcs11Uri(tokenUri(s))),
    "add token= or serial= to say which token to use",
  );
}

function pinSupply(opts: TokenSessionOptions, slot: TokenSlot): PinSupply | undefined {
  const given = givenUserPin(opts.uri.pin, opts.pin, `the user PIN of ${describeToken(slot.token)}`, opts.env ?? process.env);
  if (given || hasPinPad(slot)) return given;
  return userPinPrompt(slot.token);
}
