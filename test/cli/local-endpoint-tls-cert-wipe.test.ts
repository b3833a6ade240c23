/**
 * Round 36 (S31): `local-endpoint --tls-cert` of a file that holds the key too (`cat key crt`, as many tools write a
 * server's PEM): the command wiped the key file's bytes it read, not the certificate file's, which kept the key.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { readTlsFiles } from "../../src/serve/tls-files.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-local-tls-cert-wipe-");
afterAll(cleanup);
const ca = createCa(dir, { name: "Local TLS CA" });
const server = (name: string) => issueLeaf(ca, join(dir, "tls"), { name, keyType: "p256", extensions: ["basicConstraints=critical,CA:FALSE", "subjectAltName=IP:127.0.0.1"] });

describe("local-endpoint --tls-cert holding the key too", () => {
  it("refused (--tls-key of another pair): one line, exit 3, and no copy of the certificate file's key left (before: 1)", async () => {
    const [pair, other] = [server("combined"), server("combined-other")];
    const combined = join(dir, "combined.pem");
    writeFileSync(combined, `${readFileSync(pair.keyPath, "utf8")}${pair.certPem}`, { mode: 0o600 });
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const argv = ["local-endpoint", "--trust-anchors", ca.certPath, "--tls-cert", combined, "--tls-key", other.keyPath];
    const secret = Buffer.from(readFileSync(pair.keyPath, "utf8").split("\n")[1]!);
    const { result, left } = await copiesHolding(secret, () => main(argv, { stdout: new PassThrough(), stderr, env: {} }));
    expect([result, left]).toEqual([3, 0]);
    expect(err.trim().split("\n")).toEqual([expect.stringMatching(/does not belong to the certificate/)]);
  });
});

describe("a TLS certificate file holding the key too, when the key file is not read (round 36, S32)", () => {
  // readTlsFiles read the certificate file, then the key file: a key file that failed (missing, a directory, refused)
  // left the certificate file's bytes, the key's PEM in them, unwiped.
  const combinedFile = (name: string) => {
    const pair = server(name);
    const path = join(dir, `${name}.pem`);
    writeFileSync(path, `${readFileSync(pair.keyPath, "utf8")}${pair.certPem}`, { mode: 0o600 });
    return { path, secret: Buffer.from(readFileSync(pair.keyPath, "utf8").split("\n")[1]!) };
  };

  it("local-endpoint: --tls-key naming no file is one line, exit 3, and no copy of the key left (before: 1)", async () => {
    const { path, secret } = combinedFile("combined-no-key");
    const stderr = new PassThrough();
    let err = "";
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const argv = ["local-endpoint", "--trust-anchors", ca.certPath, "--tls-cert", path, "--tls-key", join(dir, "missing.key")];
    const { result, left } = await copiesHolding(secret, () => main(argv, { stdout: new PassThrough(), stderr, env: {} }));
    expect([result, left]).toEqual([3, 0]);
    expect(err.trim().split("\n")).toEqual([expect.stringMatching(/missing\.key/)]);
  });

  it("serve's reader: a key path that is a directory leaves no copy of the key (before: 1)", async () => {
    const { path, secret } = combinedFile("combined-dir-key");
    const { left, result } = await copiesHolding(secret, () => readTlsFiles({ certificate: path, key: dir }).then(() => undefined, (e: unknown) => e));
    expect(result).toBeInstanceOf(Error);
    expect(left).toBe(0);
  });
});
