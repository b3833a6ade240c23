/**
 * local-endpoint --tls-key is read by serve's rule (readTlsFiles): a key file other users can read or change — its
 * mode, its owner, the directory it is in — is a RAA_EXPOSED_FILE warning naming it and the fix, as for serve --tls-key.
 * Before, the local endpoint read it as any input file: not a word about a 0644 key.
 */
import { chmodSync, chownSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { exposedWarnings } from "../helpers/exposed-warnings.js";

const { dir, cleanup } = makeTempDir("raa-local-tls-key-");
afterAll(cleanup);
const ca = createCa(dir, { name: "TLS key CA" });
const stray = issueLeaf(ca, join(dir, "stray"), { name: "stray", keyType: "p256" }); // not the certificate's key: exit 3 after the read

const warnings = exposedWarnings();

/** local-endpoint with the key at `key`: its exit code, once the process warnings it emitted are out. */
async function localEndpoint(key: string): Promise<number> {
  const argv = ["local-endpoint", "--trust-anchors", ca.certPath, "--tls-cert", ca.certPath, "--tls-key", key];
  const code = await main(argv, { stdout: new PassThrough(), stderr: new PassThrough(), env: {} });
  await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
  return code;
}

const keyAt = (name: string, mode: number, inDir = dir) => {
  const path = join(inDir, name);
  copyFileSync(stray.keyPath, path);
  chmodSync(path, mode);
  return path;
};

describe("local-endpoint --tls-key others can read or change", () => {
  it("warns about a key of mode 644, with the command that fixes it, as serve does", async () => {
    const key = keyAt("exposed.key", 0o644);
    expect(await localEndpoint(key)).toBe(3);
    expect(warnings).toEqual([`TLS private key file ${key} can be read or changed by other users (mode 644): run chmod 600 ${key}`]);
  });

  it("warns about a key of another user's, and one in a directory anyone can write to", async () => {
    const foreign = keyAt("foreign.key", 0o600);
    chownSync(foreign, 65534, 65534);
    expect(await localEndpoint(foreign)).toBe(3);
    expect(warnings).toEqual([expect.stringMatching(/^TLS private key file .*foreign\.key belongs to another user \(uid 65534.*\), who can change it: run chown 0 /)]);
    warnings.length = 0;
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(await localEndpoint(keyAt("in-open.key", 0o600, open))).toBe(3);
    expect(warnings).toEqual([expect.stringContaining(`is in a directory other users can change (${open}, mode 777): run chmod go-w ${open}`)]);
  });

  it("says nothing of a private key of its own", async () => {
    expect(await localEndpoint(keyAt("private.key", 0o600))).toBe(3);
    expect(warnings).toEqual([]);
  });
});
