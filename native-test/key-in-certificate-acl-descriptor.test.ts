/**
 * Round 39 (S35): the ACL of a certificate file that holds a private key is read from the descriptor its bytes came
 * from (readCertificateInput), as a PIN file's is (secret-acl-descriptor.test.ts): a real `setfacl -m u:65534:r` on
 * root's 0640 certificate file of the reader's group, then a clean file renamed over its name right after the read.
 * The warning names the entry of the file read (before: the ACL was read again by name, of the clean file: nothing).
 */
import { execFileSync } from "node:child_process";
import { chownSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished, vi } from "vitest";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";

const afterRead = vi.hoisted(() => new Map<string, () => void>());
vi.mock("../src/io/read-opened-file.js", async (actual) => {
  const real = await actual<typeof import("../src/io/read-opened-file.js")>();
  const readOpenedFile = async (path: string, ...rest: []) => {
    const read = await real.readOpenedFile(path, ...rest);
    afterRead.get(path)?.();
    return read;
  };
  return { ...real, readOpenedFile };
});
const { readCertificateFile } = await import("../src/x509/read-certificates.js");
const { readTlsFiles } = await import("../src/serve/tls-files.js");
const { createSigner } = await import("../src/signers/factory.js");
const { aclUnreadable } = await import("../src/os/access-acl.js");

const { dir, cleanup } = makeTempDir("raa-key-in-cert-acl-fd-");
afterAll(cleanup);
const [uid, gid] = [61_000, 61_000];

describe.runIf(process.getuid?.() === 0 && aclUnreadable() === undefined)("a certificate file's ACL, read by the native helper", () => {
  const ca = createCa(join(dir, "ca"), { name: "Key In Certificate ACL CA" });
  const leaf = issueLeaf(ca, dir, { name: "key-in-cert-acl", extensions: ["basicConstraints=critical,CA:FALSE"] });
  const combined = `${readFileSync(leaf.keyPath, "utf8")}${leaf.certPem}`;

  /** Root's 0640 file of the reader's group holding the key, with u:65534:r; replaced by a clean one right after its read. */
  function aclFile(name: string): string {
    const path = join(dir, name);
    writeFileSync(path, combined, { mode: 0o640 });
    chownSync(path, 0, gid);
    execFileSync("setfacl", ["-m", "u:65534:r", path]);
    afterRead.set(path, () => {
      writeFileSync(`${path}.clean`, combined, { mode: 0o640 });
      chownSync(`${path}.clean`, 0, gid);
      renameSync(`${path}.clean`, path);
    });
    return path;
  }

  it("readCertificateFile, the signer beside a separate --private-key, serve's TLS files: the read file's entry is told", async () => {
    const spies = [
      vi.spyOn(process, "getuid").mockReturnValue(uid), vi.spyOn(process, "getgid").mockReturnValue(gid),
      vi.spyOn(process, "getgroups").mockReturnValue([gid]), vi.spyOn(process, "emitWarning").mockImplementation(() => undefined),
    ];
    onTestFinished(() => spies.forEach((spy) => spy.mockRestore()));
    const [certificate, signing, tls] = [aclFile("crt.pem"), aclFile("signing.pem"), aclFile("tls.pem")];
    await readCertificateFile(certificate);
    await createSigner({ certificate: signing, privateKey: leaf.keyPath });
    const { cert, key } = await readTlsFiles({ certificate: tls, key: leaf.keyPath });
    [cert, key].forEach((read) => read.bytes.fill(0));
    const told = (what: string, path: string) =>
      `${what} ${path} holds a private key and can be read by other users through its ACL (entry u:65534): keep the private key in a file of its own, or run setfacl -x u:65534 ${path}`;
    expect(spies[3]!.mock.calls.map(([message]) => message)).toEqual([
      told("certificate file", certificate), told("certificate file", signing), told("TLS certificate file", tls),
    ]);
  });
});
