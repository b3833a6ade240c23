/**
 * Reads the log OpenSC's pkcs11-spy writes (PKCS11SPY_OUTPUT) and accounts for sessions: which were opened,
 * how each ended (C_CloseSession, C_CloseAllSessions, or implicitly by C_Finalize), logins and logouts.
 */
import { existsSync, readFileSync } from "node:fs";

export interface SpyCall {
  readonly name: string;
  readonly rv: string;
  readonly inSession: string | undefined;
  readonly outSession: string | undefined;
}

export interface SessionAccount {
  readonly calls: SpyCall[];
  readonly opened: number;
  readonly closedExplicitly: number;
  /** Sessions still open when C_Finalize ran (it ends them, but nothing closed them first). */
  readonly endedByFinalize: number;
  /** Sessions never ended at all (the process exited with them open). */
  readonly leftOpen: number;
  readonly finalized: number;
  readonly logins: number;
  readonly logouts: number;
  count(name: string, rv?: string): number;
}

export function parseSpyLog(text: string): SpyCall[] {
  const calls: SpyCall[] = [];
  for (const block of text.split(/^(?=\d+: C_\w+$)/m)) {
    const head = /^\d+: (C_\w+)$/m.exec(block);
    if (!head) continue;
    calls.push({
      name: head[1]!,
      rv: /^Returned:\s+\d+ (\w+)/m.exec(block)?.[1] ?? "none",
      inSession: /^\[in\] hSession = (0x[0-9a-f]+)/m.exec(block)?.[1],
      outSession: /^\[out\] \*phSession = (0x[0-9a-f]+)/m.exec(block)?.[1],
    });
  }
  return calls;
}

export function accountSessions(calls: SpyCall[]): SessionAccount {
  const open = new Set<string>();
  let opened = 0;
  let closedExplicitly = 0;
  let endedByFinalize = 0;
  let finalized = 0;
  for (const c of calls) {
    if (c.rv !== "CKR_OK") continue;
    if (c.name === "C_OpenSession" && c.outSession) {
      open.add(c.outSession);
      opened++;
    } else if (c.name === "C_CloseSession" && c.inSession && open.delete(c.inSession)) {
      closedExplicitly++;
    } else if (c.name === "C_CloseAllSessions") {
      closedExplicitly += open.size;
      open.clear();
    } else if (c.name === "C_Finalize") {
      finalized++;
      endedByFinalize += open.size;
      open.clear();
    }
  }
  const count = (name: string, rv?: string) => calls.filter((c) => c.name === name && (rv === undefined || c.rv === rv)).length;
  return {
    calls,
    opened,
    closedExplicitly,
    endedByFinalize,
    leftOpen: open.size,
    finalized,
    logins: count("C_Login"),
    logouts: count("C_Logout"),
    count,
  };
}

/** The log from this point on (the spy appends), accounted when called. */
export function spyRecorder(path: string): () => SessionAccount {
  const start = existsSync(path) ? readFileSync(path, "utf8").length : 0;
  return () => accountSessions(parseSpyLog(existsSync(path) ? readFileSync(path, "utf8").slice(start) : ""));
}
