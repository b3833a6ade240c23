import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";

/** A directory whose files are links into `..data`, swapped at once as the kubelet does for a Secret volume. */
export function secretVolume(path: string, files: Record<string, string>, generation: number): void {
  mkdirSync(join(path, `..g${generation}`), { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileSync(join(path, `..g${generation}`, name), data);
  symlinkSync(`..g${generation}`, join(path, "..tmp"));
  renameSync(join(path, "..tmp"), join(path, "..data"));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(`..data/${name}`, join(path, name));
    } catch {
      /* exists */
    }
  }
}

/** The decimal serial number of the certificate a TLS server on 127.0.0.1:`port` presents, verified against `ca`. */
export function servedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, ca }, () => {
      resolve(BigInt(`0x${s.getPeerCertificate().serialNumber}`).toString(10));
      s.end();
    });
    s.on("error", reject);
  });
}
