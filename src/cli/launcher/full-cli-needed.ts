// The build puts left-out.ts in place of each module the credential-process bundle leaves out
// (credential-process-entry.ts): reaching one ends that run, and the launcher runs it again with the full CLI.
let needed = false;

/** Whether this run reached a module the bundle left out. */
export function fullCliNeeded(): boolean {
  return needed;
}

/** Called where a left-out module would have been loaded: the error only unwinds this run. */
export function needFullCli(): never {
  needed = true;
  throw new Error("this command line needs the full CLI bundle");
}
