/**
 * A read-write, logged-in session on the one token a `pkcs11:` URI names: what creating objects needs
 * (the signer's sessions are read-only). Module loading, token matching and PIN handling are the signer's.
 */
import { DeviceError } from "../errors.js";
import type { SecretSource } from "../secrets/secret-source.js";
import type { DebugLog } from "../signers/options.js";
import { acquireModule, type ModuleLease } from "./module-loader.js";
import { chooseModule } from "./module-path.js";
import { closeSession, type TokenContext } from "./objects.js";
import { Pkcs11AmbiguousError, pkcs11Failure } from "./pkcs11-errors.js";
import { loginUser, pinFromPrompt, pinFromSource, pinFromUri, type PinSupply } from "./pin.js";
import { describeToken, listTokenSlots, slotMatches, tokenUri, type TokenSlot } from "./slots.js";
import { formatPkcs11Uri, withoutQuery, type Pkcs11Uri } from "./uri.js";
import { CKF } from "./constants.js";

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
    const module = lease.module;
    try {
      const session = new module.graphene.Slot(slot.handle, module.module, module.lib).open(CKF.SERIAL_SESSION | CKF.RW_SESSION);
      context = { module, slot, session, generation: module.generation, debug: opts.debug };
    } catch (error) {
      throw pkcs11Failure(`opening a read-write session on ${describeToken(slot.token)}`, error);
    }
    await loginUser(context, pinSupply(opts, slot), (slot.flags & CKF.PROTECTED_AUTHENTICATION_PATH) !== 0);
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
  if (slot.flags & CKF.PROTECTED_AUTHENTICATION_PATH) return undefined;
  return pinFromPrompt(
    `User PIN for ${describeToken(slot.token)}: `,
    `the user PIN of ${describeToken(slot.token)} (give it with pin-source= in the URI, --pkcs11-pin-file or --pkcs11-pin-env)`,
  );
}
