/**
 * The byte-level PEM decoder (src/encoding/pem.ts) and its readers' wipes: what the string decoder refused stays
 * refused, its messages stay, and no copy of a key file's base64 or decoded DER is left in a buffer that is not zero.
 */
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodePemBlocks, encodePem } from "../../src/encoding/pem.js";
import { keyMaterialFromFile } from "../../src/signers/file/key-material.js";
import { Secret } from "../../src/secrets/secret.js";
import { noCertificateError, parseCertificateBytes, readCertificateBundle } from "../../src/x509/read-certificates.js";
import { createSigner } from "../../src/signers/factory.js";
import { buffersMadeBy } from "../helpers/copies-made.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-pem-bytes-");
afterAll(cleanup);
const ca = createCa(dir, { name: "pem-bytes-ca" });

const holding = (made: Buffer[], der: Buffer) => made.filter((b) => b.length >= der.length && b.indexOf(der) >= 0);

/** A private key's DER that no parser takes (valid base64, garbage DER), and an EC key's real DER. */
const GARBAGE = Buffer.from(Array.from({ length: 48 }, (_, i) => (i * 53 + 7) & 0xff));
const keyDer = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "der" });

describe("decodePemBlocks refuses what the string decoder refused", () => {
  it("an END marker that is the BEGIN line's own dashes is no END line (an empty block was not read)", () => {
    expect(() => decodePemBlocks(Buffer.from("-----BEGIN CERTIFICATE-----END CERTIFICATE-----\n"), "f"))
      .toThrow("could not parse PEM data in f: a PEM block labelled \"CERTIFICATE\" has no END line");
  });

  it("a BEGIN that shares its dashes with the END marker before it starts no block", () => {
    const body = "QUJD";
    const text = `-----BEGIN A-----\n${body}\n-----END A-----BEGIN A-----\n${body}\n-----END A-----\n`;
    expect(decodePemBlocks(Buffer.from(text), "f").map((b) => b.label)).toEqual(["A"]);
  });

  it("a header running up to the END marker at the end of the file: read as a header (encrypted), not a hang", () => {
    const text = "-----BEGIN X-----\nProc-Type: 4,ENCRYPTED-----END X-----";
    expect(() => decodePemBlocks(Buffer.from(text), "f")).toThrow("f: a PEM block labelled \"X\" is encrypted (Proc-Type: 4,ENCRYPTED), which is not supported");
  });

  it("names a block it cannot quote (65 characters) generically, with the hint to export it again", () => {
    const label = "L".repeat(65);
    expect(() => decodePemBlocks(`-----BEGIN ${label}-----\nAAAA\n`, "f")).toThrow(expect.objectContaining({
      code: "PEM_INVALID", message: "could not parse PEM data in f: a PEM block has no END line",
      hint: "the file may be truncated or edited; export it again",
    }));
    expect(() => decodePemBlocks(`-----BEGIN ${label}-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END ${label}-----\n`, "f")).toThrow(
      expect.objectContaining({ code: "PEM_INVALID", message: "f: a PEM block is encrypted (Proc-Type: 4,ENCRYPTED), which is not supported" }),
    );
  });
});

describe("no copy of a key left", () => {
  it("decoding a file's bytes copies neither them nor the base64 into another buffer", async () => {
    const pem = Buffer.from(encodePem("PRIVATE KEY", keyDer));
    const base64 = Buffer.from(keyDer.toString("base64").slice(0, 40));
    const { made, result } = await buffersMadeBy(() => decodePemBlocks(pem, "k.pem"));
    expect(result![0]!.der).toEqual(keyDer);
    expect(holding(made, base64)).toEqual([]);
  });

  it("a block's DER is held in a buffer of at most 3/4 of its body (not a multiple: a 16 MiB file stays ~12 MiB)", () => {
    const pem = Buffer.from(encodePem("PRIVATE KEY", keyDer));
    const [block] = decodePemBlocks(pem, "k.pem");
    expect(block!.der.buffer.byteLength).toBeGreaterThanOrEqual(keyDer.length);
    expect(block!.der.buffer.byteLength).toBeLessThanOrEqual(Math.ceil((pem.length * 3) / 4));
  });

  it("a body refused as not base64 leaves what was decoded of it zero", async () => {
    const text = `-----BEGIN PRIVATE KEY-----\n${GARBAGE.toString("base64")}*\n-----END PRIVATE KEY-----\n`;
    const { made, error } = await buffersMadeBy(() => decodePemBlocks(Buffer.from(text), "k.pem"));
    expect(error).toMatchObject({ code: "PEM_INVALID", message: expect.stringContaining("is not valid base64") });
    expect(made.length).toBeGreaterThan(0);
    expect(made.filter((b) => b.some((x) => x !== 0) && b.indexOf(GARBAGE.subarray(0, 8)) >= 0)).toEqual([]);
  });

  it("a PEM key file refused by its parser: its decoded DER zero", async () => {
    const bytes = Buffer.from(encodePem("PRIVATE KEY", GARBAGE));
    const { made, error } = await buffersMadeBy(() => keyMaterialFromFile(bytes, "k.pem", async () => Secret.fromUtf8("x")));
    expect(error).toMatchObject({ code: expect.any(String) });
    expect(holding(made, GARBAGE)).toEqual([]);
  });

  it("readers that want certificates or labels zero a key's DER in the same file", async () => {
    const both = Buffer.concat([Buffer.from(ca.certPem), Buffer.from(encodePem("PRIVATE KEY", keyDer))]);
    const keyOnly = Buffer.from(encodePem("PRIVATE KEY", keyDer));
    const path = join(dir, "bundle.pem");
    writeFileSync(path, both);
    const runs = [
      await buffersMadeBy(() => parseCertificateBytes(both, "both.pem")),
      await buffersMadeBy(() => noCertificateError("key.pem", keyOnly)),
      await buffersMadeBy(() => readCertificateBundle(path)),
    ];
    expect(runs[0]!.result).toHaveLength(1);
    expect(runs[1]!.result).toMatchObject({ message: 'could not parse PEM data: key.pem holds no CERTIFICATE block but a PEM block labelled "PRIVATE KEY"' });
    expect(runs[2]!.error).toMatchObject({ code: expect.any(String) });
    for (const [i, run] of runs.entries()) expect(holding(run.made, keyDer), `reader ${i}`).toEqual([]);
  });

  it("a certificate file holding its key, opened with no key given: every buffer of the key's DER zero once open", async () => {
    const leaf = issueLeaf(ca, dir, { name: "pem-bytes-leaf" });
    const keyPem = readFileSync(leaf.keyPath, "latin1");
    const der = Buffer.from(keyPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    const path = join(dir, "leaf-and-key.pem");
    writeFileSync(path, `${leaf.certPem}${keyPem}`, { mode: 0o600 });
    const { made, result, error } = await buffersMadeBy(() => createSigner({ certificate: path }));
    expect(error).toBeUndefined();
    await result!.close();
    // Before the wipe in holdsPrivateKey: the DER its look for a key label decoded stayed in a buffer.
    expect(holding(made, der)).toEqual([]);
  });
});
