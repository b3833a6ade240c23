/**
 * Objects a broken connection left behind (their handle never reached us). A TPM without a resource manager serves
 * one client at a time, so whatever appeared since a snapshot taken before loading, on the same power cycle, is ours.
 */
import type { Tpm } from "./tpm.js";
import { GetCapability } from "../wire/commands.js";
import { TPM_CAP, TPM_HT } from "../wire/constants.js";

/** Transient objects and loaded sessions (HMAC and policy), as TPM2_GetCapability(TPM_CAP_HANDLES) lists them. */
export async function loadedHandles(tpm: Tpm): Promise<Set<number>> {
  const found = new Set<number>();
  for (const type of [TPM_HT.TRANSIENT, TPM_HT.HMAC_SESSION]) {
    let property = (type << 24) >>> 0;
    for (;;) {
      const { response } = await tpm.execute(GetCapability, {}, { capability: TPM_CAP.HANDLES, property, propertyCount: 64 });
      const data = response.capabilityData;
      const handles = data.capability === TPM_CAP.HANDLES ? data.handles : [];
      for (const h of handles) found.add(h >>> 0);
      if (!response.moreData || handles.length === 0) break;
      property = (handles[handles.length - 1]! + 1) >>> 0;
    }
  }
  return found;
}

/** Flushes what is loaded now but was not in `before`; returns how many. Best effort. */
export async function flushOrphans(tpm: Tpm, before: ReadonlySet<number>): Promise<number> {
  let flushed = 0;
  for (const handle of await loadedHandles(tpm)) {
    if (!before.has(handle) && (await tpm.flush(handle).then(() => true, () => false))) flushed++;
  }
  return flushed;
}
