import { afterAll, describe, expect, it, vi } from "vitest";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { startTlsServer } from "../../src/serve/tls-files.js";
import { secretVolume, servedSerial } from "../helpers/secret-volume.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { copiesHolding } from "../helpers/copies-made.js";
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { loadKeyFile } from "../../src/signers/file/key-material.js";
import type { InputError } from "../../src/errors.js";
import { encodePem } from "../../src/encoding/pem.js";
import { derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { TAG, children, readSingle } from "../../src/encoding/der.js";
import { generateMlDsaKeyPair, mlDsaPkcs8Der } from "../helpers/mldsa-pki.js";
import { pkcs8V2Pem } from "../helpers/pkcs8-v2.js";

// The real reader, with a hook run before the key file is read: where a ..data swap can fall between the two reads.
const hook = vi.hoisted(() => ({ beforeKeyRead: undefined as (() => void) | undefined }));
vi.mock("../../src/io/input-file.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/io/input-file.js")>();
  return {
    ...real,
    readInputFile: (path: string, what: string) => {
      const run = hook.beforeKeyRead;
      if (what === "TLS private key file" && run) {
        hook.beforeKeyRead = undefined;
        run();
      }
      return real.readInputFile(path, what);
    },
  };
});

const { dir, cleanup } = makeTempDir("raa-tls-files-");
afterAll(cleanup);
const ca = createCa(join(dir, "ca"), { name: "Endpoint CA" });
const pair = (name: string, keyType?: "rsa2048" | "p384") => {
  const leaf = issueLeaf(ca, join(dir, "certs"), { name, keyType, extensions: ["basicConstraints=critical,CA:FALSE", "subjectAltName=IP:127.0.0.1"] });
  return { ...leaf, files: { "tls.crt": readFileSync(leaf.certPath, "utf8"), "tls.key": readFileSync(leaf.keyPath, "utf8") } };
};

describe("the TLS certificate's files, re-read when they change", () => {
  it("reads the pair again when a rotation fell between reading the certificate and the key (before: never)", async () => {
    // Before: the torn pair (certificate of one generation, key of the next) failed and the files' stamps, by then
    // those of the next, complete pair, were remembered as failing: that pair was never loaded, and the old
    // certificate served until it expired.
    const [one, two, three] = [pair("one"), pair("two"), pair("three")];
    const vol = join(dir, "tls");
    secretVolume(vol, one.files, 1);
    const lines: string[] = [];
    const paths = { certificate: join(vol, "tls.crt"), key: join(vol, "tls.key") };
    const { server, stop } = await startTlsServer(paths, (_req, res) => res.end(), (l) => lines.push(l), 20);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await servedSerial(port, ca.certPem)).toBe(one.serialDecimal);
      hook.beforeKeyRead = () => secretVolume(vol, three.files, 3);
      secretVolume(vol, two.files, 2);
      for (let i = 0; i < 100 && !lines.some((l) => /reloaded from/.test(l)); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await servedSerial(port, ca.certPem)).toBe(three.serialDecimal);
      expect(lines.filter((l) => /not reloaded/.test(l))).toEqual([]);
    } finally {
      stop();
      server.close();
    }
  });
});

describe("the TLS files' checks and failures", () => {
  it("refuses to start with a certificate file holding no certificate, or a key file holding no key", async () => {
    const { certPath, keyPath } = pair("checks");
    const junk = join(dir, "junk.pem");
    writeFileSync(junk, "-----BEGIN NOTHING-----\n-----END NOTHING-----\n", { mode: 0o600 });
    const start = (paths: { certificate: string; key: string }) => startTlsServer(paths, () => {}, () => {});
    await expect(start({ certificate: junk, key: keyPath })).rejects.toMatchObject({
      code: "CERTIFICATE_INVALID",
      message: `TLS certificate file ${junk} holds no PEM or DER certificate`,
    });
    // The file signer's words for the same file (before: serve's own, "holds no unencrypted PEM or DER private key").
    const signers = (await loadKeyFile(junk, {}).catch((e: unknown) => e)) as InputError;
    expect(signers).toMatchObject({ code: "PRIVATE_KEY_INVALID", message: `unable to parse private key: ${junk} holds no private key` });
    await expect(start({ certificate: certPath, key: junk })).rejects.toMatchObject({ code: signers.code, message: signers.message });
  });

  it("keeps the certificate when its files cannot be found, says so once, and again after they came back", async () => {
    const { files } = pair("moved");
    const home = join(dir, "moved");
    mkdirSync(home);
    const paths = { certificate: join(home, "tls.crt"), key: join(home, "tls.key") };
    writeFileSync(paths.certificate, files["tls.crt"]);
    writeFileSync(paths.key, files["tls.key"], { mode: 0o600 });
    const lines: string[] = [];
    const { stop } = await startTlsServer(paths, () => {}, (l) => lines.push(l), 10);
    const ticks = () => new Promise((r) => setTimeout(r, 100));
    const kept = /^TLS certificate not reloaded, the previous one is kept: .*tls\.crt/;
    const said = () => lines.filter((l) => kept.test(l));
    try {
      renameSync(paths.certificate, `${paths.certificate}.away`);
      await ticks();
      expect(said()).toHaveLength(1);
      // Put back as they were (same inode and mtime): the files in use, not a reload; a later failure is news.
      renameSync(`${paths.certificate}.away`, paths.certificate);
      await ticks();
      expect([said().length, lines.some((l) => /reloaded from/.test(l))]).toEqual([1, false]);
      renameSync(paths.certificate, `${paths.certificate}.away`);
      await ticks();
      expect(said()).toHaveLength(2);
    } finally {
      stop();
    }
  });
});

describe("the TLS key's bytes, wiped once the TLS context holds its own copy (round 35; before: kept)", () => {
  // A line of the key's PEM body: every buffer made while reading it (the file's read) must hold it no more.
  const secretOf = (keyPem: string) => Buffer.from(keyPem.split("\n")[1]!);
  const start = (paths: { certificate: string; key: string }, intervalMs?: number) =>
    startTlsServer(paths, (_req, res) => res.end(), () => {}, intervalMs);

  it("accepted: the server serves the pair, and no buffer made reading it holds the key", async () => {
    const one = pair("wiped-one");
    // The key node:crypto exports for the TLS context: a Buffer made in C++, which copiesHolding does not see.
    const privateKeys = Object.getPrototypeOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey) as KeyObject;
    const exported: Buffer[] = [];
    const exportOf = privateKeys.export;
    const spy = vi.spyOn(privateKeys, "export").mockImplementation(function (this: KeyObject, ...a: unknown[]) {
      const out = (exportOf as (...a: unknown[]) => unknown).apply(this, a);
      if (Buffer.isBuffer(out)) exported.push(out);
      return out;
    } as never);
    const { result, left } = await copiesHolding(secretOf(one.files["tls.key"]), () => start({ certificate: one.certPath, key: one.keyPath })).finally(() =>
      spy.mockRestore(),
    );
    const { server, stop } = result;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      expect(await servedSerial((server.address() as AddressInfo).port, ca.certPem)).toBe(one.serialDecimal);
      expect(left).toBe(0);
      expect([exported.length > 0, exported.every((b) => b.every((x) => x === 0))]).toEqual([true, true]);
    } finally {
      stop();
      server.close();
    }
  });

  it("accepted: a certificate file holding the key too (`cat key crt`, given to both flags or to --tls-certificate alone): no buffer made reading it holds the key", async () => {
    // Round 36 (S31): before, the certificate file's bytes were kept whole (the server's `cert`), its key block with them.
    const one = pair("wiped-combined");
    const combined = join(dir, "combined.pem");
    writeFileSync(combined, `${one.files["tls.key"]}${one.files["tls.crt"]}`, { mode: 0o600 });
    for (const paths of [{ certificate: combined, key: combined }, { certificate: combined, key: one.keyPath }]) {
      const { result, left } = await copiesHolding(secretOf(one.files["tls.key"]), () => start(paths));
      const { server, stop } = result;
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      try {
        expect(await servedSerial((server.address() as AddressInfo).port, ca.certPem)).toBe(one.serialDecimal);
        expect(left).toBe(0);
      } finally {
        stop();
        server.close();
      }
    }
  });

  it("refused: a key of another pair, a key that does not parse, a certificate that does not parse, a chain Node's TLS refuses", async () => {
    const [one, two] = [pair("wiped-mine"), pair("wiped-other")];
    const torn = join(dir, "torn.key");
    writeFileSync(torn, one.files["tls.key"].replace(/\n-----END/, "!\n-----END"), { mode: 0o600 });
    const junk = join(dir, "not-a-cert.pem");
    writeFileSync(junk, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    // A chain whose second block is no certificate: X509Certificate reads the first only, Node's TLS all (before: its Error).
    const badChain = join(dir, "bad-chain.pem");
    writeFileSync(badChain, `${one.files["tls.crt"]}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    for (const [paths, code] of [
      [{ certificate: two.certPath, key: one.keyPath }, "KEY_CERTIFICATE_MISMATCH"],
      [{ certificate: one.certPath, key: torn }, "PEM_INVALID"],
      [{ certificate: junk, key: one.keyPath }, "CERTIFICATE_INVALID"],
      [{ certificate: badChain, key: one.keyPath }, "CERTIFICATE_INVALID"],
    ] as const) {
      const { result, left } = await copiesHolding(secretOf(one.files["tls.key"]), () => start(paths).then(() => undefined, (e: unknown) => e));
      expect([(result as { code?: string }).code, left]).toEqual([code, 0]);
    }
  });

  it("replaced: the new key read on a reload, and one refused on a reload", async () => {
    const [one, two, three] = [pair("reload-one"), pair("reload-two"), pair("reload-three")];
    const vol = join(dir, "wiped-tls");
    secretVolume(vol, one.files, 1);
    const lines: string[] = [];
    const paths = { certificate: join(vol, "tls.crt"), key: join(vol, "tls.key") };
    const { server, stop } = await startTlsServer(paths, (_req, res) => res.end(), (l) => lines.push(l), 20);
    const saidAgain = async (line: RegExp) => {
      const before = lines.filter((l) => line.test(l)).length;
      for (let i = 0; i < 100 && lines.filter((l) => line.test(l)).length === before; i++) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      const reloaded = await copiesHolding(secretOf(two.files["tls.key"]), () => {
        secretVolume(vol, two.files, 2);
        return saidAgain(/reloaded from/);
      });
      const refused = await copiesHolding(secretOf(three.files["tls.key"]), () => {
        secretVolume(vol, { "tls.crt": one.files["tls.crt"], "tls.key": three.files["tls.key"] }, 3);
        return saidAgain(/not reloaded.*does not belong/);
      });
      expect(lines.map((l) => l.replace(/ from .*| \/.*/, ""))).toEqual(["TLS certificate reloaded", "TLS certificate not reloaded, the previous one is kept: TLS private key"]);
      expect([reloaded.left, refused.left]).toEqual([0, 0]);
    } finally {
      stop();
      server.close();
    }
  });
});

describe(`the TLS key, read by the file signer's reader (round 35), Node ${process.versions.node}`, () => {
  /** The public key's BIT STRING content (unused-bits byte, then the key). */
  const publicBits = (key: KeyObject) => children(readSingle(createPublicKey(key).export({ type: "spki", format: "der" }), TAG.SEQUENCE))[1]!.content;
  const write = (name: string, pem: string) => {
    writeFileSync(join(dir, name), pem, { mode: 0o600 });
    return join(dir, name);
  };

  // RSA and P-384: a PKCS#8 DER whose length is not a multiple of 3 (the PEM given to TLS ends in padding).
  it.each(["rsa2048", "p384"] as const)("takes a PKCS#8 version 2 %s key with its [1] publicKey under every Node (before: refused under Node 20)", async (type) => {
    const one = pair(`v2-${type}`, type);
    const paths = { certificate: one.certPath, key: write("v2.key", pkcs8V2Pem(one.files["tls.key"])) };
    const { server, stop } = await startTlsServer(paths, (_req, res) => res.end(), () => {});
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      expect(await servedSerial((server.address() as AddressInfo).port, ca.certPem)).toBe(one.serialDecimal);
    } finally {
      stop();
      server.close();
    }
  });

  it("an Ed25519 or RSA-PSS key: refused with the keys a TLS key may be, not IAM Roles Anywhere's (round 36, S31; before: that hint)", async () => {
    const one = pair("not-rsa-ec");
    for (const type of ["ed25519", "rsa-pss"] as const) {
      const { privateKey } = type === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("rsa-pss", { modulusLength: 2048 });
      const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
      const key = write(`${type}.key`, pem);
      await expect(startTlsServer({ certificate: one.certPath, key }, (_req, res) => res.end(), () => {})).rejects.toMatchObject({
        code: "PRIVATE_KEY_UNSUPPORTED",
        message: expect.stringMatching(new RegExp(`^private key type (Ed25519|RSA-PSS) in ${key} is not supported$`)),
        hint: "a TLS key is an RSA or ECDSA key (P-256, P-384, P-521): give one and its certificate",
      });
    }
  });

  it("a key block of another kind (OpenSSH's, DSA's): the keys a TLS key may be, not IAM Roles Anywhere's (round 36, S32; before: that hint, ML-DSA in it)", async () => {
    const one = pair("other-block");
    const body = Buffer.from(one.files["tls.key"].split("\n").slice(1, -2).join(""), "base64");
    for (const label of ["OPENSSH PRIVATE KEY", "DSA PRIVATE KEY"]) {
      const key = write(`${label.split(" ")[0]}.key`, encodePem(label, body));
      await expect(startTlsServer({ certificate: one.certPath, key }, (_req, res) => res.end(), () => {})).rejects.toMatchObject({
        code: "PRIVATE_KEY_UNSUPPORTED",
        message: `${key} holds a PEM block labelled "${label}", which is not supported`,
        hint: "a TLS key is an RSA or ECDSA key (P-256, P-384, P-521), as PKCS#8, SEC1 or PKCS#1 PEM/DER: give one and its certificate",
      });
    }
  });

  it("a key under legacy OpenSSL PEM encryption: told to give it unencrypted, not to convert it to encrypted PKCS#8 (round 36, S32; before: that, refused in turn)", async () => {
    const one = pair("legacy-encrypted");
    const pem = createPrivateKey(one.files["tls.key"]).export({ type: "sec1", format: "pem", cipher: "aes-256-cbc", passphrase: "x" }) as string;
    const key = write("legacy.key", pem);
    await expect(startTlsServer({ certificate: one.certPath, key }, (_req, res) => res.end(), () => {})).rejects.toMatchObject({
      code: "PRIVATE_KEY_UNSUPPORTED",
      message: `${key} uses legacy OpenSSL PEM encryption, which is not supported`,
      hint: "a TLS key is read without a password: give it unencrypted (`openssl pkey -in KEY -out NEW`), readable by the serving user only",
    });
  });

  it("refuses what the signer refuses: an EC key storing the certificate's public point beside another scalar (before: served, every handshake failing)", async () => {
    const one = pair("stolen-point");
    const [version, scalar, params] = children(readSingle(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "der" }), TAG.SEQUENCE));
    const certPoint = derTlv(0xa1, derTlv(TAG.BIT_STRING, publicBits(createPrivateKey(one.files["tls.key"]))));
    const path = write("stolen-point.key", encodePem("EC PRIVATE KEY", derSequence(version!.raw, scalar!.raw, params!.raw, certPoint)));
    const signers = (await loadKeyFile(path, {}).catch((e: unknown) => e)) as InputError;
    expect(signers).toMatchObject({ code: "PRIVATE_KEY_INVALID", message: expect.stringMatching(/not the public half of its P-256 private scalar/) });
    await expect(startTlsServer({ certificate: one.certPath, key: path }, () => {}, () => {})).rejects.toMatchObject({ code: signers.code, message: signers.message });
  });

  it("refuses an encrypted key in the signer's words, with a hint for serve", async () => {
    const one = pair("encrypted");
    const pem = createPrivateKey(one.files["tls.key"]).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }) as string;
    const path = write("encrypted.key", pem);
    await expect(startTlsServer({ certificate: one.certPath, key: path }, () => {}, () => {})).rejects.toMatchObject({
      code: "PASSWORD_REQUIRED",
      message: `${path} holds an encrypted private key and no password was given`,
      hint: expect.stringMatching(/^a TLS key is read without a password/),
    });
  });

  it("refuses an ML-DSA key, which Node's TLS cannot take, naming it", async () => {
    const one = pair("ml-dsa");
    const path = write("ml-dsa.key", encodePem("PRIVATE KEY", mlDsaPkcs8Der(generateMlDsaKeyPair("ML-DSA-65"), "seed")));
    await expect(startTlsServer({ certificate: one.certPath, key: path }, () => {}, () => {})).rejects.toMatchObject({
      code: "PRIVATE_KEY_UNSUPPORTED",
      message: `TLS private key file ${path} holds an ML-DSA-65 key, which Node's TLS does not take`,
    });
  });
});

describe("round 36 mutation (M41): which changes reload, what a failure says and how often", () => {
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 150 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  };
  /** A server on plain files (not a Secret volume: one file can change alone), logging into `lines`. */
  async function serving(name: string, files: { "tls.crt": string; "tls.key": string }) {
    const home = join(dir, name);
    mkdirSync(home);
    const paths = { certificate: join(home, "tls.crt"), key: join(home, "tls.key") };
    writeFileSync(paths.certificate, files["tls.crt"]);
    writeFileSync(paths.key, files["tls.key"], { mode: 0o600 });
    const lines: string[] = [];
    const { server, stop } = await startTlsServer(paths, (_req, res) => res.end(), (l) => lines.push(l), 20);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const replace = (file: "certificate" | "key", text: string) => {
      writeFileSync(`${paths[file]}.new`, text, { mode: 0o600 });
      renameSync(`${paths[file]}.new`, paths[file]);
    };
    return { paths, lines, replace, port: (server.address() as AddressInfo).port, close: () => (stop(), server.close()) };
  }

  it("a renewed certificate for the same key (the key file unchanged) is reloaded (`every` → `some` survived)", async () => {
    const one = pair("renew-one");
    const renewed = issueLeaf(ca, join(dir, "certs"), { name: "renew-two", keyPath: one.keyPath, extensions: ["basicConstraints=critical,CA:FALSE", "subjectAltName=IP:127.0.0.1"] });
    const s = await serving("renew", one.files);
    try {
      s.replace("certificate", renewed.certPem);
      await until(() => s.lines.some((l) => /reloaded from/.test(l)));
      expect(await servedSerial(s.port, ca.certPem)).toBe(renewed.serialDecimal);
    } finally {
      s.close();
    }
  });

  // Round 38 (T3): the renewals that keep the key, as the tools that make them write them, each seen by a connection made
  // after the reload, with the log's own line; the connection before it got the old certificate.
  it.each([
    ["written over in place, the same inode (`step ca renew --force`)", "in-place"],
    ["a link switched to a new file, the key's link left alone (certbot's live/ → archive/ with --reuse-key)", "certbot"],
  ] as const)("a certificate renewed for the same key, %s: reloaded, logged, served to the next connection", async (_how, how) => {
    const one = pair(`renew-${how}`);
    const renewed = issueLeaf(ca, join(dir, "certs"), { name: `renewed-${how}`, keyPath: one.keyPath, extensions: ["basicConstraints=critical,CA:FALSE", "subjectAltName=IP:127.0.0.1"] });
    const home = join(dir, `renew-${how}`);
    mkdirSync(join(home, "archive"), { recursive: true });
    mkdirSync(join(home, "live"));
    const paths = { certificate: join(home, "live", "cert.pem"), key: join(home, "live", "privkey.pem") };
    writeFileSync(join(home, "archive", "cert1.pem"), one.files["tls.crt"]);
    writeFileSync(join(home, "archive", "privkey1.pem"), one.files["tls.key"], { mode: 0o600 });
    symlinkSync("../archive/cert1.pem", paths.certificate);
    symlinkSync("../archive/privkey1.pem", paths.key);
    const lines: string[] = [];
    const { server, stop } = await startTlsServer(paths, (_req, res) => res.end(), (l) => lines.push(l), 20);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await servedSerial(port, ca.certPem)).toBe(one.serialDecimal);
      if (how === "in-place") {
        writeFileSync(join(home, "archive", "cert1.pem"), renewed.certPem);
      } else {
        writeFileSync(join(home, "archive", "cert2.pem"), renewed.certPem);
        symlinkSync("../archive/cert2.pem", `${paths.certificate}.new`);
        renameSync(`${paths.certificate}.new`, paths.certificate);
      }
      await until(() => lines.some((l) => /reloaded from/.test(l)));
      const validTo = new X509Certificate(renewed.certPem).validTo;
      expect(lines.filter((l) => /reloaded from/.test(l))).toEqual([`TLS certificate reloaded from ${paths.certificate} (valid until ${validTo})`]);
      expect(await servedSerial(port, ca.certPem)).toBe(renewed.serialDecimal);
    } finally {
      stop();
      server.close();
    }
  });

  it("a pair that fails is said once while it stays; fixing only the key then reloads it (the failed stamps' check survived)", async () => {
    const [one, two, three] = [pair("once-one"), pair("once-two"), pair("once-three")];
    const s = await serving("once", one.files);
    const failed = () => s.lines.filter((l) => /not reloaded.*does not belong/.test(l));
    try {
      s.replace("certificate", two.files["tls.crt"]); // two's certificate, one's key
      await until(() => failed().length > 0);
      await new Promise((r) => setTimeout(r, 300)); // 15 more checks of the same files
      expect(failed()).toHaveLength(1);
      s.replace("key", two.files["tls.key"]);
      await until(() => s.lines.some((l) => /reloaded from/.test(l)));
      expect(await servedSerial(s.port, ca.certPem)).toBe(two.serialDecimal);
      // A key swapped while the pair is read: the failure (of a pair no longer on disk) is not said for it; the pair on
      // disk then is read at the next check and said once (before the mutant: twice, the first for the torn pair).
      hook.beforeKeyRead = () => s.replace("key", three.files["tls.key"]);
      s.replace("certificate", one.files["tls.crt"]);
      await until(() => failed().length > 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(failed()).toHaveLength(2);
    } finally {
      hook.beforeKeyRead = undefined;
      s.close();
    }
  });

  it("files gone while a changed pair is read: the failure is said, the server keeps serving (a stat failing then was a TypeError)", async () => {
    const [one, two] = [pair("gone-one"), pair("gone-two")];
    const s = await serving("gone", one.files);
    try {
      hook.beforeKeyRead = () => {
        rmSync(s.paths.certificate);
        rmSync(s.paths.key);
      };
      s.replace("certificate", two.files["tls.crt"]);
      await until(() => s.lines.length > 0);
      expect(s.lines[0]).toMatch(new RegExp(`^TLS certificate not reloaded, the previous one is kept: .*TLS private key file.*${s.paths.key}`));
      expect(await servedSerial(s.port, ca.certPem)).toBe(one.serialDecimal);
    } finally {
      hook.beforeKeyRead = undefined;
      s.close();
    }
  });

  it("names the file it cannot find or read: the certificate at the start, either at a check", async () => {
    const one = pair("named");
    const missing = join(dir, "no-such.crt");
    await expect(startTlsServer({ certificate: missing, key: one.keyPath }, () => {}, () => {})).rejects.toThrow(/TLS certificate file/);
    const s = await serving("named", one.files);
    try {
      rmSync(s.paths.key);
      await until(() => s.lines.length > 0);
      expect(s.lines[0]).toMatch(/TLS private key file/);
      s.replace("key", one.files["tls.key"]);
      await until(() => s.lines.length > 1); // reloaded: a later failure is news
      rmSync(s.paths.certificate);
      await until(() => s.lines.length > 2);
      expect(s.lines.slice(1)).toEqual([expect.stringMatching(/^TLS certificate reloaded/), expect.stringMatching(/TLS certificate file/)]);
    } finally {
      s.close();
    }
  });

  it("each refusal's hint and cause", async () => {
    const [one, two] = [pair("words-one"), pair("words-two")];
    const badChain = join(dir, "words-chain.pem");
    writeFileSync(badChain, `${one.files["tls.crt"]}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    const junk = join(dir, "words-junk.pem");
    writeFileSync(junk, "not a certificate\n");
    const refusal = (certificate: string, key: string) => startTlsServer({ certificate, key }, () => {}, () => {}).then(() => undefined, (e: unknown) => e as InputError);
    expect(await refusal(two.certPath, one.keyPath)).toMatchObject({
      code: "KEY_CERTIFICATE_MISMATCH", hint: "give the key and the certificate of the same pair (tls.key and tls.crt of one Secret)",
    });
    const chain = await refusal(badChain, one.keyPath);
    expect(chain).toMatchObject({
      code: "CERTIFICATE_INVALID", message: expect.stringMatching(new RegExp(`^TLS certificate file ${badChain} is not usable: .+`)),
      hint: "give the certificate first, then its intermediate CA certificates, each a PEM CERTIFICATE block",
    });
    expect((chain as InputError).cause).toBeInstanceOf(Error);
    expect(((await refusal(junk, one.keyPath)) as InputError).cause).toBeInstanceOf(Error);
    const mlDsa = join(dir, "words-ml-dsa.key");
    writeFileSync(mlDsa, encodePem("PRIVATE KEY", mlDsaPkcs8Der(generateMlDsaKeyPair("ML-DSA-44"), "seed")), { mode: 0o600 });
    expect(await refusal(one.certPath, mlDsa)).toMatchObject({ code: "PRIVATE_KEY_UNSUPPORTED", hint: "give an RSA or ECDSA key and its certificate" });
  });

  it("a key file whose warning throws (a --throw-deprecation-like hook, a full stderr) is wiped all the same", async () => {
    const one = pair("warn-throws");
    const exposed = join(dir, "warn-throws.key");
    writeFileSync(exposed, one.files["tls.key"], { mode: 0o644 });
    const spy = vi.spyOn(process, "emitWarning").mockImplementation(() => {
      throw new Error("the warning could not be written");
    });
    try {
      const { result, left } = await copiesHolding(Buffer.from(one.files["tls.key"].split("\n")[1]!), () =>
        startTlsServer({ certificate: one.certPath, key: exposed }, () => {}, () => {}).then(() => undefined, (e: unknown) => e),
      );
      expect([(result as Error).message, left]).toEqual(["the warning could not be written", 0]);
    } finally {
      spy.mockRestore();
    }
  });
});
