import { chownSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  aboutToUseSecret, beforeFirstSecretRead, heldValue, parseSecretSource, readSecret, SecretReadAhead,
} from "../../src/secrets/secret-source.js";
import { InputError, UsageError } from "../../src/errors.js";
import { MAX_INPUT_BYTES } from "../../src/io/read-opened-file.js";

const dir = mkdtempSync(join(tmpdir(), "raa-secret-source-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseSecretSource", () => {
  it("decodes a local file: URI", () => {
    expect(parseSecretSource("file:///run/a%20b", "P: ")).toEqual({ kind: "file", path: "/run/a b" });
    expect(parseSecretSource("file://localhost/run/p", "P: ")).toEqual({ kind: "file", path: "/run/p" });
  });

  it("refuses a file: URI that names no local file with an input error, not an internal one", () => {
    for (const uri of ["file://otherhost/x", "file:///a%2Fb", "file:///tmp/%zz"]) {
      let error: unknown;
      try {
        parseSecretSource(uri, "P: ");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).toOneLine()).toBe(
        `${uri} names no local file (another host, an encoded / or a bad %-escape) (write file:/path or file:///path)`,
      );
    }
  });
});

describe("parseSecretSource: a source with no name", () => {
  it.each([
    ["env:", 'TPM parent password: "env:" names no environment variable'],
    ["file:", 'TPM parent password: "file:" names no file'],
  ])("%s is a usage error naming the secret, not a read of variable or file ''", (text, message) => {
    let error: unknown;
    try {
      parseSecretSource(text, "TPM parent password: ");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).toOneLine()).toBe(`${message} (write env:NAME, file:/path or prompt)`);
  });
});

describe("parseSecretSource from JavaScript", () => {
  it.each([[1234], [undefined], [{ kind: "env", name: "X" }]])("%j is a usage error, not a TypeError", (text) => {
    expect(() => parseSecretSource(text as never, "PIN: ")).toThrow(UsageError);
  });
});

describe("readSecret: a source built wrongly in JavaScript", () => {
  it.each([
    ["an empty variable name", { kind: "env", name: "" }],
    ["an empty path", { kind: "file", path: "" }],
    ["a number as the value", { kind: "value", value: 1234 }],
    ["a number as the path", { kind: "file", path: 5 }],
    ["an unknown kind", { kind: "secret", value: "hunter2" }],
    ["null", null],
  ])("%s is a usage error naming the secret, never the value", async (_, source) => {
    const error = await readSecret(source as never, "PKCS#11 PIN", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toBe(
      'PKCS#11 PIN: a secret source must be { kind: "file", path } or { kind: "env", name } with a non-empty path or name',
    );
  });
});

describe("readSecret from an environment variable", () => {
  it("drops one trailing newline, as for a file (a Kubernetes Secret made --from-file keeps the file's)", async () => {
    // Before: "1234\n" went to the token as the PIN: CKR_PIN_INCORRECT, one try of its counter gone.
    const read = async (value: string) => (await readSecret({ kind: "env", name: "PIN" }, "PKCS#11 PIN", { PIN: value })).reveal();
    expect(await read("1234\n")).toBe("1234");
    expect(await read("1234\r\n")).toBe("1234");
    expect(await read("1234\n\n")).toBe("1234\n"); // one, as for a file
    expect(await read(" 12 34 ")).toBe(" 12 34 ");
    expect((await readSecret({ kind: "value", value: "1234\n" }, "PKCS#11 PIN")).reveal()).toBe("1234\n"); // typed: as given
  });

  it("ends as a file with the same bytes does, whatever the line ending", async () => {
    // Before: a lone CR (a value pasted from a Windows editor) was dropped from a file but presented from a variable.
    for (const ending of ["", "\n", "\r\n", "\r", "\n\n", "\n\r", "\r\r", "\r\n\r\n"]) {
      const path = join(dir, "ending");
      writeFileSync(path, `1234${ending}`, { mode: 0o600 });
      const fromFile = (await readSecret({ kind: "file", path }, "PKCS#11 PIN")).reveal();
      const fromEnv = (await readSecret({ kind: "env", name: "PIN" }, "PKCS#11 PIN", { PIN: `1234${ending}` })).reveal();
      expect(fromEnv, JSON.stringify(ending)).toBe(fromFile);
    }
  });
});

describe("readSecret: bytes that are not UTF-8", () => {
  it("an env: or given value Node.js decoded with U+FFFD is refused, never presented as a PIN or password", async () => {
    // `P=$'p\xe4zq7'` (a Latin-1 shell) reaches process.env as "p\uFFFDzq7": before, that PIN went to the token
    // (CKR_PIN_INCORRECT, one try of the counter gone) or the key (a wrong password).
    for (const [source, named] of [
      [{ kind: "env", name: "P" }, "environment variable P"],
      [{ kind: "value", value: "p\uFFFDzq7" }, "a value given directly"],
      [heldValue("p\uFFFDzq7"), "a value given directly"], // a flag's or the SDK's value, as parsed (held otherwise)
    ] as const) {
      const error = await readSecret(source, "PKCS#11 PIN", { P: "p\uFFFDzq7" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(error).toMatchObject({ code: "INPUT_INVALID", message: `PKCS#11 PIN: ${named} holds bytes that are not UTF-8` });
      expect((error as InputError).toOneLine()).not.toContain("zq7");
    }
    const latin1 = join(dir, "latin1-pin");
    writeFileSync(latin1, Buffer.from("70e47373", "hex"));
    expect((await readSecret({ kind: "file", path: latin1 }, "PKCS#11 PIN")).use((b) => b.toString("hex"))).toBe("70e47373");
    expect((await readSecret({ kind: "env", name: "P" }, "PKCS#11 PIN", { P: "pässwörd" })).reveal()).toBe("pässwörd");
  });
});

describe("readSecret from a file", () => {
  it("a file too large for a secret gets the reader's own message, not a bare code", async () => {
    const huge = join(dir, "huge");
    writeFileSync(huge, "", { mode: 0o600 });
    truncateSync(huge, MAX_INPUT_BYTES + 1); // sparse: costs no disk
    for (const path of [huge, "/dev/zero"]) {
      const error = await readSecret({ kind: "file", path }, "password for enc.pem").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).message).toBe(`password for enc.pem: file ${path} holds more than 16 MiB`);
    }
  });

  // CI runs as root, which can hand a file to another user; elsewhere there is no other user's file to make.
  it.runIf(process.getuid?.() === 0)("warns about a 0600 PIN file of another user (who can change it to a wrong PIN)", async () => {
    const pin = join(dir, "pin-of-nobody");
    writeFileSync(pin, "1234\n", { mode: 0o600 });
    chownSync(pin, 65534, 65534);
    const warnings: string[] = [];
    const listener = (w: Error) => warnings.push(w.message);
    process.on("warning", listener);
    try {
      expect((await readSecret({ kind: "file", path: pin }, "PKCS#11 PIN")).reveal()).toBe("1234");
      await new Promise((r) => setImmediate(r)); // process warnings are emitted on the next tick
      chownSync(pin, 0, 0); // root's own file: no warning
      await readSecret({ kind: "file", path: pin }, "PKCS#11 PIN");
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", listener);
    }
    expect(warnings).toEqual([`PKCS#11 PIN: file ${pin} belongs to another user (uid 65534), who can change it: run chown 0 ${pin}`]);
  });

  it("refuses a file saved with a byte-order mark or as UTF-16 (Windows editors), never presenting it as a PIN", async () => {
    // Before: the mark's bytes (or every other byte NUL) went to the token as part of the PIN: CKR_PIN_INCORRECT, one
    // try of the counter gone, and a message that the PIN the editor shows as right was wrong.
    for (const [bytes, mark] of [
      [Buffer.from("\ufeff123456\r\n", "utf8"), "UTF-8"],
      [Buffer.from("\ufeff123456", "utf16le"), "UTF-16"],
      [Buffer.from("\ufeff123456", "utf16le").swap16(), "UTF-16"],
    ] as const) {
      const path = join(dir, "pin-with-bom");
      writeFileSync(path, bytes, { mode: 0o600 });
      const error = await readSecret({ kind: "file", path }, "PKCS#11 PIN").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      const why = mark === "UTF-8" ? "starts with a UTF-8 byte-order mark; it was not used" : "is UTF-16 text";
      const hint = mark === "UTF-8" ? "save it as UTF-8 without one (printf '%s' SECRET > FILE)" : expect.stringMatching(/^save it as UTF-8, e\.g\. iconv /);
      expect(error).toMatchObject({ code: "INPUT_INVALID", message: `PKCS#11 PIN: file ${path} ${why}`, hint });
      expect((error as InputError).toOneLine()).not.toContain("123456");
    }
  });

  it("reads a binary password that starts with the bytes of a UTF-16 mark (no NUL after them) as it is", async () => {
    // Before the mark needed its NUL: 2 random passwords in 65,536 (head -c 32 /dev/urandom) were refused as UTF-16.
    const path = join(dir, "binary-password");
    // fffec300, feff00c3: a NUL after the mark, but its character would not be ASCII (PEM, JSON and PINs are).
    for (const start of ["fffe41", "feff4142", "fffec300", "feff00c3"]) {
      const bytes = Buffer.concat([Buffer.from(start, "hex"), Buffer.from("rest")]);
      writeFileSync(path, bytes, { mode: 0o600 });
      const secret = await readSecret({ kind: "file", path }, "key password");
      expect(secret.use((b) => b.equals(bytes)), start).toBe(true);
    }
  });

  it("reads a file named - or env:X as that file, never standard input or the environment", async () => {
    writeFileSync(join(dir, "-"), "dash\n", { mode: 0o600 });
    writeFileSync(join(dir, "env:P"), "colon\n", { mode: 0o600 });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect((await readSecret({ kind: "file", path: "-" }, "the PIN", { P: "env" })).reveal()).toBe("dash");
      expect((await readSecret({ kind: "file", path: "env:P" }, "the PIN", { P: "env" })).reveal()).toBe("colon");
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("a run's read-ahead of a secret file (SecretReadAhead, by path)", () => {
  it("runs the before-first-secret hook first: one that refuses (an open inspector) refuses the read-ahead", async () => {
    const path = join(dir, "ahead-hook");
    writeFileSync(path, "1234");
    beforeFirstSecretRead(() => {
      throw new Error("inspector open");
    });
    try {
      await expect(new SecretReadAhead().read({ kind: "file", path }, "PKCS#11 PIN")).rejects.toThrow("inspector open");
    } finally {
      beforeFirstSecretRead(() => {});
      aboutToUseSecret();
    }
  });

  it("reads a path once: a second read-ahead of it is the first's, which the next readSecret within lend takes, and a later one reads the file again", async () => {
    const path = join(dir, "ahead-once");
    writeFileSync(path, "1111\n");
    const ahead = new SecretReadAhead();
    const first = await ahead.read({ kind: "file", path }, "PKCS#11 PIN");
    writeFileSync(path, "2222\n");
    expect(await ahead.read({ kind: "file", path }, "PKCS#11 PIN")).toBe(first);
    const [taken, later] = await ahead.lend(async () => [
      (await readSecret({ kind: "file", path }, "PKCS#11 PIN")).reveal(), (await readSecret({ kind: "file", path }, "PKCS#11 PIN")).reveal(),
    ]);
    expect(taken).toBe("1111"); // the read's, not the name's
    expect(first.bytes.every((b) => b === 0)).toBe(true);
    expect(later).toBe("2222"); // taken once
  });

  it("is taken only within its lend: not by a readSecret outside it, nor within another store's", async () => {
    const path = join(dir, "ahead-owned");
    writeFileSync(path, "5555");
    const ahead = new SecretReadAhead();
    await ahead.read({ kind: "file", path }, "PKCS#11 PIN");
    writeFileSync(path, "6666");
    expect((await readSecret({ kind: "file", path }, "PKCS#11 PIN")).reveal()).toBe("6666");
    const other = new SecretReadAhead();
    expect(await other.lend(async () => (await readSecret({ kind: "file", path }, "PKCS#11 PIN")).reveal())).toBe("6666");
    expect(await ahead.lend(async () => (await readSecret({ kind: "file", path }, "PKCS#11 PIN")).reveal())).toBe("5555");
  });

  it("wipe wipes what no readSecret took, and a readSecret within its lend then reads the file; a read after it is refused, wiped", async () => {
    const path = join(dir, "ahead-drop");
    writeFileSync(path, "3333");
    const ahead = new SecretReadAhead();
    const read = await ahead.read({ kind: "file", path }, "PKCS#11 PIN");
    ahead.wipe();
    expect(read.bytes.every((b) => b === 0)).toBe(true);
    writeFileSync(path, "4444");
    expect(await ahead.lend(async () => (await readSecret({ kind: "file", path }, "PKCS#11 PIN")).reveal())).toBe("4444");
    await expect(ahead.read({ kind: "file", path }, "PKCS#11 PIN")).rejects.toThrow("read ahead after its run ended");
  });

  it("is lent for the call alone: a timer made within it (AsyncLocalStorage carries the loan there) takes nothing once the call settled, and what it left is wiped then", async () => {
    const path = join(dir, "ahead-lent-once");
    writeFileSync(path, "7777");
    const ahead = new SecretReadAhead();
    const read = await ahead.read({ kind: "file", path }, "PKCS#11 PIN");
    writeFileSync(path, "8888");
    let fired: (pin: string) => void;
    const timerRead = new Promise<string>((resolve) => (fired = resolve));
    let settled = false;
    await ahead.lend(async () => {
      // Made within the loan, run after it (a signer's socket handler, a retry timer): the loan's context is its.
      setTimeout(() => {
        expect(settled).toBe(true);
        void readSecret({ kind: "file", path }, "PKCS#11 PIN").then((s) => fired(s.reveal()));
      }, 0);
    });
    settled = true;
    expect(await timerRead).toBe("8888"); // was 7777: the read ahead, taken after the call had settled
    // Was: kept until the run's wipe(), after doctor's endpoint, DNS and CreateSession rows.
    expect(read.bytes.every((b) => b === 0)).toBe(true);
    ahead.wipe();
  });

  it("a signer that fails to open leaves nothing either: what it did not take is wiped as the call rejects", async () => {
    // Round 38 (M42): the wipe after a resolved call only (not in `finally`) survived every test.
    const path = join(dir, "ahead-lent-failed");
    writeFileSync(path, "9999");
    const ahead = new SecretReadAhead();
    const read = await ahead.read({ kind: "file", path }, "PKCS#11 PIN");
    await expect(ahead.lend(async () => {
      throw new Error("the token is gone");
    })).rejects.toThrow("the token is gone");
    expect(read.bytes.every((b) => b === 0)).toBe(true);
    await expect(ahead.read({ kind: "file", path }, "PKCS#11 PIN")).rejects.toThrow("read ahead after its run ended");
  });
});
