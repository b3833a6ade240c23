// The credential-process bundle (dist/credential-process.cjs) leaves out what only hardware keys, PKCS#12
// files, ML-DSA certificates and the other commands need; the build puts left-out.ts in their place. Reaching
// one of them ends that run: the launcher drops its output and runs the command line again with the full CLI.
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
