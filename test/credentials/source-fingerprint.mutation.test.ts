/**
 * sourceFingerprint, the digest that decides whether a reload keeps a source: two different file sets must not give
 * the same fingerprint (a changed key kept), a file past the 16 MiB input cap is not read (its identity stands), and
 * a file that cannot be read is not the same as an empty one. Each test kills a mutant the other tests let through.
 */
import { mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { sourceFingerprint } from "../../src/credentials/source-registry.js";
import { MAX_INPUT_BYTES } from "../../src/io/read-opened-file.js";
import { credentialSettings, FLAG_ORIGIN } from "../../src/settings/credential-settings.js";

// Every buffer a file was read into, to check that it is zeroed once digested.
const reads = vi.hoisted(() => [] as Buffer[]);
vi.mock("../../src/io/read-opened-file.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/io/read-opened-file.js")>();
  return { ...actual, readSized: (fd: number, size: number) => {
    const bytes = actual.readSized(fd, size);
    if (size < 2 ** 20) reads.push(bytes);
    return bytes;
  } };
});

const dir = mkdtempSync(join(tmpdir(), "raa-fingerprint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settingsFor = (certificate: string, privateKey?: string) =>
  credentialSettings(
    {
      certificate,
      ...(privateKey === undefined ? {} : { privateKey }),
      trustAnchorArn: "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
      profileArn: "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
      roleArn: "arn:aws:iam::111122223333:role/device",
    },
    FLAG_ORIGIN,
  );

describe("sourceFingerprint", () => {
  it("tells apart two file sets whose bytes only differ in where one file ends and the next begins", () => {
    const cert = join(dir, "pair.crt");
    const key = join(dir, "pair.key");
    const settings = settingsFor(cert, key);
    // Without the NUL after a path, (cert "C", key "\0<key path>K") and (cert "C\0<key path>", key "K") read the
    // same; without the NUL after a file's bytes, (cert "C<key path>\0Y", key "K") and (cert "C", key "Y<key path>\0K").
    const sets: [string | Buffer, string | Buffer][] = [
      ["C", Buffer.concat([Buffer.from([0]), Buffer.from(key), Buffer.from("K")])],
      [Buffer.concat([Buffer.from("C"), Buffer.from([0]), Buffer.from(key)]), "K"],
      [`C${key}\0Y`, "K"],
      ["C", `Y${key}\0K`],
    ];
    const seen = sets.map(([c, k]) => {
      writeFileSync(cert, c);
      writeFileSync(key, k);
      return sourceFingerprint(settings);
    });
    expect(new Set(seen).size).toBe(sets.length);
    // The digest is hex: a Buffer pasted into the text would turn bytes that are not UTF-8 into the same U+FFFD.
    for (const fingerprint of seen) expect(fingerprint).toMatch(/^[0-9a-f]{64}$/); // the settings digested too
  });

  it("no two file sets give one fingerprint: a separator inside a file, or a file holding what an error is written as", () => {
    const cert = join(dir, "framed.crt");
    const key = join(dir, "framed.key");
    const settings = settingsFor(cert, key);
    const sets: [string, string | undefined][] = [
      [`C\0${key}`, "K"],
      ["C", `${key}\0K`],
      ["C", undefined], // the key missing
      ["C", "error ENOENT"],
    ];
    const seen = sets.map(([c, k]) => {
      writeFileSync(cert, c);
      if (k === undefined) rmSync(key, { force: true });
      else writeFileSync(key, k);
      return sourceFingerprint(settings);
    });
    expect(new Set(seen).size).toBe(sets.length);
  });

  it("a file that cannot be read is not the same as an empty one, nor as one unreadable for another reason", () => {
    const cert = join(dir, "later.crt");
    const settings = settingsFor(cert);
    const missing = sourceFingerprint(settings); // ENOENT
    writeFileSync(cert, "");
    const empty = sourceFingerprint(settings);
    rmSync(cert);
    expect(empty).not.toBe(missing);
    expect(sourceFingerprint(settings)).toBe(missing);
    const under = settingsFor(join(dir, "parent", "c.crt"));
    const noParent = sourceFingerprint(under); // ENOENT
    writeFileSync(join(dir, "parent"), "x");
    expect(sourceFingerprint(under)).not.toBe(noParent); // ENOTDIR
  });

  it("reads a file of exactly 16 MiB, not one byte more: past the cap its identity stands for it", () => {
    // Renaming a copy with the same bytes over the file keeps a file read by content, and changes one known by inode.
    const fingerprintAcrossCopy = (size: number) => {
      const cert = join(dir, `big-${size}.crt`);
      const copy = `${cert}.new`;
      for (const path of [cert, copy]) {
        writeFileSync(path, "");
        truncateSync(path, size); // sparse: costs no disk
      }
      const before = sourceFingerprint(settingsFor(cert));
      renameSync(copy, cert);
      const after = sourceFingerprint(settingsFor(cert));
      rmSync(cert);
      return after === before;
    };
    expect(fingerprintAcrossCopy(MAX_INPUT_BYTES)).toBe(true);
    expect(fingerprintAcrossCopy(MAX_INPUT_BYTES + 1)).toBe(false);
  });

  it("frames each file by its length: a file's bytes cannot pass for where the next one begins", () => {
    const cert = join(dir, "lengths.crt");
    const key = join(dir, "lengths.key");
    const settings = settingsFor(cert, key);
    const seen = [["C[]", "K"], ["C", "[]K"]].map(([c, k]) => {
      writeFileSync(cert, c!);
      writeFileSync(key, k!);
      return sourceFingerprint(settings);
    });
    expect(seen[0]).not.toBe(seen[1]);
  });

  it("a file that says it is empty but holds bytes (/proc) is known by its identity, not taken for an empty file", () => {
    const cert = join(dir, "proc.crt");
    writeFileSync(join(dir, "empty"), "");
    symlinkSync(join(dir, "empty"), cert);
    const empty = sourceFingerprint(settingsFor(cert));
    rmSync(cert);
    symlinkSync("/proc/self/status", cert);
    expect(sourceFingerprint(settingsFor(cert))).not.toBe(empty);
    rmSync(cert);
  });

  it("a socket is known by its identity, never opened (that fails): another socket at the name is a change", async () => {
    const cert = join(dir, "socket.crt");
    const listen = () => new Promise<Server>((resolve) => { const server = createServer().listen(cert, () => resolve(server)); });
    const fingerprints: string[] = [];
    for (let i = 0; i < 2; i++) {
      const server = await listen();
      fingerprints.push(sourceFingerprint(settingsFor(cert)));
      await new Promise((resolve) => server.close(resolve));
    }
    expect(fingerprints[0]).not.toBe(fingerprints[1]);
  });

  it("zeroes the bytes it read from each file once digested (a PIN file's too)", () => {
    const cert = join(dir, "zeroed.crt");
    writeFileSync(cert, "certificate bytes");
    reads.length = 0;
    sourceFingerprint(settingsFor(cert));
    expect(reads.map((bytes) => bytes.length)).toContain(17); // and AWS_CA_BUNDLE's file, if set
    expect(reads.every((bytes) => bytes.every((b) => b === 0))).toBe(true);
  });
});
