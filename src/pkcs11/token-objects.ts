/**
 * Objects by raw handle and attribute template: search, create, read one attribute, destroy, generate a
 * key pair. What keygen and install-certificate need; errors are the binding's, for the caller to word.
 */
import type { Template } from "pkcs11js";
import { CKA } from "./constants.js";
import type { TokenContext } from "./objects.js";
import { pkcs11Failure } from "./pkcs11-errors.js";

export type { Template } from "pkcs11js";

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

/** One attribute's bytes, or undefined when the token does not know it or will not show it. */
export function readAttribute(context: TokenContext, handle: Buffer, type: number): Buffer | undefined {
  try {
    const [attribute] = context.module.lib.C_GetAttributeValue(context.session.handle, handle, [{ type }]);
    return attribute?.value instanceof Buffer ? attribute.value : undefined;
  } catch {
    return undefined;
  }
}

export function createObject(context: TokenContext, template: Template): Buffer {
  return context.module.lib.C_CreateObject(context.session.handle, template);
}

export function destroyObject(context: TokenContext, handle: Buffer): void {
  context.module.lib.C_DestroyObject(context.session.handle, handle);
}

export function generateKeyPair(context: TokenContext, mechanism: number, publicTemplate: Template, privateTemplate: Template): { publicKey: Buffer; privateKey: Buffer } {
  return context.module.lib.C_GenerateKeyPair(context.session.handle, { mechanism }, publicTemplate, privateTemplate);
}
