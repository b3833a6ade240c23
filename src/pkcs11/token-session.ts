/**
 * A read-write, logged-in session on the one token a `pkcs11:` URI names: what creating objects needs
 * (the signer's sessions are read-only).
 */
import { DeviceError } from "../errors.js";
import type { SecretSource } from "../secrets/secret-source.js";
import { CKF } from "./constants.js";
import { acquireModule, type DebugLog } from "./module-loader.js";
import { chooseModule } from "./module-path.js";
import { closeSession, openSession, type TokenContext } from "./objects.js";
import { pkcs11Failure } from "./pkcs11-errors.js";
import { givenUserPin, loginUser, userPinPrompt, type PinSupply } from "./pin.js";
import { describeToken, hasPinPad, listTokenSlots, onlyMatchingSlot, type TokenSlot } from "./slots.js";
import type { TokenSessionOptions } from "./token-session-options.js";
import type { Pkcs11Uri } from "./uri.js";

export type { TokenSessionOptions };

export interface TokenSession {
  readonly context: TokenContext;
  close(): void;
}

export async function openTokenSession(opts: TokenSessionOptions): Promise<TokenSession> {
  const lease = await acquireModule(chooseModule(opts.library, [opts.uri]), opts.debug);
  let context: TokenContext | undefined;
  try {
    const slot = onlyMatchingSlot(opts.uri, listTokenSlots(lease.module), lease.module.info, "add token= or serial= to say which token to use");
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

function pinSupply(opts: TokenSessionOptions, slot: TokenSlot): PinSupply | undefined {
  const given = givenUserPin(opts.uri.pin, opts.pin, `the user PIN of ${describeToken(slot.token)}`, opts.env ?? process.env);
  if (given || hasPinPad(slot)) return given;
  return userPinPrompt(slot.token);
}
