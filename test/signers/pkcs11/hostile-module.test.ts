/**
 * What a buggy or hostile PKCS#11 module answers, through the real binding wrapper (src/pkcs11/binding.ts) over a
 * stand-in for pkcs11js's native addon: return codes thrown as `Error("CKR_NAME:decimal")`, output functions
 * returning the length written. Each answer must end in one clear line and the right exit code, never a hang,
 * never an "internal error", never a retried C_Login. (native-test/pkcs11-*.test.ts run real modules.)
 */
import { createPrivateKey, createSign, generateKeyPairSync, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { pkcs11Class } from "../../../src/pkcs11/binding.js";
import { beforeFirstSecretRead } from "../../../src/secrets/secret-source.js";
import { CKA, CKF, CKK, CKM, CKO } from "../../../src/pkcs11/constants.js";
import type { AgentError } from "../../../src/errors.js";
import type { RolesAnywhereProviderOptions } from "../../../src/sdk/index.js";
import { derBitString, derOid, derSequence, derTlv } from "../../../src/encoding/der-writer.js";
import { rsaPublicKey } from "../../../src/encoding/public-key.js";
import { NAMED_CURVES } from "../../../src/encoding/signature-encoding.js";
import { createCa, issueLeaf, makeTempDir } from "../../helpers/pki.js";
import { workOf } from "../../helpers/work-counted.js";
import { ARNS } from "../../local-endpoint/support.js";

/** A token object: its attributes by CKA number. */
type Attributes = Map<number, Buffer>;

interface FakeToken {
  slots: Buffer[];
  label: string;
  flags: number;
  objects: Attributes[];
  keys: Map<number, KeyObject>;
  mechanisms: number[];
  calls: string[];
  /** Object indexes (0-based) whose C_GetAttributeValue fails with this `CKR_NAME:code`. */
  unreadable: Map<number, string>;
  /** Replaces a call's behaviour: throw or return something else. */
  override: Record<string, (...args: unknown[]) => unknown>;
}

const ulong = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

let token: FakeToken;

/** A C_CreateObject or C_GenerateKeyPair template as the object's attributes. */
function templateAttributes(template: unknown): Attributes {
  const bytes = (value: unknown) =>
    typeof value === "number" ? ulong(value) : typeof value === "boolean" ? Buffer.from([value ? 1 : 0]) : Buffer.from(value as Buffer);
  return new Map((template as { type: number; value: unknown }[]).map(({ type, value }) => [type, bytes(value)]));
}

class FakeNative {
  #found: Buffer[] = [];

  #call(name: string, args: unknown[], normal: () => unknown): unknown {
    token.calls.push(name);
    const override = token.override[name];
    return override ? override(...args) : normal();
  }

  load(...a: unknown[]) {
    return this.#call("load", a, () => undefined);
  }
  close(): void {}
  C_Initialize(...a: unknown[]) {
    return this.#call("C_Initialize", a, () => undefined);
  }
  C_Finalize(...a: unknown[]) {
    return this.#call("C_Finalize", a, () => undefined);
  }
  C_GetInfo(...a: unknown[]) {
    return this.#call("C_GetInfo", a, () => ({
      manufacturerID: "Fake".padEnd(32),
      libraryDescription: "Fake module".padEnd(32),
      libraryVersion: { major: 1, minor: 0 },
      cryptokiVersion: { major: 2, minor: 40 },
    }));
  }
  C_GetSlotList(...a: unknown[]) {
    return this.#call("C_GetSlotList", a, () => token.slots);
  }
  C_GetSlotInfo(...a: unknown[]) {
    return this.#call("C_GetSlotInfo", a, () => ({ slotDescription: "Fake slot".padEnd(64), manufacturerID: "Fake".padEnd(32), flags: 1 }));
  }
  C_GetTokenInfo(...a: unknown[]) {
    return this.#call("C_GetTokenInfo", a, () => ({
      label: token.label.padEnd(32),
      manufacturerID: "Fake".padEnd(32),
      model: "F1".padEnd(16),
      serialNumber: "0001".padEnd(16),
      flags: token.flags,
    }));
  }
  C_GetMechanismList(...a: unknown[]) {
    return this.#call("C_GetMechanismList", a, () => token.mechanisms);
  }
  C_OpenSession(...a: unknown[]) {
    return this.#call("C_OpenSession", a, () => ulong(1));
  }
  C_CloseSession(...a: unknown[]) {
    return this.#call("C_CloseSession", a, () => undefined);
  }
  C_Login(...a: unknown[]) {
    return this.#call("C_Login", a, () => undefined);
  }
  C_FindObjectsInit(...a: unknown[]) {
    return this.#call("C_FindObjectsInit", a, () => {
      const template = a[1] as { type: number; value: Buffer | number | string }[];
      const wanted = template.map(({ type, value }) => ({
        type,
        value: typeof value === "number" ? ulong(value) : Buffer.isBuffer(value) ? value : Buffer.from(value),
      }));
      this.#found = token.objects
        .map((attributes, i) => ({ attributes, handle: ulong(i + 1) }))
        .filter(({ attributes }) => wanted.every(({ type, value }) => attributes.get(type)?.equals(value)))
        .map(({ handle }) => handle);
    });
  }
  C_FindObjects(...a: unknown[]) {
    return this.#call("C_FindObjects", a, () => this.#found.splice(0, a[1] as number));
  }
  C_FindObjectsFinal(...a: unknown[]) {
    return this.#call("C_FindObjectsFinal", a, () => undefined);
  }
  C_GetAttributeValue(...a: unknown[]) {
    return this.#call("C_GetAttributeValue", a, () => {
      const index = Number((a[1] as Buffer).readBigUInt64LE(0)) - 1;
      const object = token.objects[index];
      if (object === undefined) throw new Error("CKR_OBJECT_HANDLE_INVALID:130");
      if (token.unreadable.has(index)) throw new Error(token.unreadable.get(index));
      const template = a[2] as { type: number }[];
      if (template.some(({ type }) => !object.has(type))) throw new Error("CKR_ATTRIBUTE_TYPE_INVALID:18");
      return template.map(({ type }) => ({ type, value: object.get(type) }));
    });
  }
  C_GenerateKeyPair(...a: unknown[]) {
    return this.#call("C_GenerateKeyPair", a, () => {
      throw new Error("CKR_FUNCTION_NOT_SUPPORTED:84");
    });
  }
  C_CreateObject(...a: unknown[]) {
    return this.#call("C_CreateObject", a, () => {
      token.objects.push(templateAttributes(a[1]));
      return ulong(token.objects.length);
    });
  }
  C_DestroyObject(...a: unknown[]) {
    return this.#call("C_DestroyObject", a, () => {
      token.objects[Number((a[1] as Buffer).readBigUInt64LE(0)) - 1] = new Map(); // the handles of the others stay
    });
  }
  C_SignInit(...a: unknown[]) {
    return this.#call("C_SignInit", a, () => {
      const index = Number((a[2] as Buffer).readBigUInt64LE(0)) - 1;
      if (!token.objects[index]?.get(CKA.CLASS)?.equals(ulong(CKO.PRIVATE_KEY))) throw new Error("CKR_KEY_TYPE_INCONSISTENT:99");
      this.#signing = { mechanism: (a[1] as { mechanism: number }).mechanism, key: Number((a[2] as Buffer).readBigUInt64LE(0)) - 1 };
    });
  }
  #signing: { mechanism: number; key: number } | undefined;
  C_Sign(...a: unknown[]) {
    return this.#call("C_Sign", a, () => {
      const { mechanism, key } = this.#signing!;
      const privateKey = token.keys.get(key)!;
      const data = a[1] as Buffer;
      const out = a[2] as Buffer;
      if (mechanism !== CKM.SHA256_RSA_PKCS) throw new Error("CKR_MECHANISM_INVALID:112");
      const signature = createSign("sha256").update(data).sign(privateKey);
      signature.copy(out);
      return signature.length;
    });
  }
}

vi.mock("../../../src/pkcs11/addon-status.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../../src/pkcs11/addon-status.js")>();
  return { ...real, requirePkcs11js: () => ({ PKCS11: pkcs11Class({ PKCS11: FakeNative }) }) };
});
const { runMain } = await import("../../helpers/run-main.js");
const { forgetRejectedSecrets } = await import("../../../src/secrets/rejected-secrets.js");
const { Secret } = await import("../../../src/secrets/secret.js");
const { createSigner } = await import("../../../src/signers/factory.js");
const { fromRolesAnywhere } = await import("../../../src/sdk/index.js");
const { Certificate, createPkcs11Signer, generateKeyOnToken, installOnToken, listPkcs11Certificates } =
  await import("../../../src/index.js");

const { dir, cleanup } = makeTempDir("raa-hostile-module-");
afterAll(cleanup);
const ca = createCa(join(dir, "ca"), { name: "Hostile Module CA" });
const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "device", keyType: "rsa2048" });
const leafDer = Buffer.from(leaf.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
const other = issueLeaf(ca, join(dir, "other"), { name: "other", keyType: "rsa2048" });
const otherDer = Buffer.from(other.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
const leafKey = createPrivateKey(readFileSync(leaf.keyPath));

/** The certificate and its RSA key as token objects with CKA_ID `id` and CKA_LABEL `label`. */
function keyObjects(id: string, label: string): { cert: Attributes; key: Attributes } {
  const jwk = leafKey.export({ format: "jwk" });
  const common = (cls: number) =>
    new Map<number, Buffer>([
      [CKA.CLASS, ulong(cls)],
      [CKA.ID, Buffer.from(id)],
      [CKA.LABEL, Buffer.from(label)],
    ]);
  const cert = common(CKO.CERTIFICATE);
  cert.set(CKA.VALUE, leafDer);
  const key = common(CKO.PRIVATE_KEY);
  key.set(CKA.KEY_TYPE, ulong(CKK.RSA)).set(CKA.SIGN, Buffer.from([1]));
  key.set(CKA.MODULUS, Buffer.from(jwk.n!, "base64url")).set(CKA.PUBLIC_EXPONENT, Buffer.from(jwk.e!, "base64url"));
  return { cert, key };
}

beforeEach(() => {
  vi.unstubAllEnvs();
  forgetRejectedSecrets(); // every case's stand-in token is "fake" with PIN 1234
  const { cert, key } = keyObjects("1", "device");
  token = {
    slots: [ulong(7)],
    label: "fake",
    flags: CKF.TOKEN_INITIALIZED | CKF.LOGIN_REQUIRED,
    objects: [cert, key],
    keys: new Map([[1, leafKey]]),
    mechanisms: [CKM.SHA256_RSA_PKCS],
    calls: [],
    unreadable: new Map(),
    override: {},
  };
});

/** The module's next `name` call does `once` instead (a token pulled out for one call), then it behaves again. */
function overrideOnce(name: string, once: () => unknown): void {
  token.override[name] = () => {
    delete token.override[name];
    return once();
  };
}
const pulledOut = () => {
  throw new Error("CKR_DEVICE_REMOVED:50");
};

const URI = "pkcs11:token=fake;object=device?pin-value=1234";

const run = (argv: readonly string[]) => runMain(argv, { CI: "true", XDG_RUNTIME_DIR: "/nonexistent" });

const signString = (extra: string[] = []) => run(["sign-string", "--certificate", URI, "--pkcs11-lib", "/fake/module.so", ...extra]);

describe("doctor's rows: what the token wrote is bounded", () => {
  it("two certificates of one CKA_ID with 1,000-byte CKA_LABELs: the ambiguous row is cut as an error line is (2,000 characters)", async () => {
    // Before: doctor printed the row's detail whole (printableLine, no bound): a line of over 2 MB on stdout (1 MiB
    // labels, which this fake module handed over whole; one above the 1 KiB bound is now left out), where the same
    // error on stderr (toOneLine) is cut at MAX_ERROR_TEXT.
    const { cert, key } = keyObjects("1", `device-${"L".repeat(1000)}`);
    const twin = new Map(cert).set(CKA.LABEL, Buffer.from(`twin-${"L".repeat(1000)}`)).set(CKA.VALUE, otherDer);
    token.objects = [cert, key, twin];
    const { stdout } = await run(["doctor", "--certificate", "pkcs11:token=fake;id=%31?pin-value=1234", "--pkcs11-lib", "/fake/module.so"]);
    const lines = stdout.split("\n");
    expect(lines.find((line) => line.includes("LLLL"))).toBeDefined();
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThan(2_100);
  });
});

describe("a module that answers CKR_OK with a value longer than the buffer given (this fake module does)", () => {
  it("a certificate object with a 1 MiB CKA_ID is left out as larger than its bound, not used whole", async () => {
    // Before: pkcs11js read such a value whole into a buffer of the length the module asked for, and it was used.
    const { cert, key } = keyObjects("1", "device");
    token.objects = [new Map(cert).set(CKA.ID, Buffer.alloc(1 << 20, 0x31)), key];
    const { code, stderr } = await signString();
    expect(code).toBe(3);
    expect(stderr).toMatch(/cannot be used: its CKA_ID is larger than 1024 bytes, which no certificate the agent can use is/);
  });
});

describe("doctor's rows for objects refused before any login", () => {
  it("two certificates of one CKA_ID: the key row fails, the login row says it was not tried (before: ✘ token login)", async () => {
    // An ambiguous certificate is found by a search without login; blaming the login sends an operator to the PIN.
    const { cert, key } = keyObjects("1", "device");
    const twin = new Map(cert).set(CKA.LABEL, Buffer.from("twin")).set(CKA.VALUE, otherDer);
    token.objects = [cert, key, twin];
    const { stdout } = await run(["doctor", "--certificate", "pkcs11:token=fake;id=%31?pin-value=1234", "--pkcs11-lib", "/fake/module.so"]);
    const row = (name: string) => stdout.split("\n").find((line) => line.includes(name)) ?? "";
    expect(row("token login")).toMatch(/not tried/);
    expect(row("token login")).not.toMatch(/✘/);
    expect(row("key and certificate on the token")).toMatch(/✘.*twin/);
    expect(token.calls).not.toContain("C_Login");
  });

  it("no certificate on either of two matching tokens (not looked for again after a login): the same", async () => {
    token.slots = [ulong(7), ulong(8)];
    const { stdout } = await run(["doctor", "--certificate", "pkcs11:token=fake;id=%39?pin-value=1234", "--pkcs11-lib", "/fake/module.so"]);
    const row = (name: string) => stdout.split("\n").find((line) => line.includes(name)) ?? "";
    expect(row("token login")).toMatch(/^– token login +not tried: the token's objects were refused first$/);
    expect(row("key and certificate on the token")).toMatch(/^✘ .*no certificate matches/);
    expect(token.calls).not.toContain("C_Login");
  });

  it("a refused PIN or a token not present: that row fails, the login is not called 'not tried'", async () => {
    token.override.C_Login = () => {
      throw new Error("CKR_PIN_INCORRECT:160");
    };
    const wrong = await run(["doctor", "--certificate", URI, "--pkcs11-lib", "/fake/module.so"]);
    const row = (stdout: string, name: string) => stdout.split("\n").find((line) => line.includes(name)) ?? "";
    expect(row(wrong.stdout, "token login")).toMatch(/^✘ token login +.*CKR_PIN_INCORRECT/);
    expect(row(wrong.stdout, "token present")).toMatch(/^✔ token present/);
    const absent = await run(["doctor", "--certificate", "pkcs11:token=absent;object=device?pin-value=1234", "--pkcs11-lib", "/fake/module.so"]);
    expect(row(absent.stdout, "token present")).toMatch(/^✘ token present/);
    expect(row(absent.stdout, "token login")).toMatch(/^– token login +not reached$/);
  });

  it("a PIN given by --pkcs11-pin-env (not in the URI): the login is tried, once", async () => {
    const argv = ["doctor", "--certificate", "pkcs11:token=fake;object=device", "--pkcs11-pin-env", "TOKEN_PIN", "--pkcs11-lib", "/fake/module.so"];
    vi.stubEnv("TOKEN_PIN", "1234"); // read from the process's environment, as the signer does
    const { stdout } = await runMain(argv, { CI: "true", XDG_RUNTIME_DIR: "/nonexistent" });
    expect(stdout).toMatch(/^✔ token login +logged in \(once\)$/m);
    expect(stdout).toMatch(/^✔ key opens /m);
    expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(1);
  });

  it("a private key missing after the login: the login row passes, the key row fails", async () => {
    token.objects = [token.objects[0]!];
    const { stdout } = await run(["doctor", "--certificate", URI, "--pkcs11-lib", "/fake/module.so"]);
    const row = (name: string) => stdout.split("\n").find((line) => line.includes(name)) ?? "";
    expect(row("token login")).toMatch(/^✔ token login/);
    expect(row("key and certificate on the token")).toMatch(/^✘ .*no RSA private key matches/);
    expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(1);
  });
});

describe("C_Sign's answer", () => {
  it("a well-formed signature is handed out", async () => {
    const { code, stdout, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatch(/^[0-9a-f]{512}$/);
  });

  const wrong = (length: number, fill: number) => (_session: unknown, _data: unknown, out: unknown) => {
    (out as Buffer).fill(fill, 0, length);
    return length;
  };
  it.each([
    ["empty", wrong(0, 0)],
    ["10 bytes", wrong(10, 1)],
    ["one byte short", wrong(255, 1)],
    ["all zeros", wrong(256, 0)],
    ["of the right length but wrong", wrong(256, 0x5a)],
  ])("a signature that is %s is never handed out", async (_, sign) => {
    token.override.C_Sign = sign;
    const { code, stdout, stderr } = await signString();
    expect(stderr).toMatch(
      /^roles-anywhere-agent: the token's signature with pkcs11:.*type=private \(\d+ bytes\) does not verify with the certificate's public key; it was not used \(the PKCS#11 module returned a wrong signature: check the token and its module\)\n$/,
    );
    expect(code).toBe(5);
    expect(stdout).toBe("");
  });
});

describe("C_Sign's answer without a certificate (sign-string --private-key alone)", () => {
  // The key's public key is then the token's (its public key object, or the private key's CKA_MODULUS): every signature
  // is checked against it. Before: handed out unchecked, a zeroed or faulty one too (an RSA signature made with a fault
  // gives the key's factors to whoever sees it).
  const keyOnly = () => run(["sign-string", "--private-key", URI, "--pkcs11-lib", "/fake/module.so"]);
  it("a well-formed signature is handed out (control)", async () => {
    const { code, stdout, stderr } = await keyOnly();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatch(/^[0-9a-f]{512}$/);
  });
  it.each([
    ["all zeros", 0],
    ["of the right length but wrong", 0x5a],
  ])("a signature that is %s is never handed out", async (_, fill) => {
    token.override.C_Sign = (_session: unknown, _data: unknown, out: unknown) => ((out as Buffer).fill(fill, 0, 256), 256);
    const { code, stdout, stderr } = await keyOnly();
    expect(stderr).toMatch(/^roles-anywhere-agent: the token's signature with pkcs11:.*type=private \(256 bytes\) does not verify with the key's public key; it was not used/);
    expect(code).toBe(5);
    expect(stdout).toBe("");
  });
  it("a key whose public key the token does not show is signed with (nothing to check the signature with)", async () => {
    token.objects[1]!.set(CKA.MODULUS, Buffer.alloc(256)); // a modulus of zeros shows no public key
    const { code, stdout, stderr } = await keyOnly();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatch(/^[0-9a-f]{512}$/);
  });
});

describe("a token that cannot search certificates by CKA_SUBJECT", () => {
  it("the chain is found by reading every certificate object instead", async () => {
    const intermediate = createCa(join(dir, "ca"), { name: "Hostile Module Intermediate", parent: ca });
    const device = issueLeaf(intermediate, join(dir, "chained"), { name: "chained", keyType: "rsa2048" });
    const der = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const key = createPrivateKey(readFileSync(device.keyPath));
    const jwk = key.export({ format: "jwk" });
    token.objects[0]!.set(CKA.VALUE, der(device.certPem));
    const [modulus, exponent] = [jwk.n!, jwk.e!].map((v) => Buffer.from(v, "base64url"));
    token.objects[1]!.set(CKA.MODULUS, modulus!).set(CKA.PUBLIC_EXPONENT, exponent!);
    token.keys = new Map([[1, key]]);
    const caObject = new Map<number, Buffer>([[CKA.CLASS, ulong(CKO.CERTIFICATE)]]);
    caObject.set(CKA.LABEL, Buffer.from("intermediate"));
    caObject.set(CKA.ID, Buffer.from("9")).set(CKA.VALUE, der(readFileSync(intermediate.certPath, "utf8")));
    token.objects.push(caObject);
    // The module's search, but refusing a template with CKA_SUBJECT.
    let found: Buffer[] = [];
    token.override.C_FindObjectsInit = (_session, template) => {
      const wanted = template as { type: number; value: Buffer | number | string }[];
      if (wanted.some((a) => a.type === CKA.SUBJECT)) throw new Error("CKR_ATTRIBUTE_TYPE_INVALID:18");
      const bytes = (v: Buffer | number | string) =>
        typeof v === "number" ? ulong(v) : Buffer.isBuffer(v) ? v : Buffer.from(v);
      found = token.objects
        .map((attributes, i) => ({ attributes, handle: ulong(i + 1) }))
        .filter(({ attributes }) => wanted.every(({ type, value }) => attributes.get(type)?.equals(bytes(value))))
        .map(({ handle }) => handle);
    };
    token.override.C_FindObjects = (_session, count) => found.splice(0, count as number);
    const { code, stderr } = await signString(["--debug"]);
    expect(stderr).toContain("debug: pkcs11: chain from the token: CN=Hostile Module Intermediate\n");
    expect(code).toBe(0);
  });
});

describe("a token that will not use the key for signing", () => {
  it.each([
    ["CKR_KEY_FUNCTION_NOT_PERMITTED:104", "CKR_KEY_FUNCTION_NOT_PERMITTED (0x68)"],
    ["CKR_MECHANISM_INVALID:112", "CKR_MECHANISM_INVALID (0x70)"],
  ])("%s: the key cannot sign, says which key, exit 5", async (ckr, shown) => {
    token.override.C_SignInit = () => {
      throw new Error(ckr);
    };
    const { code, stdout, stderr } = await signString();
    expect(stderr).toContain(`roles-anywhere-agent: the private key "device" cannot sign: the token refused: ${shown}`);
    expect([code, stdout]).toEqual([5, ""]);
  });
});

describe("C_FindObjects's answer", () => {
  it("a search that never ends (the same batch again and again) is stopped", async () => {
    let calls = 0;
    token.override.C_FindObjects = (_session, count) => {
      // Far beyond the limit: the unfixed code read on until memory ran out.
      if (++calls > 2_000) throw new Error("CKR_GENERAL_ERROR:5");
      return Array.from({ length: count as number }, () => ulong(2));
    };
    const { code, stdout, stderr } = await signString();
    expect(stderr).toBe(
      'roles-anywhere-agent: searching token "fake" (serial 0001) found more than 10000 objects' +
        " (its PKCS#11 module keeps answering C_FindObjects: check the module)\n",
    );
    expect(code).toBe(5);
    expect(stdout).toBe("");
    expect(token.calls.filter((c) => c === "C_FindObjectsFinal")).toHaveLength(token.calls.filter((c) => c === "C_FindObjectsInit").length);
  });

  it("a handle found twice (a module bug) is one object: not two certificates that nothing tells apart", async () => {
    let all: Buffer[] = [];
    token.override.C_FindObjectsInit = (_session, template) => {
      const cls = (template as { type: number; value: unknown }[]).find((t) => t.type === CKA.CLASS)?.value;
      all = cls === CKO.CERTIFICATE ? [ulong(1), ulong(1)] : cls === CKO.PRIVATE_KEY ? [ulong(2), ulong(2)] : [ulong(1), ulong(2), ulong(1)];
    };
    token.override.C_FindObjects = (_session, count) => all.splice(0, count as number);
    const { code, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const listed = await run(["read-certificate-data", "--certificate", "pkcs11:token=fake", "--pkcs11-lib", "/fake/module.so"]);
    expect(listed.stdout.match(/^URI: /gm)).toHaveLength(1);
  });

  it("thousands of objects are read", async () => {
    for (let i = 0; i < 3000; i++) token.objects.push(keyObjects(`c${i}`, `c${i}`).cert);
    const { code, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

describe("C_GetAttributeValue's answer", () => {
  it.each([["CKR_DEVICE_REMOVED", 0x32], ["CKR_TOKEN_NOT_PRESENT", 0xe0], ["CKR_SESSION_HANDLE_INVALID", 0xb3]])(
    "%s (the token went away while it was read) is a device error, not 'no certificate matches'",
    async (name, code) => {
      token.override.C_GetAttributeValue = () => {
        throw new Error(`${name}:${code}`);
      };
      const result = await signString();
      expect(result.stderr).toBe(`roles-anywhere-agent: reading token "fake" (serial 0001) failed: ${name} (0x${code.toString(16).toUpperCase()})\n`);
      expect(result.code).toBe(5);
    },
  );

  // CKR_USER_NOT_LOGGED_IN: a private object's attributes before the login (isSessionLost counts it as lost otherwise).
  it.each([["CKR_OBJECT_HANDLE_INVALID:130"], ["CKR_ATTRIBUTE_SENSITIVE:17"], ["CKR_USER_NOT_LOGGED_IN:257"]])("%s on one object skips that object", async (error) => {
    token.objects.unshift(keyObjects("2", "device").cert); // handle 1: a second certificate, which cannot be read
    token.keys = new Map([[2, leafKey]]);
    token.unreadable.set(1, error);
    const { code, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

describe("keys sharing a CKA_ID and a label", () => {
  it("two keys that show no public key, neither the certificate's: one test signature each, each listed once", async () => {
    token.objects[0]!.set(CKA.VALUE, otherDer);
    token.objects[1]!.delete(CKA.MODULUS);
    const { key } = keyObjects("1", "device");
    key.delete(CKA.MODULUS);
    token.objects.push(key);
    token.keys.set(2, leafKey);
    const { code, stderr } = await signString();
    const uri = "pkcs11:id=%31;manufacturer=Fake;model=F1;object=device;serial=0001;token=fake;type=private";
    expect(stderr).toBe(
      'roles-anywhere-agent: no private key on token "fake" (serial 0001) matches the certificate (CN=other); keys checked:' +
        ` ${uri} ${uri} (point --private-key at the key the certificate was issued for)\n`,
    );
    expect(code).toBe(3);
    expect(token.calls.filter((c) => c === "C_Sign")).toHaveLength(2);
  });
});

describe("keys that show no public key: proved by a test signature each", () => {
  /** The certificate's key and another one, both with CKA_ID 1 and label "device", neither showing its modulus. */
  function twoHiddenKeys(): void {
    token.objects[1]!.delete(CKA.MODULUS);
    token.keys.set(1, createPrivateKey(readFileSync(other.keyPath)));
    const { key } = keyObjects("1", "device");
    key.delete(CKA.MODULUS);
    token.objects.push(key);
    token.keys.set(2, leafKey);
  }

  it("the second key's signature verifies with the certificate: it is the key that signs", async () => {
    twoHiddenKeys();
    const { code, stdout, stderr } = await signString(["--debug"]);
    expect(stderr).toMatch(/pkcs11: pkcs11:id=%31;.*type=private matches the certificate \(test signature\)\n/);
    expect(code).toBe(0);
    expect(stdout).not.toBe("");
    expect(token.calls.filter((c) => c === "C_Sign")).toHaveLength(3); // two key proofs, then the string
  });

  it("a test signature that fails (not for a login): the signing failure, exit 5, no other key tried", async () => {
    twoHiddenKeys();
    token.override.C_Sign = () => {
      throw new Error("CKR_DEVICE_ERROR:48");
    };
    const { code, stdout, stderr } = await signString();
    expect(stderr).toBe("roles-anywhere-agent: signing with device failed: CKR_DEVICE_ERROR (0x30)\n");
    expect([code, stdout]).toEqual([5, ""]);
    expect(token.calls.filter((c) => c === "C_Sign")).toHaveLength(1);
  });
});

describe("C_GetSlotList's answer", () => {
  it("no slot: no token is present", async () => {
    token.slots = [];
    const { code, stderr } = await signString();
    expect(stderr).toBe(
      "roles-anywhere-agent: no token matches pkcs11:object=device;token=fake" +
        " (no token is present: insert it, or check the module (/fake/module.so) and its configuration)\n",
    );
    expect(code).toBe(5);
  });

  it.each([["CKR_GENERAL_ERROR", 0x5], ["CKR_FUNCTION_FAILED", 0x6], ["CKR_DEVICE_ERROR", 0x30], ["CKR_HOST_MEMORY", 0x2]])(
    "%s is the module's failure, one line and exit 5, not 'no token is present' (which --wait-for-device waits out)",
    async (name, ckr) => {
      token.override.C_GetSlotList = () => {
        throw new Error(`${name}:${ckr}`);
      };
      // Counted, not timed: a pause between tries (1 s) throws before it is made.
      const pauses = { budget: 0, weigh: (_: unknown, [, ms]: unknown[]) => (Number(ms) >= 1_000 ? 1 : 0) };
      const { result: { code, stderr } } = await workOf(globalThis, "setTimeout", () => signString(["--wait-for-device", "30"]), pauses);
      expect(stderr).toBe(
        `roles-anywhere-agent: listing the slots of the PKCS#11 module /fake/module.so failed: ${name} (0x${ckr.toString(16).toUpperCase()})` +
          " (check the module's own configuration and logs; a smart-card module needs pcscd running)\n",
      );
      expect(code).toBe(5);
      expect(token.calls.filter((c) => c === "C_GetSlotList")).toHaveLength(1);
    },
  );

  it("doctor: a failed 'token present' row with the module's error", async () => {
    token.override.C_GetSlotList = () => {
      throw new Error("CKR_DEVICE_ERROR:48");
    };
    const { code, stdout } = await run(["doctor", "--certificate", "pkcs11:token=fake;object=device", "--pkcs11-lib", "/fake/module.so"]);
    expect(stdout).toMatch(/\n✘ token present +listing the slots of the PKCS#11 module \/fake\/module.so failed: CKR_DEVICE_ERROR \(0x30\)\n/);
    expect(code).not.toBe(0);
  });

  it.each([["CKR_TOKEN_NOT_PRESENT", 0xe0], ["CKR_DEVICE_REMOVED", 0x32]])("%s is no token present (yet)", async (name, ckr) => {
    token.override.C_GetSlotList = () => {
      throw new Error(`${name}:${ckr}`);
    };
    const { code, stderr } = await signString();
    expect(stderr).toMatch(/^roles-anywhere-agent: no token matches pkcs11:object=device;token=fake \(no token is present: /);
    expect(code).toBe(5);
  });

  it("the same slot twice is one token, not two that nothing tells apart", async () => {
    token.slots = [ulong(7), ulong(7)];
    const { code, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

describe("a key replaced while the token was away", () => {
  /** A private key that shows no public half, and its public-key object (how SoftHSM shows an EC key). */
  function withPublicKeyObject(key: KeyObject): void {
    const jwk = key.export({ format: "jwk" });
    const [, privateKey] = token.objects;
    privateKey!.delete(CKA.MODULUS);
    const publicKey = new Map<number, Buffer>([
      [CKA.CLASS, ulong(CKO.PUBLIC_KEY)],
      [CKA.ID, Buffer.from("1")],
      [CKA.KEY_TYPE, ulong(CKK.RSA)],
      [CKA.MODULUS, Buffer.from(jwk.n!, "base64url")],
      [CKA.PUBLIC_EXPONENT, Buffer.from(jwk.e!, "base64url")],
    ]);
    token.objects[2] = publicKey;
    token.keys.set(1, key);
  }

  it("is not signed with: the key is no longer on the token", async () => {
    withPublicKeyObject(leafKey);
    const signer = await createSigner({ certificate: URI, pkcs11: { library: "/fake/module.so" } });
    try {
      await signer.sign(Buffer.from("first"));
      withPublicKeyObject(createPrivateKey(readFileSync(other.keyPath)));
      overrideOnce("C_Sign", pulledOut);
      const error = await signer.sign(Buffer.from("second")).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "PKCS11_OBJECT_NOT_FOUND", message: expect.stringMatching(/^the key pkcs11:.* is no longer on token "fake"/) });
      expect(token.calls.filter((c) => c === "C_Sign")).toHaveLength(2);
    } finally {
      await signer.close?.();
    }
  });
});

describe("a key replaced while the token was away, on a signer without a certificate (sign-string, csr)", () => {
  it("is not signed with: a key of the same id and label whose modulus differs is another key", async () => {
    const signer = await createPkcs11Signer({ keyUri: "pkcs11:token=fake;object=device;type=private?pin-value=1234", library: "/fake/module.so" });
    try {
      await signer.sign(Buffer.from("first"));
      const otherKey = createPrivateKey(readFileSync(other.keyPath));
      token.objects[1]!.set(CKA.MODULUS, Buffer.from(otherKey.export({ format: "jwk" }).n!, "base64url"));
      token.keys.set(1, otherKey);
      overrideOnce("C_Sign", pulledOut);
      const error = await signer.sign(Buffer.from("second")).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "PKCS11_OBJECT_NOT_FOUND", message: expect.stringMatching(/^the key pkcs11:.* is no longer on token "fake"/) });
      expect(token.calls.filter((c) => c === "C_Sign")).toHaveLength(2);
    } finally {
      await signer.close();
    }
  });
});

describe("a key URI that matches two tokens", () => {
  it("the key is taken from the token the certificate was found on; with no such token, refused", async () => {
    token.slots = [ulong(7), ulong(8)];
    token.override.C_GetTokenInfo = (slot) => ({
      label: "fake".padEnd(32),
      manufacturerID: "Fake".padEnd(32),
      model: "F1".padEnd(16),
      serialNumber: ((slot as Buffer).readBigUInt64LE(0) === 7n ? "0001" : "0002").padEnd(16),
      flags: token.flags,
    });
    const certificate = "pkcs11:token=fake;serial=0002;object=device?pin-value=1234";
    const signed = await run([
      "sign-string", "--certificate", certificate, "--private-key", URI, "--pkcs11-lib", "/fake/module.so", "--debug",
    ]);
    const key = "pkcs11:id=%31;manufacturer=Fake;model=F1;object=device;serial=0002;token=fake;type=private";
    expect(signed.stderr).toContain(`\ndebug: pkcs11: using ${key}\n`);
    expect(signed.code).toBe(0);
    // The certificate from a file: nothing says which token's key.
    const file = await run(["sign-string", "--certificate", leaf.certPath, "--private-key", URI, "--pkcs11-lib", "/f"]);
    expect(file.stderr).toMatch(/^roles-anywhere-agent: pkcs11:object=device;token=fake matches 2 tokens:/);
    expect(file.code).toBe(3);
  });
});

describe("a module that fails C_GetSlotList once after the token went away", () => {
  it("is re-initialised and the signature is made, as when it lists no slot", async () => {
    const signer = await createSigner({ certificate: URI, pkcs11: { library: "/fake/module.so" } });
    try {
      await signer.sign(Buffer.from("first"));
      overrideOnce("C_Sign", pulledOut);
      overrideOnce("C_GetSlotList", () => {
        throw new Error("CKR_GENERAL_ERROR:5");
      });
      expect((await signer.sign(Buffer.from("second"))).length).toBe(256);
      expect(token.calls.filter((c) => c === "C_Initialize")).toHaveLength(2);
    } finally {
      await signer.close?.();
    }
  });
});

describe("a signer sharing its module with one that re-initialised it", () => {
  it("opens a new session and logs in again: its session handle died with C_Finalize (and may name another's session now)", async () => {
    const a = await createSigner({ certificate: URI, pkcs11: { library: "/fake/module.so" } });
    const b = await createSigner({ certificate: URI, pkcs11: { library: "/fake/module.so" } });
    try {
      await a.sign(Buffer.from("a"));
      overrideOnce("C_Sign", pulledOut);
      overrideOnce("C_GetSlotList", () => []);
      await b.sign(Buffer.from("b")); // b finds no token, re-initialises the module, then finds it again
      expect(token.calls.filter((c) => c === "C_Initialize")).toHaveLength(2);
      const since = token.calls.length;
      await a.sign(Buffer.from("a again"));
      expect(token.calls.slice(since).filter((c) => /^C_(OpenSession|Login|Sign)$/.test(c))).toEqual(["C_OpenSession", "C_Login", "C_Sign"]);
    } finally {
      await a.close?.();
      await b.close?.();
    }
  });
});

describe("PINs held in memory (Secret buffers) are zeroed once no longer needed", () => {
  /** Every Secret made while `run` runs, with the text it was made with. */
  type Made = { text: string; wiped: () => boolean }[];
  async function secretsMadeBy(run: (made: Made) => Promise<void>): Promise<Made> {
    type Held = ReturnType<typeof Secret.fromUtf8>;
    const made: Made = [];
    const record = (secret: Held) => {
      made.push({ text: secret.reveal(), wiped: () => { try { secret.use(() => 0); return false; } catch { return true; } } });
      return secret;
    };
    const fromUtf8 = Secret.fromUtf8.bind(Secret);
    const fromBytes = Secret.fromBytes.bind(Secret);
    const clone = Object.getOwnPropertyDescriptor(Secret.prototype, "clone")!.value as (this: Held) => Held;
    const spies = [
      vi.spyOn(Secret, "fromUtf8").mockImplementation((text) => record(fromUtf8(text))),
      vi.spyOn(Secret, "fromBytes").mockImplementation((bytes) => record(fromBytes(bytes))),
      vi.spyOn(Secret.prototype, "clone").mockImplementation(function (this: Held) { return record(clone.call(this)); }),
    ];
    try {
      await run(made);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    return made;
  }

  it("an always-authenticate key's context PIN: after close()", async () => {
    token.objects[1]!.set(CKA.ALWAYS_AUTHENTICATE, Buffer.from([1]));
    vi.stubEnv("CTX", "5678"); // a PIN's { kind: "env" } is process.env's
    const made = await secretsMadeBy(async () => {
      const signer = await createPkcs11Signer({
        keyUri: URI, certificateUri: URI, library: "/fake/module.so", contextPin: { kind: "env", name: "CTX" },
      });
      await signer.sign(Buffer.from("one"));
      await signer.close();
    });
    const context = made.filter((m) => m.text === "5678");
    expect(context.length).toBeGreaterThan(0);
    expect(context.filter((m) => !m.wiped())).toHaveLength(0);
    expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(2); // the user's, then context-specific before the signature
  });

  it("with --reuse-pin but a key that needs no context PIN: the user PIN, once the signer is built", async () => {
    vi.stubEnv("PIN", "4321");
    const made = await secretsMadeBy(async (sofar) => {
      const signer = await createPkcs11Signer({
        keyUri: "pkcs11:token=fake;object=device", library: "/fake/module.so", reusePin: true, pin: { kind: "env", name: "PIN" },
      });
      await signer.sign(Buffer.from("one"));
      expect(sofar.filter((m) => m.text === "4321" && !m.wiped())).toHaveLength(0);
      await signer.close();
    });
    expect(made.filter((m) => m.text === "4321").length).toBeGreaterThan(0);
  });
});

describe("a key whose CKA_SIGN cannot be read", () => {
  it("is tried: the token says at C_SignInit whether it may sign", async () => {
    token.objects[1]!.delete(CKA.SIGN);
    const { code, stderr } = await signString();
    expect([code, stderr]).toEqual([0, ""]);
  });
});

describe("a CKA_PUBLIC_KEY_INFO of an RSA key above 16384 bits", () => {
  it("is no public key of the token's (as with CKA_MODULUS): a signer without a certificate shows none", async () => {
    const modulus = Buffer.alloc(16_392 / 8, 0xff);
    const spki = rsaPublicKey(modulus, Buffer.from([1, 0, 1])).export({ format: "der", type: "spki" });
    token.objects[1]!.delete(CKA.MODULUS);
    token.objects[1]!.set(CKA.PUBLIC_KEY_INFO, spki);
    const signer = await createPkcs11Signer({ keyUri: "pkcs11:token=fake;object=device;type=private?pin-value=1234", library: "/fake/module.so" });
    try {
      expect(await signer.publicKey()).toBeUndefined();
    } finally {
      await signer.close();
    }
  });
});

describe("the key's public attributes", () => {
  it.each([
    ["a modulus of 0 bytes", CKA.MODULUS, Buffer.alloc(0)],
    ["a modulus of zeros", CKA.MODULUS, Buffer.alloc(256)],
    ["a public exponent of 0 bytes", CKA.PUBLIC_EXPONENT, Buffer.alloc(0)],
  ])("%s shows no public key: the key is proven by its first signature, not called the certificate's mismatch", async (_, type, value) => {
    token.objects[1]!.set(type, value);
    const { code, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(token.calls.filter((c) => c === "C_Sign")).toHaveLength(1);
  });
});

describe("C_Login's answer", () => {
  it.each([
    ["CKR_PIN_INCORRECT:160", 4, /rejected the PIN from pin-value in the URI \(CKR_PIN_INCORRECT\)/],
    ["CKR_PIN_LOCKED:164", 4, /the PIN of token "fake" \(serial 0001\) is blocked \(CKR_PIN_LOCKED\)/],
    ["CKR_PIN_EXPIRED:163", 4, /the PIN of token "fake" \(serial 0001\) has expired \(CKR_PIN_EXPIRED\)/],
    [
      "CKR_USER_PIN_NOT_INITIALIZED:258",
      5,
      /C_Login on token "fake" \(serial 0001\) failed: CKR_USER_PIN_NOT_INITIALIZED \(0x102\) \(its user PIN was never set: set one as the security officer \(`pkcs11-tool --token-label fake --login --login-type so --init-pin --module \/fake\/module.so`\)\)/,
    ],
    ["CKR_DEVICE_REMOVED:50", 5, /C_Login on token "fake" \(serial 0001\) failed: CKR_DEVICE_REMOVED \(0x32\)/],
    ["CKR_TOKEN_NOT_PRESENT:224", 5, /C_Login on token "fake" \(serial 0001\) failed: CKR_TOKEN_NOT_PRESENT \(0xE0\)/],
  ])("%s: one line, presented once, no PIN in the output", async (error, exit, line) => {
    token.override.C_Login = () => {
      throw new Error(error);
    };
    const { code, stdout, stderr } = await signString();
    expect(stderr).toMatch(new RegExp(`^roles-anywhere-agent: [^\\n]*${line.source}[^\\n]*\\n$`));
    expect(stderr).not.toContain("1234");
    expect(code).toBe(exit);
    expect(stdout).toBe("");
    expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(1);
  });
});

describe("a certificate that only a login shows (CKA_PRIVATE)", () => {
  beforeEach(() => {
    const cert = token.objects[0]!;
    token.objects[0] = new Map(); // not found before the login
    token.override.C_Login = () => void (token.objects[0] = cert);
  });

  it("is found after the login, and signs", async () => {
    const { code, stderr } = await signString();
    expect([code, stderr]).toEqual([0, ""]);
    expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(1);
  });

  it("a login failing otherwise than for a missing PIN: that failure, not 'no certificate matches'", async () => {
    token.override.C_Login = () => {
      throw new Error("CKR_PIN_INCORRECT:160");
    };
    const { code, stdout, stderr } = await signString();
    expect(stderr).toMatch(/^roles-anywhere-agent: [^\n]*CKR_PIN_INCORRECT[^\n]*\n$/);
    expect(stderr).not.toContain("no certificate matches");
    expect([code, stdout]).toEqual([4, ""]);
  });
});

describe("csr for a token key that shows no public key and has no public-key object", () => {
  it("is refused with what the token lacks, before anything is signed", async () => {
    token.objects = [token.objects[1]!]; // the key alone
    token.objects[0]!.delete(CKA.MODULUS);
    token.keys = new Map([[0, leafKey]]);
    const args = ["csr", "--private-key", URI, "--subject", "CN=device", "--pkcs11-lib", "/fake/module.so"];
    const { code, stdout, stderr } = await run(args);
    expect(stderr).toBe(
      "roles-anywhere-agent: cannot read the public key of this pkcs11 key "
        + "(the token needs a public-key object with the key's CKA_ID (keygen creates one))\n",
    );
    expect([code, stdout]).toEqual([3, ""]);
    expect(token.calls).not.toContain("C_Sign");
  });
});

describe("a module that ignores the search template", () => {
  it("objects of another class are left out: the private key signs, not the public-key object", async () => {
    const { key } = keyObjects("1", "device");
    key.set(CKA.CLASS, ulong(CKO.PUBLIC_KEY)); // the public half first, with the key's id and label
    token.objects.unshift(key);
    token.keys = new Map([[2, leafKey]]);
    let all: Buffer[] = [];
    token.override.C_FindObjectsInit = () => void (all = token.objects.map((_, i) => ulong(i + 1)));
    token.override.C_FindObjects = (_session, count) => all.splice(0, count as number);
    const { code, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

describe("a module that throws what is not an Error", () => {
  it.each([["C_Initialize"], ["C_OpenSession"], ["C_Login"], ["C_FindObjectsInit"], ["C_Sign"]])("%s: one line, exit 5", async (call) => {
    token.override[call] = () => {
      throw Object.create(null); // no string form at all
    };
    const { code, stderr } = await signString();
    expect(stderr).toMatch(/^roles-anywhere-agent: [^\n]*: the module threw a value of type object[^\n]*\n$/);
    expect(stderr).not.toContain("internal error");
    expect(code).toBe(5);
  });
});

describe("sign() called from plain JavaScript", () => {
  it.each(["sha256", "SHA1", "MD5", "toString", "__proto__", ""])("digest %j: PRIVATE_KEY_UNSUPPORTED, as with a key file, before the token is asked", async (digest) => {
    const signer = await createSigner({ certificate: URI, pkcs11: { library: "/fake/module.so" } });
    try {
      const calls = token.calls.length;
      await expect(signer.sign(Buffer.from("m"), digest as never)).rejects.toMatchObject({
        code: "PRIVATE_KEY_UNSUPPORTED",
        message: `digest ${digest} is not supported`,
      });
      expect(token.calls.slice(calls)).toEqual([]);
      expect((await signer.sign(Buffer.from("m"))).length).toBe(256); // the signer is still usable
    } finally {
      await signer.close?.();
    }
  });
});

describe("what to change, named as the caller knows it: fromRolesAnywhere's options, the CLI's flags", () => {
  const NO_PIN = "pkcs11:token=fake;object=device";
  /** What fromRolesAnywhere's first call rejects with, as one line: the key fails before any network call. */
  const sdkLine = async (options: Partial<RolesAnywhereProviderOptions>): Promise<string> => {
    const library = { pkcs11: { library: "/fake/module.so" } };
    const provider = fromRolesAnywhere({ ...ARNS, endpoint: "http://127.0.0.1:9", env: {}, ...library, ...options });
    try {
      return await provider().then(() => "no error", (e: unknown) => (e as AgentError).toOneLine());
    } finally {
      await provider.close();
    }
  };
  const cliLine = async (argv: string[]) => (await run(["sign-string", "--pkcs11-lib", "/fake/module.so", ...argv])).stderr;

  it("a certificate visible only after a login, and no PIN: the SDK caller is told pkcs11.pin, not CLI flags", async () => {
    token.objects = []; // what a token with CKA_PRIVATE certificates shows before C_Login
    const line = await sdkLine({ certificate: NO_PIN });
    expect(line).toMatch(/without a login \(if the certificate is a private object, give the PIN \(pkcs11\.pin\);/);
    expect(line).not.toMatch(/--|pin-source/);
  });

  it.each([
    ["options" as const, /^pkcs11\.reusePin was given but the token has a PIN pad and no PIN was supplied$/],
    [undefined, /^--reuse-pin was given but the token has a PIN pad and no PIN was supplied$/],
  ])("reusePin on a PIN-pad token for an always-authenticate key, names %s: the option as given", async (names, line) => {
    token.flags |= CKF.PROTECTED_AUTHENTICATION_PATH;
    token.objects[1]!.set(CKA.ALWAYS_AUTHENTICATE, Buffer.from([1]));
    const pkcs11 = { library: "/fake/module.so", reusePin: true };
    await expect(createSigner({ certificate: NO_PIN, pkcs11, names, prompt: false })).rejects.toMatchObject({
      code: "USAGE",
      message: expect.stringMatching(line),
    });
  });

  it("an always-authenticate key with no context PIN, prompting on but no terminal: pkcs11.reusePin or contextPin", async () => {
    token.objects[1]!.set(CKA.ALWAYS_AUTHENTICATE, Buffer.from([1]));
    const error = await createSigner({ certificate: URI, pkcs11: { library: "/fake/module.so" }, names: "options" }).catch((e) => e);
    expect((error as AgentError).toOneLine()).toMatch(/CKA_ALWAYS_AUTHENTICATE: pass pkcs11\.reusePin, or pkcs11\.contextPin\)/);
    expect((error as AgentError).toOneLine()).not.toContain("--");
    expect(await cliLine(["--certificate", URI])).toMatch(/pass --reuse-pin, or --pkcs11-context-pin-file \/ -env\)/);
  });

  it("no key on the token is the certificate's: KEY_CERTIFICATE_MISMATCH says privateKey", async () => {
    token.objects[0]!.set(CKA.VALUE, otherDer);
    const line = await sdkLine({ certificate: URI });
    expect(line).toMatch(/^no private key on token "fake" .* \(point privateKey at the key the certificate was issued for\)$/);
    expect(line).not.toContain("--");
  });

  it("a key that shows no public key and whose first signature is not the certificate's: privateKey, --private-key", async () => {
    token.objects[0]!.set(CKA.VALUE, otherDer);
    token.objects[1]!.delete(CKA.MODULUS);
    const hint = (option: string) => `(point ${option} at the key the certificate was issued for)`;
    const line = await sdkLine({ certificate: URI });
    expect(line).toMatch(/^the private key pkcs11:.* does not match the certificate \(CN=other\): its signature does not verify/);
    expect(line).toContain(hint("privateKey"));
    expect(line).not.toContain("--");
    expect(await cliLine(["--certificate", URI])).toContain(hint("--private-key"));
  });

  it("two keys and no certificate to choose: give its certificate with certificate, --certificate", async () => {
    token.objects = [keyObjects("1", "device").key, keyObjects("2", "device").key];
    const line = await sdkLine({ privateKey: URI });
    expect(line).toMatch(/matches 2 private keys .* give its certificate with certificate\)$/);
    expect(line).not.toContain("--");
    expect(await cliLine(["--private-key", URI])).toMatch(/give its certificate with --certificate\)\n$/);
  });

  it("a module that cannot be loaded: pkcs11.library, --pkcs11-lib", async () => {
    token.override.load = () => {
      throw new Error("/fake/module.so: cannot open shared object file: No such file or directory");
    };
    const line = await sdkLine({ certificate: URI });
    expect(line).toMatch(/^cannot load the PKCS#11 module \/fake\/module.so \(pkcs11\.library\): .* pass (one|it) with pkcs11\.library/);
    expect(line).not.toContain("--");
    const cli = await cliLine(["--certificate", URI]);
    expect(cli).toMatch(/^roles-anywhere-agent: cannot load the PKCS#11 module \/fake\/module.so \(--pkcs11-lib\): .* pass (one|it) with --pkcs11-lib/);
  });

  it("a module path that is a directory: pkcs11.library, --pkcs11-lib", async () => {
    const hint = (option: string) => `(pass the module's shared library (a .so file) with ${option} or module-path=)`;
    const line = await sdkLine({ certificate: URI, pkcs11: { library: dir } });
    expect(line).toBe(`the PKCS#11 module ${dir} (pkcs11.library) is not a regular file; it was not loaded ${hint("pkcs11.library")}`);
    const cli = (await run(["sign-string", "--certificate", URI, "--pkcs11-lib", dir])).stderr;
    expect(cli).toBe(`roles-anywhere-agent: the PKCS#11 module ${dir} (--pkcs11-lib) is not a regular file; it was not loaded ${hint("--pkcs11-lib")}\n`);
  });

  it("no token present: the module's path, no flag", async () => {
    token.slots = [];
    const line = await sdkLine({ certificate: URI });
    expect(line).toMatch(/\(no token is present: insert it, or check the module \(\/fake\/module\.so\) and its configuration\)$/);
    expect(line).not.toContain("--");
  });

  it.each([
    ["the key without its certificate", () => (token.objects = [token.objects[1]!]), /no certificate on the token: .*, or give the certificate file with /],
    ["no certificate at all", () => (token.objects = []), /the token shows no certificates; give the certificate as a file with /],
    ["a certificate in PEM", () => token.objects[0]!.set(CKA.VALUE, Buffer.from(leaf.certPem)), /install-certificate write it; or give the certificate file with /],
  ])("%s: give the certificate file with certificate, --certificate", async (_, setUp, text) => {
    setUp();
    const line = await sdkLine({ certificate: URI });
    expect(line).toMatch(new RegExp(`${text.source}certificate\\)$`));
    expect(line).not.toContain("--");
    expect(await cliLine(["--certificate", URI])).toMatch(new RegExp(`${text.source}--certificate\\)\n$`));
  });

  it("a user PIN needed, prompting on but no terminal: give it with pkcs11.pin, or the CLI's flags", async () => {
    const error = await createSigner({ certificate: NO_PIN, pkcs11: { library: "/fake/module.so" }, names: "options" }).catch((e) => e);
    const line = (error as AgentError).toOneLine();
    expect(line).toMatch(/^the user PIN of token "fake" \(serial 0001\) \(give it with pkcs11\.pin\) is needed but there is no terminal/);
    expect(line).not.toContain("--");
    expect(await cliLine(["--certificate", NO_PIN])).toMatch(/\(give it with pin-source=, --pkcs11-pin-file or --pkcs11-pin-env\) is needed/);
    expect(token.calls).not.toContain("C_Login");
  });
});

describe("generateKeyOnToken, installOnToken, listPkcs11Certificates with names: \"options\": their options, not CLI flags", () => {
  const library = "/fake/module.so";
  const certificate = new Certificate(leafDer);
  const spec = { kind: "EC", curve: "P-256", name: "p256" } as const;
  const lines = async (call: (names: "options" | undefined) => Promise<unknown>): Promise<string[]> =>
    Promise.all(["options" as const, undefined].map((names) => call(names).then(() => "no error", (e: AgentError) => e.toOneLine())));

  it("a module that cannot be loaded: library, --pkcs11-lib", async () => {
    token.override.load = () => {
      throw new Error("/fake/module.so: cannot open shared object file: No such file or directory");
    };
    const uri = "pkcs11:token=fake;object=new";
    for (const call of [
      (names?: "options") => generateKeyOnToken({ uri, spec, library, names }),
      (names?: "options") => installOnToken({ keyUri: uri, certificate, chain: [], replace: false, library, names }),
      (names?: "options") => listPkcs11Certificates({ uri, library, names }),
    ]) {
      const [option, flag] = await lines(call);
      expect(option).toMatch(/^cannot load the PKCS#11 module \/fake\/module.so \(library\): .* pass (one|it) with library/);
      expect(option).not.toContain("--");
      expect(flag).toMatch(/^cannot load the PKCS#11 module \/fake\/module.so \(--pkcs11-lib\): .* pass (one|it) with --pkcs11-lib/);
    }
  });

  it("a user PIN needed and no terminal: give it with pin", async () => {
    const [option, flag] = await lines((names) => generateKeyOnToken({ uri: "pkcs11:token=fake;object=new", spec, library, names }));
    expect(option).toMatch(/^the user PIN of token "fake" \(serial 0001\) \(give it with pin\) is needed but there is no terminal/);
    expect(option).not.toContain("--");
    expect(flag).toContain("(give it with pin-source=, --pkcs11-pin-file or --pkcs11-pin-env)");
  });

  it("a PIN's { kind: \"env\" } is read from process.env, as the signer's, not from the env option (module defaults)", async () => {
    vi.stubEnv("RAA_PROVISIONING_PIN", "1234"); // unstubbed before each case
    const pin = { kind: "env", name: "RAA_PROVISIONING_PIN" } as const;
    await expect(listPkcs11Certificates({ uri: "pkcs11:token=fake", library, pin, env: {} })).resolves.toBeDefined();
    // Past the login (the stand-in makes no keys), not PASSWORD_REQUIRED "… is not set".
    await expect(generateKeyOnToken({ uri: "pkcs11:token=fake;object=new", spec, library, pin, env: {} })).rejects.toMatchObject({ code: "PKCS11_ERROR" });
  });

  it("no label: label, --label", async () => {
    const [option, flag] = await lines((names) => generateKeyOnToken({ uri: "pkcs11:token=fake", spec, library, names }));
    expect(option).toBe("the new key needs a label (add object=<label> to the URI or pass label)");
    expect(flag).toBe("the new key needs a label (add object=<label> to the URI or pass --label)");
  });

  it("a key type the token refuses: spec, --key-type", async () => {
    token.override.C_GenerateKeyPair = () => {
      throw new Error("CKR_MECHANISM_INVALID:112");
    };
    const uri = "pkcs11:token=fake;object=new?pin-value=1234";
    const [option, flag] = await lines((names) => generateKeyOnToken({ uri, spec, library, names }));
    expect(option).toMatch(/\(the token may not support p256 keys; try another spec\)$/);
    expect(option).not.toContain("--");
    expect(flag).toMatch(/\(the token may not support p256 keys; try another --key-type\)$/);
  });

  it("another certificate already installed for the key: replace, --replace", async () => {
    token.objects[0]!.set(CKA.VALUE, otherDer);
    const keyUri = "pkcs11:token=fake;object=device?pin-value=1234";
    const [option, flag] = await lines((names) => installOnToken({ keyUri, certificate, chain: [], replace: false, library, names }));
    expect(option).toMatch(/already holds another certificate .* \(pass replace to replace it \(after renewal, for example\)\)$/);
    expect(flag).toMatch(/\(pass --replace to replace it \(after renewal, for example\)\)$/);
  });
});

describe.each([
  ["throws", () => {
    throw new Error("the host's callback throws");
  }],
  ["returns a rejected promise", async () => {
    throw new Error("the host's callback rejects");
  }],
])("a host's debug callback that %s", (_, debug) => {
  // Before, the PKCS#11 entries passed it on unguarded: the sync one ended each call with the host's own Error, the
  // async one left an unhandled rejection per line (which ends a Node.js program). createSigner guarded it already.
  const library = "/fake/module.so";
  const uri = "pkcs11:token=fake;object=device?pin-value=1234";
  const certificate = new Certificate(leafDer);
  const spec = { kind: "EC", curve: "P-256", name: "p256" } as const;
  type Debug = typeof debug | undefined;
  it.each([
    ["createPkcs11Signer", (d: Debug) => createPkcs11Signer({ keyUri: uri, library, debug: d }).then((s) => s.close())],
    ["listPkcs11Certificates", (d: Debug) => listPkcs11Certificates({ uri: "pkcs11:token=fake", library, debug: d })],
    ["generateKeyOnToken", (d: Debug) => generateKeyOnToken({ uri: "pkcs11:token=fake;object=new?pin-value=1234", spec, library, debug: d })],
    ["installOnToken", (d: Debug) => installOnToken({ keyUri: uri, certificate, chain: [], replace: false, library, debug: d })],
  ])("%s ends as without it; nothing is left unhandled", async (_name, call) => {
    token.override.C_GenerateKeyPair = () => {
      throw new Error("CKR_TEMPLATE_INCONSISTENT:209"); // each template refused, each refusal a debug line
    };
    const outcome = (d: Debug) => call(d).then(() => "done", (e: AgentError) => e.toOneLine());
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const expected = await outcome(undefined);
      expect(await outcome(debug)).toBe(expected);
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });
});

describe("a PIN in the URI (pin-value): the process is protected before the module is loaded", () => {
  it("no module call before protectSecrets: a module crashing in C_Initialize would dump the PIN (argv) in a core file", async () => {
    // bin.ts sets protectSecrets (no core file, no inspector) to run before the first PIN or password is read. A
    // pin-value is in memory from the start: before the fix, the hook ran at C_Login, after load, C_Initialize,
    // C_GetSlotList and C_OpenSession, any of which may crash under `ulimit -c unlimited`.
    let callsBefore: string[] | undefined;
    beforeFirstSecretRead(() => (callsBefore = [...token.calls]));
    token.calls = [];
    const { code } = await signString();
    expect(code).toBe(0);
    expect(callsBefore).toEqual([]);
  });

  it.each([
    ["sign-string", "--certificate"],
    ["doctor", "--certificate"],
    ["keygen", "--key-type", "p256", "--private-key"],
    // listPkcs11Certificates: before, C_Initialize, C_GetSlotList and C_OpenSession ran first (missed by the fix above).
    ["read-certificate-data", "--certificate"],
    ["principal-tags", "--certificate"],
  ])("%s with --pkcs11-pin-env (in memory from the start too): protected before the module is loaded", async (...command) => {
    vi.stubEnv("RAA_HOSTILE_PIN", "1234");
    let callsBefore: string[] | undefined;
    beforeFirstSecretRead(() => (callsBefore = [...token.calls]));
    token.calls = [];
    const object = command[0] === "keygen" ? "new" : "device";
    const pin = ["--pkcs11-pin-env", "RAA_HOSTILE_PIN", "--pkcs11-lib", "/fake/module.so"];
    await run([...command, `pkcs11:token=fake;object=${object}`, ...pin]);
    vi.unstubAllEnvs();
    expect(callsBefore).toEqual([]);
  });
});

describe("text the token wrote, in --debug lines", () => {
  it("a token label with a line break and terminal escapes forges no debug line and sends no escape", async () => {
    token.label = "ev\u001b]0;owned\u0007il\ndebug: forged";
    const { code, stderr } = await run(["sign-string", "--debug", "--certificate", "pkcs11:object=device?pin-value=1234", "--pkcs11-lib", "/fake/module.so"]);
    expect(code).toBe(0);
    expect(stderr).toContain('token "ev\\u001b]0;owned\\u0007il\\u000adebug: forged"');
    expect(stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(stderr.split("\n").filter((line) => line.startsWith("debug: forged"))).toEqual([]);
  });
});

describe("object labels that are not UTF-8 (written by another tool, e.g. in Latin-1)", () => {
  it("the URI listed for the certificate selects it, and signs", async () => {
    const latin1 = Buffer.from("Schl\u00fcssel", "latin1");
    token.objects[0]!.set(CKA.LABEL, latin1);
    token.objects[1]!.set(CKA.LABEL, latin1);
    const listed = await run(["read-certificate-data", "--certificate", "pkcs11:token=fake", "--pkcs11-lib", "/fake/module.so"]);
    expect(listed.code).toBe(0);
    const uri = /^URI: (.*)$/m.exec(listed.stdout)?.[1];
    expect(uri).toBe("pkcs11:id=%31;manufacturer=Fake;model=F1;serial=0001;token=fake;type=cert");
    const signed = await run(["sign-string", "--certificate", `${uri!.replace(";type=cert", "")}?pin-value=1234`, "--pkcs11-lib", "/fake/module.so"]);
    expect(signed.stderr).toBe("");
    expect(signed.code).toBe(0);
  });
});

describe("C_Sign's CKR_BUFFER_TOO_SMALL", () => {
  // Generated once, before the tests and with its own timeout: an RSA-4096 key took up to 18 s here under load (a
  // test's timeout is 20 s), and each test paid for one.
  let big: ReturnType<typeof issueLeaf>;
  beforeAll(() => {
    big = issueLeaf(ca, join(dir, "big"), { name: "big", keyType: "rsa4096" });
  }, 120_000);
  /** The certificate and key of a 4096-bit RSA key whose CKA_MODULUS is a placeholder of zeros (so 256 bytes are offered). */
  function bigKeyWithPlaceholderModulus(): KeyObject {
    const bigKey = createPrivateKey(readFileSync(big.keyPath));
    token.objects[0]!.set(CKA.VALUE, Buffer.from(big.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64"));
    token.objects[1]!.set(CKA.MODULUS, Buffer.alloc(256));
    token.keys.set(1, bigKey);
    return bigKey;
  }

  it("once (a key larger than its attributes said): C_Sign again with room for any key, and the signature verifies", async () => {
    const bigKey = bigKeyWithPlaceholderModulus();
    token.override.C_Sign = (_session, data, out) => {
      if ((out as Buffer).length < 512) throw new Error("CKR_BUFFER_TOO_SMALL:336");
      const signature = createSign("sha256").update(data as Buffer).sign(bigKey);
      signature.copy(out as Buffer);
      return signature.length;
    };
    const { code, stdout, stderr } = await signString();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatch(/^[0-9a-f]{1024}$/);
    expect(token.calls.filter((c) => c === "C_SignInit")).toHaveLength(1);
  });

  it("every time: one line, exit 5, C_Sign asked twice, not forever", async () => {
    bigKeyWithPlaceholderModulus();
    token.override.C_Sign = () => {
      throw new Error("CKR_BUFFER_TOO_SMALL:336");
    };
    const { code, stdout, stderr } = await signString();
    expect(stderr).toBe("roles-anywhere-agent: signing with device failed: CKR_BUFFER_TOO_SMALL (0x150)\n");
    expect(code).toBe(5);
    expect(stdout).toBe("");
    expect(token.calls.filter((c) => c === "C_Sign")).toHaveLength(2);
  }, 20_000);
});

/** The hints of an unusable certificate object, as regular expression source. */
const DER_HINT = "write the certificate to the token again in DER \\(roles-anywhere-agent install-certificate\\)";
const PEM_HINT = "write it in DER: openssl x509 -in CERT -outform DER -out CERT\\.der, or let roles-anywhere-agent install-certificate write it";

describe("a certificate object whose CKA_VALUE is no usable certificate (written by another tool)", () => {
  it.each([
    ["PEM text", () => Buffer.from(leaf.certPem), /its CKA_VALUE holds PEM text, not DER/, PEM_HINT],
    ["truncated DER", () => leafDer.subarray(0, 300), /could not parse certificate: not a valid X.509 DER structure/, DER_HINT],
    ["DER with bytes after it", () => Buffer.concat([leafDer, Buffer.alloc(5)]), /its CKA_VALUE is followed by 5 bytes that are not part of it/, DER_HINT],
  ])("%s: that object is named with what is wrong, not 'the key has no certificate: install one'", async (_, value, reason, hint) => {
    token.objects[0]!.set(CKA.VALUE, value());
    const { code, stdout, stderr } = await signString();
    expect(stderr).toMatch(
      new RegExp(
        "^roles-anywhere-agent: the certificate object pkcs11:id=%31;manufacturer=Fake;model=F1;object=device;serial=0001;token=fake;type=cert" +
          ` cannot be used: ${reason.source} \\(${hint}; or give the certificate file with --certificate\\)\\n$`,
      ),
    );
    expect(code).toBe(3);
    expect(stdout).toBe("");
    expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(0);
  });
});

describe("a certificate object OpenSSL 3.0 reads but @peculiar/asn1-x509 does not", () => {
  it("is refused alike on every Node: read-certificate-data leaves it out, signing names the object and why (was: internal error, exit 1)", async () => {
    // The key's AlgorithmIdentifier parameters are a GeneralizedTime holding "x": ANY to OpenSSL 3.0, a bad time to asn1js.
    // The algorithm is a vendor's, which Go's parser leaves unread (as ecPublicKey, Go and so the reader refuse it).
    // Round 33: OpenSSL 3.5 (Node 22, 24) refuses it up front, Node 20 read it; the agent refuses a time as an
    // algorithm's parameters itself, on every Node (before: the listing named it on Node 20 and left it out on 22/24).
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const { x, y } = publicKey.export({ format: "jwk" });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(x!, "base64url"), Buffer.from(y!, "base64url")]);
    const ecdsaSha256 = derSequence(derOid("1.2.840.10045.4.3.2"));
    const name = derTlv(0x30, derTlv(0x31, derSequence(derOid("2.5.4.3"), derTlv(0x0c, Buffer.from("odd")))));
    const times = derSequence(derTlv(0x17, Buffer.from("260101000000Z")), derTlv(0x17, Buffer.from("361231000000Z")));
    const spki = derSequence(derSequence(derOid("1.3.6.1.4.1.99999.2"), derTlv(0x18, Buffer.from("x"))), derBitString(point));
    const tbs = derSequence(derTlv(0xa0, derTlv(0x02, Buffer.from([2]))), derTlv(0x02, Buffer.from([7])), ecdsaSha256, name, times, name, spki);
    const der = derSequence(tbs, ecdsaSha256, derBitString(createSign("sha256").update(tbs).sign(privateKey)));
    token.objects[0]!.set(CKA.VALUE, der);
    const listed = await run(["read-certificate-data", "--certificate", "pkcs11:token=fake", "--pkcs11-lib", "/fake/module.so"]);
    // Round 34: left out, and told (before: without a word).
    expect(listed).toEqual({
      code: 0,
      stdout: "No matching identities\n",
      stderr:
        "roles-anywhere-agent: warning: the certificate object pkcs11:id=%31;manufacturer=Fake;model=F1;object=device;serial=0001;token=fake;type=cert" +
        " is not listed: its CKA_VALUE has a time as the parameters of its public key algorithm, which no algorithm has;" +
        " write the certificate to the token again in DER (roles-anywhere-agent install-certificate)\n",
    });
    const signed = await signString();
    expect(signed.stderr).toBe(
      "roles-anywhere-agent: the certificate object pkcs11:id=%31;manufacturer=Fake;model=F1;object=device;serial=0001;token=fake;type=cert" +
        " cannot be used: its CKA_VALUE has a time as the parameters of its public key algorithm, which no algorithm has" +
        " (write the certificate to the token again in DER (roles-anywhere-agent install-certificate); or give the certificate file with --certificate)\n",
    );
    expect(signed.code).toBe(3);
  });
});

describe("keygen on a module that ignores the size or curve asked for", () => {
  /** A module that makes `made` whatever the template says, with the flags keygen asks for. */
  function generatesAnyway(made: KeyObject): void {
    token.override.C_GenerateKeyPair = (_session, _mechanism, publicTemplate, privateTemplate) => {
      const jwk = made.export({ format: "jwk" });
      const publicKey = templateAttributes(publicTemplate);
      const privateKey = templateAttributes(privateTemplate);
      for (const o of [publicKey, privateKey]) {
        if (jwk.kty === "RSA") o.set(CKA.MODULUS, Buffer.from(jwk.n!, "base64url")).set(CKA.PUBLIC_EXPONENT, Buffer.from(jwk.e!, "base64url"));
        else o.set(CKA.EC_PARAMS, derOid(NAMED_CURVES[jwk.crv as "P-256"].oid));
      }
      for (const type of [CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE]) privateKey.set(type, Buffer.from([1]));
      for (const type of [CKA.DECRYPT, CKA.UNWRAP, CKA.SIGN_RECOVER]) privateKey.set(type, Buffer.from([0]));
      token.objects.push(publicKey, privateKey);
      return { publicKey: ulong(token.objects.length - 1), privateKey: ulong(token.objects.length) };
    };
  }

  it("RSA-1024 when RSA-3072 was asked for: one line, exit 5, the key pair destroyed, no reference printed", async () => {
    generatesAnyway(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey);
    const objects = token.objects.length;
    const { code, stdout, stderr } = await run([
      "keygen", "--private-key", "pkcs11:token=fake;object=new?pin-value=1234", "--key-type", "rsa3072", "--pkcs11-lib", "/fake/module.so",
    ]);
    expect(stderr).toBe(
      "generating an rsa3072 key on the token…\n" +
        'roles-anywhere-agent: token "fake" (serial 0001) made another key than asked for (a 1024-bit RSA modulus, not 3072);' +
        " the generated key pair was destroyed (the module ignored the key size or curve asked for: try another --key-type)\n",
    );
    expect(code).toBe(5);
    expect(stdout).toBe("");
    expect(token.objects.slice(objects).every((o) => o.size === 0)).toBe(true);
  });

  it("P-256 when P-384 was asked for: one line, exit 5", async () => {
    generatesAnyway(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);
    const { code, stdout, stderr } = await run([
      "keygen", "--private-key", "pkcs11:token=fake;object=new?pin-value=1234", "--key-type", "p384", "--pkcs11-lib", "/fake/module.so",
    ]);
    expect(stderr).toMatch(/\nroles-anywhere-agent: token "fake" \(serial 0001\) made another key than asked for \(P-256, not P-384\);/);
    expect(code).toBe(5);
    expect(stdout).toBe("");
  });

  it("another key than asked for, and the token refusing to destroy it: the message says it is left, not destroyed", async () => {
    // Before: "the generated key pair was destroyed" whatever C_DestroyObject answered.
    generatesAnyway(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey);
    token.override.C_DestroyObject = () => {
      throw new Error("CKR_ACTION_PROHIBITED:27");
    };
    const objects = token.objects.length;
    const { code, stderr } = await run([
      "keygen", "--private-key", "pkcs11:token=fake;object=new?pin-value=1234", "--key-type", "rsa3072", "--pkcs11-lib", "/fake/module.so",
    ]);
    expect(stderr).toContain("(a 1024-bit RSA modulus, not 3072); the generated key pair could not be destroyed: delete it with the token's tools (");
    expect(code).toBe(5);
    expect(token.objects.slice(objects).every((o) => o.size > 0)).toBe(true);
  });

  const NEW_KEY = "pkcs11:token=fake;object=new?pin-value=1234";
  const keygen = () => run(["keygen", "--private-key", NEW_KEY, "--key-type", "p256", "--pkcs11-lib", "/fake/lib.so"]);
  const TOKEN = 'token "fake" (serial 0001)';

  it("an extractable key when a non-extractable one was asked for: destroyed, one line, exit 5", async () => {
    generatesAnyway(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey);
    const makes = token.override.C_GenerateKeyPair!;
    token.override.C_GenerateKeyPair = (...args) => {
      const made = makes(...args);
      const privateKey = token.objects.at(-1)!;
      privateKey.set(CKA.EXTRACTABLE, Buffer.from([1])).set(CKA.NEVER_EXTRACTABLE, Buffer.from([0]));
      return made;
    };
    const objects = token.objects.length;
    const { code, stdout, stderr } = await keygen();
    expect(stderr).toContain(`\nroles-anywhere-agent: ${TOKEN} made a weaker key than asked for (`);
    expect(stderr).toContain("(extractable (CKA_EXTRACTABLE=true); was extractable (CKA_NEVER_EXTRACTABLE=false))");
    const hint = "this module cannot hold a sign-only, non-extractable key; use another token or a TPM";
    expect(stderr).toMatch(new RegExp(`the generated key pair was destroyed \\(${hint}\\)\n$`));
    expect(code).toBe(5);
    expect(stdout).toBe("");
    expect(token.objects.slice(objects).every((o) => o.size === 0)).toBe(true);
  });

  it.each([
    ["its id and label", [], /id [0-9a-f]{16} and label "new"/],
    ["its id only", [CKA.LABEL], /id [0-9a-f]{16}/],
    ["its label only", [CKA.ID], /label "new"/],
  ])("a template refused, but objects left with %s: refused at once, not tried again over them, they named", async (_, dropped, what) => {
    token.override.C_GenerateKeyPair = (_session, _mechanism, publicTemplate) => {
      const left = templateAttributes(publicTemplate);
      for (const type of dropped) left.delete(type);
      token.objects.push(left);
      throw new Error("CKR_TEMPLATE_INCONSISTENT:209");
    };
    const { code, stdout, stderr } = await keygen();
    expect(stderr).toContain(`\nroles-anywhere-agent: ${TOKEN} refused the key template (CKR_TEMPLATE_INCONSISTENT`);
    expect(stderr).toMatch(new RegExp(`\\) but left objects with ${what.source} behind \\(delete them with the token's tools`));
    expect(stderr).toMatch(/\(e\.g\. pkcs11-tool --delete-object\) before trying again\)\n$/);
    expect(code).toBe(5);
    expect(stdout).toBe("");
    expect(token.calls.filter((c) => c === "C_GenerateKeyPair")).toHaveLength(1);
  });

  it("a failure that says nothing of the key type (CKR_DEVICE_ERROR): no hint to try another --key-type", async () => {
    token.override.C_GenerateKeyPair = () => {
      throw new Error("CKR_DEVICE_ERROR:48");
    };
    const { code, stderr } = await keygen();
    expect(stderr).toBe("generating a p256 key on the token…\n"
      + `roles-anywhere-agent: generating a EC P-256 key pair on ${TOKEN} failed: CKR_DEVICE_ERROR (0x30)\n`);
    expect(code).toBe(5);
  });

  it("RSA-3072 as asked: the reference is printed", async () => {
    generatesAnyway(generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey);
    const { code, stdout, stderr } = await run([
      "keygen", "--private-key", "pkcs11:token=fake;object=new?pin-value=1234", "--key-type", "rsa3072", "--pkcs11-lib", "/fake/module.so",
    ]);
    expect(stderr).toBe("generating an rsa3072 key on the token…\n");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^pkcs11:.*object=new.*\n$/);
  });

  const rsaKeygen = (...extra: string[]) =>
    run(["keygen", "--private-key", NEW_KEY, "--key-type", "rsa3072", "--pkcs11-lib", "/fake/module.so", ...extra]);

  it("--format json: the public key printed is the generated key's, not that of the key already on the token", async () => {
    const made = generateKeyPairSync("rsa", { modulusLength: 3072 });
    generatesAnyway(made.privateKey);
    const { code, stdout } = await rsaKeygen("--format", "json");
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { publicKey: string }).publicKey).toBe(made.publicKey.export({ type: "spki", format: "pem" }));
  });

  it("a public key whose CKA_MODULUS cannot be read: nothing to judge, the key is kept", async () => {
    generatesAnyway(generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey);
    const makes = token.override.C_GenerateKeyPair!;
    token.override.C_GenerateKeyPair = (...args) => {
      const made = makes(...args);
      token.objects.at(-2)!.delete(CKA.MODULUS);
      return made;
    };
    const { code, stdout, stderr } = await rsaKeygen();
    expect(stderr).toBe("generating an rsa3072 key on the token…\n");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^pkcs11:.*object=new.*\n$/);
  });

  /** A module that gives the generated private key no CKA_LABEL, or another CKA_ID, than the template asked for. */
  function generatesElsewhere(change: "label dropped" | "another id"): void {
    generatesAnyway(generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey);
    const makes = token.override.C_GenerateKeyPair!;
    token.override.C_GenerateKeyPair = (...args) => {
      const made = makes(...args);
      if (change === "label dropped") token.objects.at(-1)!.delete(CKA.LABEL);
      else token.objects.at(-1)!.set(CKA.ID, Buffer.from("elsewhere"));
      return made;
    };
  }

  it.each(["label dropped", "another id"] as const)(
    "a generated private key that does not carry the id and label asked for (%s): not found, the pair destroyed, one line",
    async (change) => {
      generatesElsewhere(change);
      const objects = token.objects.length;
      const { code, stdout, stderr } = await rsaKeygen();
      expect(stderr).toBe("generating an rsa3072 key on the token…\n"
        + "roles-anywhere-agent: the generated key cannot be found on the token by its id and label; the key pair was destroyed\n");
      expect(code).toBe(3);
      expect(stdout).toBe("");
      expect(token.objects).toHaveLength(objects + 2);
      expect(token.objects.slice(objects).every((o) => o.size === 0)).toBe(true);
    },
  );

  it("a generated key not found, and the token refusing to destroy it: the message says it is left", async () => {
    generatesElsewhere("label dropped");
    token.override.C_DestroyObject = () => {
      throw new Error("CKR_ACTION_PROHIBITED:27");
    };
    const objects = token.objects.length;
    const { code, stderr } = await rsaKeygen();
    expect(stderr).toBe("generating an rsa3072 key on the token…\nroles-anywhere-agent: the generated key cannot be found on the token"
      + " by its id and label; the key pair could not be destroyed: delete it with the token's tools\n");
    expect(code).toBe(3);
    expect(token.objects.slice(objects).every((o) => o.size > 0)).toBe(true);
    expect(token.calls.filter((c) => c === "C_DestroyObject")).toHaveLength(2);
  });
});

describe("install-certificate on a module that refuses or races", () => {
  const install = (...extra: string[]) =>
    run(["install-certificate", "--private-key", URI, "--certificate", leaf.certPath, ...LIBRARY, ...extra]);
  const LIBRARY = ["--pkcs11-lib", "/fake/module.so"];
  const certificates = () => token.objects.filter((o) => o.get(CKA.CLASS)?.equals(ulong(CKO.CERTIFICATE)));
  const TOKEN = 'token "fake" (serial 0001)';
  const PROGRAM = "roles-anywhere-agent";
  beforeEach(() => {
    token.objects = [token.objects[1]!]; // the key alone
    token.keys = new Map([[0, leafKey]]);
  });

  it("a key URI that matches several private keys: the candidates listed, nothing stored", async () => {
    const twin = new Map(token.objects[0]!).set(CKA.ID, Buffer.from("2"));
    token.objects.push(twin);
    const { code, stdout, stderr } = await install();
    expect(stderr).toMatch(/^roles-anywhere-agent: pkcs11:object=device;token=fake matches 2 private keys:/);
    expect(stderr).toContain("add the id= or object= of the key");
    expect([code, stdout, certificates()]).toEqual([3, "", []]);
  });

  it("a certificate OpenSSL reads, its issuer of indefinite length (BER): refused, nothing stored", async () => {
    const tlv = (bytes: Buffer, at: number) => {
      const short = bytes[at + 1]! < 0x80;
      const size = short ? 0 : bytes[at + 1]! & 0x7f;
      const length = short ? bytes[at + 1]! : bytes.subarray(at + 2, at + 2 + size).reduce((n, b) => n * 256 + b, 0);
      return { start: at + 2 + size, end: at + 2 + size + length };
    };
    const encode = (content: Buffer) => {
      const n = content.length;
      const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
      return Buffer.concat([Buffer.from([0x30, ...length]), content]);
    };
    const cert = tlv(leafDer, 0);
    const tbs = tlv(leafDer, cert.start);
    const fields: Buffer[] = [];
    for (let at = tbs.start, end = 0; at < tbs.end; at = end) {
      end = tlv(leafDer, at).end;
      fields.push(leafDer.subarray(at, end));
    }
    const issuer = fields[3]!.subarray(tlv(fields[3]!, 0).start);
    fields[3] = Buffer.concat([Buffer.from([0x30, 0x80]), issuer, Buffer.from([0, 0])]);
    const ber = encode(Buffer.concat([encode(Buffer.concat(fields)), leafDer.subarray(tbs.end, cert.end)]));
    expect(new X509Certificate(ber).issuer).toBe("CN=Hostile Module CA"); // OpenSSL takes it
    const path = join(dir, "indefinite-issuer.pem");
    writeFileSync(path, `-----BEGIN CERTIFICATE-----\n${ber.toString("base64")}\n-----END CERTIFICATE-----\n`);
    const args = ["install-certificate", "--private-key", URI, "--certificate", path, ...LIBRARY];
    const { code, stdout, stderr } = await run(args);
    // Refused when read, before the token is opened (was: by install-certificate, `cannot read the certificate "device"`).
    expect(stderr).toMatch(/^roles-anywhere-agent: \S+indefinite-issuer.pem \(certificate #1\) is not DER-encoded: it has an indefinite length/);
    expect([code, stdout, certificates()]).toEqual([3, "", []]);
  });

  it("a token that refuses CKA_CERTIFICATE_CATEGORY (before PKCS#11 v2.20): stored without it", async () => {
    const create = (template: unknown) => {
      const attributes = templateAttributes(template);
      if (attributes.has(CKA.CERTIFICATE_CATEGORY)) throw new Error("CKR_ATTRIBUTE_TYPE_INVALID:18");
      token.objects.push(attributes);
      return ulong(token.objects.length);
    };
    token.override.C_CreateObject = (_session, template) => create(template);
    const { code, stderr } = await install();
    expect([code, stderr]).toEqual([0, ""]);
    const stored = certificates().map((c) => [c.get(CKA.VALUE)?.equals(leafDer), c.has(CKA.CERTIFICATE_CATEGORY)]);
    expect(stored).toEqual([[true, false]]);
  });

  it("a token that cannot store the certificate: one line naming the step and the CKR, exit 5", async () => {
    token.override.C_CreateObject = () => {
      throw new Error("CKR_DEVICE_MEMORY:49");
    };
    const { code, stdout, stderr } = await install();
    expect(stderr).toBe(`${PROGRAM}: storing the certificate "device" on ${TOKEN} failed: CKR_DEVICE_MEMORY (0x31)\n`);
    expect([code, stdout]).toEqual([5, ""]);
  });

  it("--replace on a token that cannot remove any certificate: one line naming both left and which to delete, exit 5", async () => {
    // Before: the message did not say that the new certificate was left too; a second run said "already on the token".
    const old = new Map(token.objects[0]!).set(CKA.CLASS, ulong(CKO.CERTIFICATE)).set(CKA.VALUE, otherDer);
    token.objects.unshift(old);
    token.keys = new Map([[1, leafKey]]);
    token.override.C_DestroyObject = () => {
      throw new Error("CKR_DEVICE_ERROR:48");
    };
    const { code, stdout, stderr } = await install("--replace");
    const failed = `removing the replaced certificate from ${TOKEN} failed: CKR_DEVICE_ERROR (0x30)`;
    expect(stderr).toBe(
      `${PROGRAM}: ${failed} (this certificate, serial ${new Certificate(leafDer).serialHex}, could not be removed`
        + " again either: the key has both; delete the replaced one with the token's tools (e.g. pkcs11-tool --delete-object))\n",
    );
    expect([code, stdout]).toEqual([5, ""]);
    expect(certificates().map((c) => c.get(CKA.VALUE))).toEqual([otherDer, leafDer]);
  });

  it("--replace on a token that cannot remove the old certificate but can remove ours: ours removed, the token as before", async () => {
    // Before: ours was left next to the old one, and a second run said "the certificate was already on the token", exit 0.
    const old = new Map(token.objects[0]!).set(CKA.CLASS, ulong(CKO.CERTIFICATE)).set(CKA.VALUE, otherDer);
    token.objects.unshift(old);
    token.keys = new Map([[1, leafKey]]);
    token.override.C_DestroyObject = (_session, handle) => {
      const index = Number((handle as Buffer).readBigUInt64LE(0)) - 1;
      if (token.objects[index] === old) throw new Error("CKR_ACTION_PROHIBITED:27");
      token.objects[index] = new Map();
    };
    for (const attempt of [1, 2]) {
      const { code, stdout, stderr } = await install("--replace");
      expect(stderr, `run ${attempt}`).toBe(
        `${PROGRAM}: removing the replaced certificate from ${TOKEN} failed: CKR_ACTION_PROHIBITED (0x1B)`
          + " (this certificate was removed again: the token is as before)\n",
      );
      expect([code, stdout]).toEqual([5, ""]);
      expect(certificates().map((c) => c.get(CKA.VALUE))).toEqual([otherDer]);
    }
  });

  it("--replace of two old certificates, the second not removable: ours removed, the message says the first was", async () => {
    const first = new Map(token.objects[0]!).set(CKA.CLASS, ulong(CKO.CERTIFICATE)).set(CKA.VALUE, otherDer);
    const second = new Map(first).set(CKA.VALUE, Buffer.from("an older certificate"));
    token.objects.unshift(first, second);
    token.keys = new Map([[2, leafKey]]);
    token.override.C_DestroyObject = (_session, handle) => {
      const index = Number((handle as Buffer).readBigUInt64LE(0)) - 1;
      if (token.objects[index] === second) throw new Error("CKR_ACTION_PROHIBITED:27");
      token.objects[index] = new Map();
    };
    const { code, stderr } = await install("--replace");
    expect(stderr).toBe(
      `${PROGRAM}: removing the replaced certificate from ${TOKEN} failed: CKR_ACTION_PROHIBITED (0x1B)`
        + " (this certificate was removed again; 1 of the 2 replaced ones were)\n",
    );
    expect(code).toBe(5);
    expect(certificates().map((c) => c.get(CKA.VALUE))).toEqual([second.get(CKA.VALUE)]);
  });

  it("the certificate already there next to another for the key: refused without --replace, the other removed with it", async () => {
    // Before: exit 0, "the certificate was already on the token", both left (the key then matches two certificates).
    const ours = new Map(token.objects[0]!).set(CKA.CLASS, ulong(CKO.CERTIFICATE)).set(CKA.VALUE, leafDer);
    const old = new Map(ours).set(CKA.VALUE, otherDer);
    token.objects.unshift(old, ours);
    token.keys = new Map([[2, leafKey]]);
    const refused = await install();
    expect(refused.stderr).toBe(
      `${PROGRAM}: ${TOKEN} holds this certificate and 1 other(s) with the key's id 31 (pass --replace to remove the`
        + " others: a key with two certificates cannot be used)\n",
    );
    expect([refused.code, certificates().map((c) => c.get(CKA.VALUE))]).toEqual([3, [otherDer, leafDer]]);
    const replaced = await install("--replace");
    expect([replaced.code, replaced.stderr]).toEqual([0, "the certificate was already on the token\n"]);
    expect(certificates().map((c) => c.get(CKA.VALUE))).toEqual([leafDer]);
  });

  it("another program storing a certificate for the key at each attempt: ours removed, given up after 3", async () => {
    token.override.C_CreateObject = (_session, template) => {
      const ours = templateAttributes(template);
      token.objects.push(ours, new Map(ours).set(CKA.VALUE, otherDer)); // and the other's, at the same moment
      return ulong(token.objects.length - 1);
    };
    const { code, stdout, stderr } = await install("--replace");
    expect(stderr).toBe(
      `roles-anywhere-agent: another program stored certificates with the key's id 31 on ${TOKEN} meanwhile `
        + "(was install-certificate run twice at once? Run it again once the other has finished)\n",
    );
    expect([code, stdout]).toEqual([3, ""]);
    expect(token.calls.filter((c) => c === "C_CreateObject")).toHaveLength(3);
    expect(certificates().filter((c) => c.get(CKA.VALUE)?.equals(leafDer))).toEqual([]);
  });

  it.each([[false], [true]])("another program's certificate stored meanwhile, ours not removable (replace: %s): said, exit 5", async (replace) => {
    // Before: exit 0, "the certificate was already on the token" (ours, found at the next attempt), two certificates left.
    let meanwhile = true;
    token.override.C_CreateObject = (_session, template) => {
      const ours = templateAttributes(template);
      token.objects.push(ours, ...(meanwhile ? [new Map(ours).set(CKA.VALUE, otherDer)] : []));
      meanwhile = false;
      return ulong(token.objects.indexOf(ours) + 1);
    };
    token.override.C_DestroyObject = () => {
      throw new Error("CKR_ACTION_PROHIBITED:27");
    };
    const { code, stdout, stderr } = await install(...(replace ? ["--replace"] : []));
    expect(stderr).toBe(
      `${PROGRAM}: removing this certificate again from ${TOKEN}, where another program stored one for the key meanwhile, failed: `
        + "CKR_ACTION_PROHIBITED (0x1B) (the key now has this certificate and the other's: delete the one not wanted with the token's tools"
        + " (e.g. pkcs11-tool --delete-object))\n",
    );
    expect([code, stdout]).toEqual([5, ""]);
    expect(certificates().map((c) => c.get(CKA.VALUE))).toEqual([leafDer, otherDer]);
  });

  it("ours already removed by the other install (CKR_OBJECT_HANDLE_INVALID): no failure, the other's certificate kept", async () => {
    token.override.C_CreateObject = (_session, template) => {
      const ours = templateAttributes(template);
      token.objects.push(new Map(ours).set(CKA.VALUE, otherDer)); // the other's, which removed ours at once
      return ulong(token.objects.length + 1);
    };
    token.override.C_DestroyObject = () => {
      throw new Error("CKR_OBJECT_HANDLE_INVALID:130");
    };
    const { code, stderr } = await install();
    expect(stderr).toMatch(/already holds another certificate with the key's id 31 \(pass --replace to replace it/);
    expect(code).toBe(3);
    expect(certificates().map((c) => c.get(CKA.VALUE))).toEqual([otherDer]);
  });
});

describe("install-certificate for a key without a usable CKA_LABEL (none, or not UTF-8)", () => {
  it.each([["no label", undefined], ["a Latin-1 label", Buffer.from("Schl\u00fcssel", "latin1")]])(
    "%s: the URI printed selects the key and its certificate (no empty object=)",
    async (_, label) => {
      token.objects = [token.objects[1]!]; // the key alone
      if (label) token.objects[0]!.set(CKA.LABEL, label);
      else token.objects[0]!.delete(CKA.LABEL);
      token.keys = new Map([[0, leafKey]]);
      const installed = await run([
        "install-certificate", "--private-key", "pkcs11:token=fake;id=%31?pin-value=1234", "--certificate", leaf.certPath, "--pkcs11-lib", "/fake/module.so",
      ]);
      expect(installed.code, installed.stderr).toBe(0);
      const uri = /pkcs11:[^\s"]*/.exec(installed.stdout)?.[0];
      expect(uri).toBe("pkcs11:id=%31;serial=0001;token=fake");
      const signed = await run(["sign-string", "--certificate", `${uri}?pin-value=1234`, "--pkcs11-lib", "/fake/module.so"]);
      expect(signed.stderr).toBe("");
      expect(signed.code).toBe(0);
    },
  );
});

describe("a user PIN the token asked for, none given: once per holder", () => {
  it("a re-open after a device error asks no more (2>log: the terminal asked again at each open)", async () => {
    const { holdSigner } = await import("../../../src/credentials/signer-holder.js");
    const { DeviceError } = await import("../../../src/errors.js");
    const { Secret } = await import("../../../src/secrets/secret.js");
    const prompt = vi.fn(async () => Secret.fromUtf8("1234"));
    vi.doMock("../../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal: prompt }));
    try {
      const pkcs11 = { library: "/fake/module.so" };
      const holder = holdSigner({ certificate: "pkcs11:token=fake;object=device", pkcs11 }, createSigner, () => {});
      await holder.open();
      await holder.release(new DeviceError("PKCS11_ERROR", "the token went away"));
      await holder.acquire();
      await holder.close();
      expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(2);
      expect(prompt).toHaveBeenCalledTimes(1);
    } finally {
      vi.doUnmock("../../../src/secrets/terminal-prompt.js");
    }
  });

  it("a typed PIN the token rejected is not kept", async () => {
    const { holdSigner } = await import("../../../src/credentials/signer-holder.js");
    const { Secret } = await import("../../../src/secrets/secret.js");
    const prompt = vi.fn(async () => Secret.fromUtf8("9999"));
    vi.doMock("../../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal: prompt }));
    token.override.C_Login = () => {
      throw new Error("CKR_PIN_INCORRECT:160");
    };
    try {
      const askedPin: NonNullable<Parameters<typeof holdSigner>[0]["askedPin"]> = {};
      const pkcs11 = { library: "/fake/module.so" };
      const holder = holdSigner({ certificate: "pkcs11:token=fake;object=device", pkcs11, askedPin }, createSigner, () => {});
      await expect(holder.open()).rejects.toMatchObject({ category: "auth" });
      await expect(holder.acquire()).rejects.toMatchObject({ category: "auth" });
      expect((askedPin.pin as { peek(): unknown } | undefined)?.peek()).toBeUndefined(); // a RememberedPin, wiped
      expect(prompt).toHaveBeenCalledTimes(1);
      expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(1);
    } finally {
      vi.doUnmock("../../../src/secrets/terminal-prompt.js");
    }
  });
});

describe("the read-write session keygen and install-certificate open (token-session)", () => {
  const library = "/fake/module.so";
  const spec = { kind: "EC", curve: "P-256", name: "p256" } as const;
  const certificate = new Certificate(leafDer);
  const KEY = "pkcs11:token=fake;object=device?pin-value=1234";
  const calls = [
    ["generateKeyOnToken", () => generateKeyOnToken({ uri: "pkcs11:token=fake;object=new?pin-value=1234", spec, library })],
    ["installOnToken", () => installOnToken({ keyUri: KEY, certificate, chain: [], replace: false, library })],
  ] as const;

  it.each(calls)("%s on a write-protected token: refused before a session is opened or a PIN presented", async (_name, call) => {
    token.flags |= CKF.WRITE_PROTECTED;
    await expect(call()).rejects.toMatchObject({ code: "PKCS11_ERROR", message: 'token "fake" (serial 0001) is write-protected' });
    expect(token.calls.filter((c) => /^C_(OpenSession|Login|CreateObject|GenerateKeyPair)$/.test(c))).toEqual([]);
    expect(token.calls.at(-1)).toBe("C_Finalize"); // the module released
  });

  it.each(calls)("%s: one read-write session, logged in once, closed when done, the module released", async (_name, call) => {
    const flags: unknown[] = [];
    token.override.C_OpenSession = (_slot, f) => (flags.push(f), ulong(1));
    await call().catch(() => undefined); // keygen fails on this module (no C_GenerateKeyPair): the session ends alike
    expect(flags).toEqual([CKF.SERIAL_SESSION | CKF.RW_SESSION]);
    expect(token.calls.filter((c) => c === "C_Login")).toHaveLength(1);
    expect(token.calls.slice(-2)).toEqual(["C_CloseSession", "C_Finalize"]);
  });
});

describe("keygen's templates (token-keygen): what is asked of the module, strictest first", () => {
  const NAMES = new Map<number, string>(Object.entries(CKA).map(([name, type]) => [type, name]));
  const asked = (template: unknown) =>
    Object.fromEntries((template as { type: number; value: unknown }[]).map(({ type, value }) => [NAMES.get(type), value]));
  const keygen = (keyType: string, uri = "pkcs11:token=fake;object=new;id=%0a?pin-value=1234") =>
    run(["keygen", "--private-key", uri, "--key-type", keyType, "--pkcs11-lib", "/fake/module.so"]);

  /** Records each C_GenerateKeyPair and refuses it with `ckr`. */
  function refusing(ckr: string): { mechanism: number; publicKey: Record<string, unknown>; privateKey: Record<string, unknown> }[] {
    const seen: { mechanism: number; publicKey: Record<string, unknown>; privateKey: Record<string, unknown> }[] = [];
    token.override.C_GenerateKeyPair = (_session, mechanism, publicTemplate, privateTemplate) => {
      seen.push({ mechanism: (mechanism as { mechanism: number }).mechanism, publicKey: asked(publicTemplate), privateKey: asked(privateTemplate) });
      throw new Error(ckr);
    };
    return seen;
  }

  const common = { TOKEN: true, ID: Buffer.from([0x0a]), LABEL: "new" };
  const signOnly = { SIGN: true, SIGN_RECOVER: false, DECRYPT: false, UNWRAP: false };

  it("P-256: a sensitive, non-extractable, sign-only private key; each template refused in turn, then the first refusal reported", async () => {
    const seen = refusing("CKR_GENERAL_ERROR:5");
    const { code, stdout, stderr } = await keygen("p256");
    const publicBase = { CLASS: CKO.PUBLIC_KEY, ...common, PRIVATE: false, EC_PARAMS: derOid(NAMED_CURVES["P-256"].oid) };
    const privateBase = { CLASS: CKO.PRIVATE_KEY, KEY_TYPE: CKK.EC, ...common, PRIVATE: true, SENSITIVE: true, EXTRACTABLE: false };
    expect(seen).toEqual([
      { mechanism: CKM.EC_KEY_PAIR_GEN, publicKey: { ...publicBase, VERIFY: true, ENCRYPT: false, WRAP: false }, privateKey: { ...privateBase, ...signOnly, DERIVE: false } },
      { mechanism: CKM.EC_KEY_PAIR_GEN, publicKey: publicBase, privateKey: { ...privateBase, ...signOnly, DERIVE: false } },
      { mechanism: CKM.EC_KEY_PAIR_GEN, publicKey: publicBase, privateKey: { ...privateBase, SIGN: true } },
    ]);
    expect(stderr).toMatch(/\nroles-anywhere-agent: .*CKR_GENERAL_ERROR.*\n$/);
    expect(code).toBe(5);
    expect(stdout).toBe("");
  });

  it("RSA-3072: the RSA mechanism, key type, size and exponent 65537; no CKA_DERIVE", async () => {
    const seen = refusing("CKR_TEMPLATE_INCONSISTENT:209");
    await keygen("rsa3072");
    expect(seen).toHaveLength(3);
    expect(seen[0]).toEqual({
      mechanism: CKM.RSA_PKCS_KEY_PAIR_GEN,
      publicKey: { CLASS: CKO.PUBLIC_KEY, ...common, PRIVATE: false, MODULUS_BITS: 3072, PUBLIC_EXPONENT: Buffer.from([1, 0, 1]), VERIFY: true, ENCRYPT: false, WRAP: false },
      privateKey: { CLASS: CKO.PRIVATE_KEY, KEY_TYPE: CKK.RSA, ...common, PRIVATE: true, SENSITIVE: true, EXTRACTABLE: false, ...signOnly },
    });
  });

  it.each([
    "CKR_ATTRIBUTE_TYPE_INVALID:18", "CKR_ATTRIBUTE_VALUE_INVALID:19", "CKR_ATTRIBUTE_READ_ONLY:16",
    "CKR_TEMPLATE_INCONSISTENT:209", "CKR_TEMPLATE_INCOMPLETE:208", "CKR_GENERAL_ERROR:5",
  ])("%s is a refusal of the template: the next one is tried", async (ckr) => {
    const seen = refusing(ckr);
    expect((await keygen("p256")).code).toBe(5);
    expect(seen).toHaveLength(3);
  });

  it("a refusal that is not about the template (CKR_DEVICE_ERROR): no other template tried", async () => {
    const seen = refusing("CKR_DEVICE_ERROR:48");
    expect((await keygen("p256")).code).toBe(5);
    expect(seen).toHaveLength(1);
  });

  it.each([
    ["the label", "pkcs11:token=fake;object=device;id=%0a?pin-value=1234", 'already has objects with label "device"'],
    ["the id", "pkcs11:token=fake;object=new;id=1?pin-value=1234", "already has objects with id 31 (choose"],
    ["both", "pkcs11:token=fake;object=device;id=1?pin-value=1234", 'already has objects with id 31 and label "device"'],
  ])("an existing object sharing %s: nothing generated, exit 3", async (_what, uri, text) => {
    const seen = refusing("CKR_DEVICE_ERROR:48");
    const { code, stderr } = await keygen("p256", uri);
    expect(stderr).toContain(`token "fake" (serial 0001) ${text}`);
    expect(stderr).toContain("keygen never replaces or shares an existing key's identity");
    expect(code).toBe(3);
    expect(seen).toEqual([]);
  });

  /** A module that makes the pair as asked, with the flags keygen asks for and `publicAttributes` on the public key. */
  function generatesWith(publicAttributes: Attributes): void {
    token.override.C_GenerateKeyPair = (_session, _mechanism, publicTemplate, privateTemplate) => {
      const publicKey = templateAttributes(publicTemplate);
      for (const [type, value] of publicAttributes) publicKey.set(type, value);
      const privateKey = templateAttributes(privateTemplate);
      for (const type of [CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE]) privateKey.set(type, Buffer.from([1]));
      for (const type of [CKA.DECRYPT, CKA.UNWRAP, CKA.SIGN_RECOVER, CKA.DERIVE]) privateKey.set(type, Buffer.from([0]));
      token.objects.push(publicKey, privateKey);
      return { publicKey: ulong(token.objects.length - 1), privateKey: ulong(token.objects.length) };
    };
  }

  it.each([
    ["an RSA modulus shown as zeros (a placeholder)", "rsa3072", new Map([[CKA.MODULUS, Buffer.alloc(384)]])],
    ["EC parameters in an encoding not judged (an unknown OID)", "p256", new Map([[CKA.EC_PARAMS, derOid("1.3.6.1.4.1.99999.1")]])],
  ])("%s: nothing to judge, the key is kept", async (_what, keyType, attributes) => {
    generatesWith(attributes);
    const { code, stdout, stderr } = await keygen(keyType);
    expect(stderr).not.toContain("roles-anywhere-agent:");
    expect(code).toBe(0);
    expect(stdout).toBe("pkcs11:id=%0A;object=new;serial=0001;token=fake\n");
  });

  /** A module that makes the pair as asked and, at the same moment, another keygen's key with `twinId`. */
  function generatesWithTwin(twinId: Buffer): void {
    token.override.C_GenerateKeyPair = (_session, _mechanism, publicTemplate, privateTemplate) => {
      const twin = templateAttributes(privateTemplate);
      twin.set(CKA.ID, twinId);
      const publicKey = templateAttributes(publicTemplate).set(CKA.EC_PARAMS, derOid(NAMED_CURVES["P-256"].oid));
      const privateKey = templateAttributes(privateTemplate);
      for (const type of [CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE]) privateKey.set(type, Buffer.from([1]));
      for (const type of [CKA.DECRYPT, CKA.UNWRAP, CKA.SIGN_RECOVER, CKA.DERIVE]) privateKey.set(type, Buffer.from([0]));
      token.objects.push(twin, publicKey, privateKey);
      return { publicKey: ulong(token.objects.length - 1), privateKey: ulong(token.objects.length) };
    };
  }

  it("a twin made meanwhile (another keygen, same label): the pair made is destroyed, the twin left, exit 3", async () => {
    generatesWithTwin(Buffer.from([0x0b])); // another keygen's key: same label, its own id
    const objects = token.objects.length;
    const { code, stdout, stderr } = await keygen("p256");
    expect(stderr).toContain('token "fake" (serial 0001) got other objects with label "new" or id 0a while this key was made; it was destroyed');
    expect(stderr).toMatch(/ \(another keygen ran at the same time: use the key it made, or run keygen again with another label\)\n$/);
    expect(code).toBe(3);
    expect(stdout).toBe("");
    expect(token.objects.slice(objects).map((o) => o.size > 0)).toEqual([true, false, false]);
  });

  it.each([
    ["its own id: the pair to delete named by the id and label only it has",
      0x0b, "the pair to delete is this keygen's, the only one with both id 0a and label \"new\"; keep the other keygen's"],
    ["the same id: the two cannot be told apart, both to delete",
      0x0a, "another keygen made a pair with the same id 0a and label \"new\" at the same time: the two cannot be told apart; delete both"],
  ])("a twin with %s, the token refusing to destroy the pair made", async (_what, twinId, hint) => {
    // Before: "use the key it made", with two pairs under the label and nothing to tell which one is the other's.
    generatesWithTwin(Buffer.from([twinId]));
    token.override.C_DestroyObject = () => {
      throw new Error("CKR_ACTION_PROHIBITED:27");
    };
    const objects = token.objects.length;
    const { code, stdout, stderr } = await keygen("p256");
    expect(stderr).toContain("while this key was made; it could not be destroyed: delete it with the token's tools (another keygen ");
    expect(stderr).toContain(hint);
    expect(stderr).not.toContain("use the key it made");
    expect([code, stdout]).toEqual([3, ""]);
    expect(token.objects.slice(objects).map((o) => o.size > 0)).toEqual([true, true, true]);
  });
});

describe("install-certificate's objects (install-on-token)", () => {
  const library = "/fake/module.so";
  const keyUri = "pkcs11:token=fake;object=device?pin-value=1234";
  const caCertificate = new Certificate(Buffer.from(ca.certPem.replace(/-----[^-]+-----|\s/g, ""), "base64"));
  const certificates = () => token.objects.filter((o) => o.get(CKA.CLASS)?.equals(ulong(CKO.CERTIFICATE)));

  it("the replaced certificate is destroyed and the new one stored next to the key, public, on the token, as a user's", async () => {
    token.objects[0]!.set(CKA.VALUE, otherDer);
    const result = await installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: true, library });
    expect(result).toEqual({ uri: "pkcs11:id=%31;object=device;serial=0001;token=fake", written: true, chainWritten: 0 });
    const [stored, ...more] = certificates();
    expect(more).toEqual([]);
    expect(stored!.get(CKA.VALUE)).toEqual(leafDer);
    expect(Object.fromEntries([CKA.ID, CKA.LABEL, CKA.TOKEN, CKA.PRIVATE, CKA.CERTIFICATE_TYPE, CKA.CERTIFICATE_CATEGORY].map((t) => [t, stored!.get(t)])))
      .toEqual(Object.fromEntries([[CKA.ID, Buffer.from("1")], [CKA.LABEL, Buffer.from("device")], [CKA.TOKEN, Buffer.from([1])],
        [CKA.PRIVATE, Buffer.from([0])], [CKA.CERTIFICATE_TYPE, ulong(0)], [CKA.CERTIFICATE_CATEGORY, ulong(1)]]));
  });

  it("the same certificate again: nothing written; the chain's CA stored once, as an authority, named by its CN", async () => {
    const first = await installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [caCertificate], replace: false, library });
    expect(first).toMatchObject({ written: false, chainWritten: 1 });
    const again = await installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [caCertificate], replace: false, library });
    expect(again).toMatchObject({ written: false, chainWritten: 0 });
    const cas = certificates().filter((o) => o.get(CKA.VALUE)?.equals(caCertificate.der));
    expect(cas).toHaveLength(1);
    expect(cas[0]!.get(CKA.LABEL)).toEqual(Buffer.from("Hostile Module CA"));
    expect(cas[0]!.get(CKA.CERTIFICATE_CATEGORY)).toEqual(ulong(2));
    expect(cas[0]!.get(CKA.ID)).toHaveLength(20);
    expect(cas[0]!.get(CKA.ID)).not.toEqual(Buffer.from("1"));
  });

  it("a key with no CKA_ID, or two keys matching: refused, nothing stored", async () => {
    const before = token.objects.length;
    token.objects[1]!.set(CKA.ID, Buffer.alloc(0));
    await expect(installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: true, library }))
      .rejects.toMatchObject({ code: "PKCS11_OBJECT_NOT_FOUND", message: expect.stringMatching(/has no CKA_ID to give its certificate$/) });
    token.objects[1]!.set(CKA.ID, Buffer.from("1"));
    token.objects.push(new Map(token.objects[1]!).set(CKA.ID, Buffer.from("2")));
    await expect(installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: true, library }))
      .rejects.toMatchObject({ message: expect.stringMatching(/matches 2 private keys/) });
    expect(token.objects.length).toBe(before + 1);
    expect(token.calls).not.toContain("C_CreateObject");
  });

  it("a certificate of another key, or no key matching: refused, nothing stored", async () => {
    await expect(installOnToken({ keyUri, certificate: new Certificate(otherDer), chain: [], replace: true, library }))
      .rejects.toMatchObject({ code: "KEY_CERTIFICATE_MISMATCH" });
    await expect(installOnToken({ keyUri: "pkcs11:token=fake;object=nothing?pin-value=1234", certificate: new Certificate(leafDer), chain: [], replace: true, library }))
      .rejects.toMatchObject({ code: "PKCS11_OBJECT_NOT_FOUND", message: 'no private key matches pkcs11:object=nothing;token=fake on token "fake" (serial 0001)' });
    expect(token.calls).not.toContain("C_CreateObject");
    expect(token.calls).not.toContain("C_DestroyObject");
  });

  it("a certificate with the key's id whose value the module does not give: another's, kept or replaced as such", async () => {
    token.objects[0]!.delete(CKA.VALUE);
    await expect(installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: false, library }))
      .rejects.toMatchObject({ code: "OBJECT_EXISTS", message: 'token "fake" (serial 0001) already holds another certificate with the key\'s id 31' });
    const result = await installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: true, library });
    expect(result).toMatchObject({ written: true });
    expect(certificates().map((o) => o.get(CKA.VALUE))).toEqual([leafDer]);
  });

  it("a module that cannot store the certificate for another reason: asked once, not again without the category", async () => {
    token.objects[0]!.set(CKA.VALUE, otherDer);
    token.override.C_CreateObject = () => {
      throw new Error("CKR_DEVICE_MEMORY:49");
    };
    await expect(installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: true, library }))
      .rejects.toMatchObject({ message: expect.stringContaining("CKR_DEVICE_MEMORY") });
    expect(token.calls.filter((c) => c === "C_CreateObject")).toHaveLength(1);
  });

  it("two keys matching: the error lists both, to pick from", async () => {
    token.objects.push(new Map(token.objects[1]!).set(CKA.ID, Buffer.from("2")));
    const error = await installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: true, library }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "PKCS11_AMBIGUOUS",
      candidates: ["%31", "%32"].map((id) => `pkcs11:id=${id};manufacturer=Fake;model=F1;object=device;serial=0001;token=fake;type=private`),
    });
  });

  it("the chain's CAs are named by their CN wherever it is in the subject, or \"CA certificate\" without one", async () => {
    const named = (name: string, subject: string) =>
      new Certificate(Buffer.from(issueLeaf(ca, join(dir, name), { name, subject, keyType: "p256" }).certPem.replace(/-----[^-]+-----|\s/g, ""), "base64"));
    const chain = [named("cn-last", "/C=DE/O=Chain Org/CN=Chain Issuing CA"), named("no-cn", "/C=DE/O=Chain Org Without CN")];
    const result = await installOnToken({ keyUri, certificate: new Certificate(leafDer), chain, replace: false, library });
    expect(result.chainWritten).toBe(2);
    const labels = chain.map((c) => certificates().find((o) => o.get(CKA.VALUE)?.equals(c.der))?.get(CKA.LABEL)?.toString());
    expect(labels).toEqual(["Chain Issuing CA", "CA certificate"]);
  });

  it.each(["keyUri", "certificate", "chain"])("installOnToken without %s: a usage error naming it, nothing asked of the module", async (left) => {
    const options: Record<string, unknown> = { keyUri, certificate: new Certificate(leafDer), chain: [], replace: false, library };
    delete options[left];
    await expect(installOnToken(options as never)).rejects.toMatchObject({ code: "USAGE", message: expect.stringContaining(left) });
    expect(token.calls).toEqual([]);
  });

  it("a token that refuses CKA_CERTIFICATE_CATEGORY: the certificate stored without it", async () => {
    token.objects[0]!.set(CKA.VALUE, otherDer);
    const create = (template: unknown) => {
      if ((template as { type: number }[]).some(({ type }) => type === CKA.CERTIFICATE_CATEGORY)) throw new Error("CKR_ATTRIBUTE_TYPE_INVALID:18");
      token.objects.push(templateAttributes(template));
      return ulong(token.objects.length);
    };
    token.override.C_CreateObject = (_session, template) => create(template);
    const result = await installOnToken({ keyUri, certificate: new Certificate(leafDer), chain: [], replace: true, library });
    expect(result.written).toBe(true);
    expect(certificates().map((o) => [o.get(CKA.VALUE), o.has(CKA.CERTIFICATE_CATEGORY)])).toEqual([[leafDer, false]]);
  });
});

describe("a pin-value taken out of the settings' text (uriPin) is presented where the URI gave it", () => {
  const pinFile = join(dir, "uri-pin");
  const device = "pkcs11:token=fake;object=device";
  it.each([
    ["the certificate's URI alone", [device, device], "1234"],
    ["the key's pin-value before the certificate's pin-source", [`${device}?pin-value=1234`, `${device}?pin-source=/nonexistent/pin`], "1234"],
    ["the key's pin-source before the certificate's pin-value", [`${device}?pin-source=${pinFile}`, `${device}?pin-value=9999`], "1234"],
  ])("%s", async (_what, [key, certificate], pin) => {
    writeFileSync(pinFile, "1234", { mode: 0o600 });
    const presented: unknown[] = [];
    token.override.C_Login = (...a: unknown[]) => void presented.push(a[2]);
    const args = key === certificate ? ["--certificate", `${device}?pin-value=1234`] : ["--certificate", certificate!, "--private-key", key!];
    const { code, stderr } = await run(["sign-string", ...args, "--pkcs11-lib", "/fake/module.so"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(presented).toEqual([pin]);
  });
});

describe("doctor with a pin-value taken out of the URI's text", () => {
  it("names no PIN file: the URI's PIN wins over --pkcs11-pin-file, whose file is not checked", async () => {
    const { stdout } = await run(["doctor", "--certificate", URI, "--pkcs11-lib", "/fake/module.so", "--pkcs11-pin-file", "/nonexistent/pin"]);
    expect(stdout).toMatch(/token login/);
    expect(stdout).not.toMatch(/PIN file/);
  });
});

describe("a pin-value in a URI given to the library directly (createSigner, createPkcs11Signer)", () => {
  it.each([
    ["closed after signing", URI, true],
    ["refused while building (no such key)", "pkcs11:token=fake;object=nope?pin-value=1234", false],
  ])("%s: the bytes the parser made of it are zero", async (_what, uri, builds) => {
    const made = vi.spyOn(Secret, "fromBytes");
    try {
      const opening = createSigner({ certificate: uri, pkcs11: { library: "/fake/module.so" } });
      if (builds) {
        const signer = await opening;
        await signer.sign(Buffer.from("m"), "SHA256");
        await signer.close();
      } else await expect(opening).rejects.toThrow(/no .*private key matches|no certificate/);
      const pins = made.mock.results.map((r) => r.value as { use: (fn: () => boolean) => boolean });
      expect(pins.length).toBeGreaterThan(0);
      expect(pins.filter((pin) => { try { return pin.use(() => true); } catch { return false; } })).toEqual([]); // before: 1 (each open's)
    } finally {
      made.mockRestore();
    }
  });
});

describe("a key URI whose pin-source is refused (https:, another host's file://)", () => {
  it.each(["https://host/pin", "file://host/pin"])("pin-source=%s: the error, no module loaded", async (source) => {
    // Before round 29: the module was loaded and initialised, then released (before b41185e4, never released).
    const opening = createPkcs11Signer({ keyUri: `pkcs11:token=fake;object=device?pin-source=${source}`, library: "/fake/module.so" });
    await expect(opening).rejects.toMatchObject({ code: "PKCS11_URI_INVALID" });
    expect(token.calls).toEqual([]);
  });
});

describe("a pin-value in the URI given to keygen, install-certificate and the certificate listing (library and CLI)", () => {
  const library = "/fake/module.so";
  const spec = { kind: "EC", curve: "P-256", name: "p256" } as const;
  it.each([
    ["generateKeyOnToken", () => generateKeyOnToken({ uri: "pkcs11:token=fake;object=new?pin-value=1234", spec, library })],
    ["installOnToken", () => installOnToken({ keyUri: URI, certificate: new Certificate(leafDer), chain: [], replace: false, library })],
    ["listPkcs11Certificates", () => listPkcs11Certificates({ uri: "pkcs11:token=fake?pin-value=1234", library })],
    ["keygen", () => run(["keygen", "--private-key", "pkcs11:token=fake;object=new?pin-value=1234", "--key-type", "p256", "--pkcs11-lib", library])],
  ])("%s: the bytes the parser made of it are zero once it returns", async (_name, call) => {
    // Before: each parse's pin-value stayed in memory unwiped (the signer's were wiped since round 28, these not).
    const made = vi.spyOn(Secret, "fromBytes");
    try {
      await (call as () => Promise<unknown>)().catch(() => undefined); // keygen fails on this module (no C_GenerateKeyPair)
      const pins = made.mock.results.map((r) => r.value as { use: (fn: () => boolean) => boolean });
      expect(pins.length).toBeGreaterThan(0);
      expect(pins.filter((pin) => { try { return pin.use(() => true); } catch { return false; } })).toEqual([]);
    } finally {
      made.mockRestore();
    }
  });
});
