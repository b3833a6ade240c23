import type { Template } from "pkcs11js";
import type { TokenContext } from "./objects.js";
import { pkcs11Failure } from "./pkcs11-errors.js";
import { CKA } from "./constants.js";

/** Handles of the objects matching a template (all of them, in batches). */
export function findObjects(context: TokenContext, template: Template): Buffer[] {
  const { lib } = context.module;
  const session = context.session.handle;
  try {
    lib.C_FindObjectsInit(session, template);
    const found: Buffer[] = [];
    try {
      for (;;) {
        const batch = lib.C_FindObjects(session, 64);
        found.push(...batch);
        if (batch.length < 64) break;
      }
    } finally {
      lib.C_FindObjectsFinal(session);
    }
    return found;
  } catch (error) {
    throw pkcs11Failure("searching the token", error);
  }
}

/** Classes of the objects that already use this id or label: a new key must not share either. */
export function objectsUsing(context: TokenContext, id: Buffer, label: string): { byId: number; byLabel: number } {
  return {
    byId: findObjects(context, [{ type: CKA.ID, value: id }]).length,
    byLabel: findObjects(context, [{ type: CKA.LABEL, value: label }]).length,
  };
}
