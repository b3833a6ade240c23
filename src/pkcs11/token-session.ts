/** A read-write, logged-in session on the one token a `pkcs11:` URI names: what creating objects needs. */
import { DeviceError } from "../errors.js";
import { CKF } from "./constants.js";
import { acquireModule, type ModuleLease } from "./module-loader.js";
import { chooseModule } from "./module-path.js";
import { closeSession, openSession, type TokenContext } from "./objects.js";
import { givenUserPin, loginUser, pinFromUri, userPinPrompt } from "./pin.js";
import { secretsAlreadyHeld } from "../secrets/secret-source.js";
import { describeToken, listTokenSlots, onlyMatchingSlot } from "./slots.js";
import type { TokenSessionOptions } from "./token-session-options.js";
import { wipeUriPin, type Pkcs11Uri } from "./uri.js";

/** Runs `use` in such a session, then closes it and releases the module. `name`: an option as the caller names it. */
export async function withTokenSession<T>(
  uri: Pkcs11Uri, opts: TokenSessionOptions, use: (context: TokenContext) => T | Promise<T>,
  name: (o: "library" | "pin") => string,
): Promise<T> {
  let lease: ModuleLease | undefined;
  let context: TokenContext | undefined;
  try {
    const fromUri = uri.pin && pinFromUri(uri.pin); // a pin-source refused (https:, another host's file://): no module loaded
    secretsAlreadyHeld(opts.pin);
    lease = await acquireModule(chooseModule(opts.library, [uri], name("library")), opts.debug);
    const which = "add token= or serial= to say which token to use";
    const slot = onlyMatchingSlot(uri, await listTokenSlots(lease.module, opts.debug, [uri]), lease.module, which);
    if (slot.flags & CKF.WRITE_PROTECTED) {
      throw new DeviceError("PKCS11_ERROR", `${describeToken(slot.token)} is write-protected`);
    }
    context = openSession(lease.module, slot, opts.debug, true);
    const given = fromUri ?? givenUserPin(undefined, opts.pin, `the user PIN of ${describeToken(slot.token)}`, process.env);
    await loginUser(context, given ?? userPinPrompt(slot, undefined, name("pin")));
    return await use(context); // awaited: the session stays open until an asynchronous `use` ends
  } finally {
    if (context) closeSession(context);
    lease?.release();
    wipeUriPin(uri); // its owner's (keygen, install-certificate) last use
  }
}
