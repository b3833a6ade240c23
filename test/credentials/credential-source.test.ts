import { afterAll, describe, expect, it, vi } from "vitest";
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { createCredentialSource, type SessionCreator } from "../../src/credentials/credential-source.js";
import { SourceRegistry } from "../../src/credentials/source-registry.js";
import type { Credentials } from "../../src/rolesanywhere/credentials.js";
import type { Signer } from "../../src/signers/signer.js";
import { AuthError, DeviceError, InputError, NetworkError } from "../../src/errors.js";
import { Certificate } from "../../src/x509/certificate.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";
import { VirtualTime } from "../../bench/lib/virtual-time.js";
import { createSigner as createFileSigner } from "../../src/signers/factory.js";
import type { SignerFactory } from "../../src/credentials/signer-holder.js";
import { KeyFileSigner, startEndpoint, successBody } from "../rolesanywhere/support.js";
import { standInSettings } from "../helpers/stand-in.js";
import { waitForDevice } from "../../src/signers/wait-for-device.js";
import { heldSecret } from "../../src/secrets/secret-source.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { ARNS } from "../local-endpoint/support.js";

const settings = standInSettings;

let n = 0;
const creds = (): Credentials => ({
  accessKeyId: `AK${++n}`,
  secretAccessKey: "s",
  sessionToken: "t",
  expiration: new Date(Date.now() + 3600_000),
});

function fakeSigner(backend: Signer["backend"], publicKeyPem?: string): Signer & { closed: number } {
  const s = {
    closed: 0,
    keyType: "EC" as const,
    backend,
    certificate: async () => undefined,
    certificateChain: async () => [],
    publicKey: async () => (publicKeyPem ? createPublicKey(publicKeyPem) : undefined),
    sign: async () => Buffer.alloc(0),
    close: async () => {
      s.closed++;
    },
  };
  return s;
}

describe("credential source", () => {
  const { dir, cleanup } = makeTempDir("raa-source-");
  afterAll(cleanup);

  /** A clock the test moves; background refreshes are awaited with a few macrotask turns. */
  const clock = { t: Date.now() };
  const now = () => clock.t;
  const settle = () => new Promise((r) => setTimeout(r, 20));
  const hourCreds = () => ({ ...creds(), expiration: new Date(clock.t + 3600_000) });

  it("CreateSession's clock skew reaches the refresh engine: behind the endpoint's Date, credentials are served less long", async () => {
    // The endpoint's Date is 4 minutes ahead of this host's clock; Expiration (2030-01-01) is the service's time.
    const pki = createCa(join(dir, "skew"), { name: "Skew CA" });
    const leaf = issueLeaf(pki, join(dir, "skew"), { name: "skew-leaf", keyType: "p256" });
    const reply = { status: 201, body: successBody(), headers: { Date: new Date(Date.now() + 4 * 60_000).toUTCString() } };
    const server = await startEndpoint([reply]);
    try {
      const signer = new KeyFileSigner(leaf.keyPath, leaf.certPem);
      const endpoint = { ...settings().endpoint, endpoint: server.url, env: {} };
      const time = { t: Date.now() };
      const createSigner = async () => signer;
      const source = createCredentialSource({ name: "skew", settings: { ...settings(), endpoint }, createSigner, now: () => time.t });
      const got = await source.get();
      const expiresAt = got.expiration.getTime();
      time.t = expiresAt - 4 * 60_000 - 10_001; // the skew measured: under 4 min (whole seconds in Date, the way there)
      expect(source.cached()).toBe(got);
      time.t = expiresAt - 4 * 60_000 - 5_000;
      expect(source.cached()).toBeUndefined(); // before: served until Expiration − 10 s
      await source.close();
    } finally {
      await server.close();
    }
  });

  it("builds a new file signer for every refresh (renewed key and certificate are read again)", async () => {
    const signers: ReturnType<typeof fakeSigner>[] = [];
    const createSigner = vi.fn(async () => {
      const s = fakeSigner("file");
      signers.push(s);
      return s;
    });
    const source = createCredentialSource({ name: "f", settings: settings(), createSigner, createSession: async () => hourCreds(), now });
    await source.open();
    await source.get();
    expect(createSigner).toHaveBeenCalledTimes(1);
    expect(signers[0]!.closed).toBe(1);
    clock.t += 56 * 60_000; // refresh due
    await source.get();
    await settle();
    expect(createSigner).toHaveBeenCalledTimes(2);
    expect(signers[1]!.closed).toBe(1);
    await source.close();
  });

  it("keeps a hardware signer open across refreshes and re-opens it after a device error", async () => {
    const signers: ReturnType<typeof fakeSigner>[] = [];
    const createSigner = vi.fn(async () => {
      const s = fakeSigner("pkcs11");
      signers.push(s);
      return s;
    });
    let call = 0;
    const createSession: SessionCreator = async () => {
      call++;
      if (call === 3) throw new DeviceError("PKCS11_TOKEN_NOT_FOUND", "token removed");
      return hourCreds();
    };
    const source = createCredentialSource({ name: "h", settings: settings(), createSigner, createSession, now });
    await source.get();
    clock.t += 56 * 60_000;
    await source.get();
    await settle();
    expect(call).toBe(2);
    expect(createSigner).toHaveBeenCalledTimes(1); // same session for both refreshes
    expect(signers[0]!.closed).toBe(0);
    clock.t += 56 * 60_000;
    await source.get(); // stale hit → background refresh → device error
    await settle();
    expect(source.status().lastError?.code).toBe("PKCS11_TOKEN_NOT_FOUND");
    expect(signers[0]!.closed).toBe(1);
    clock.t += 2_000; // past the retry delay
    await source.get(); // still served from cache; the background refresh re-opens the signer
    await settle();
    expect(createSigner).toHaveBeenCalledTimes(2);
    expect(source.status().consecutiveFailures).toBe(0);
    await source.close();
    expect(signers[1]!.closed).toBe(1);
  });

  it("opens no signer once it is being closed (a request during a reload): no token session or TPM key left open", async () => {
    // Before: a request in the close window (the old source is still registered while its signer closes) opened a
    // new signer, which nothing closed: a TPM key or a token session per such request, until the process ended.
    const createSigner = vi.fn(async () => fakeSigner("tpm"));
    const source = createCredentialSource({ name: "c", settings: settings(), createSigner, createSession: async () => hourCreds(), now });
    const closing = source.close();
    await expect(source.get()).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE", message: "c was closed (reloaded or removed): ask again" });
    await closing;
    expect(createSigner).not.toHaveBeenCalled();
  });

  it("open() and a request at once open one signer; close() during open() closes the signer it opened", async () => {
    // Before: `open()` not awaited, then `start()` or `get()` (a library host), opened two token sessions or TPM
    // keys, and the first was never closed; close() while open() was in flight left the signer it opened open.
    const signers: ReturnType<typeof fakeSigner>[] = [];
    const createSigner = vi.fn(async () => {
      await settle();
      const s = fakeSigner("pkcs11");
      signers.push(s);
      return s;
    });
    const source = createCredentialSource({ name: "o", settings: settings(), createSigner, createSession: async () => hourCreds(), now });
    await Promise.all([source.open(), source.get()]);
    expect(createSigner).toHaveBeenCalledTimes(1);
    await source.close();
    expect(signers.map((s) => s.closed)).toEqual([1]);

    const other = createCredentialSource({ name: "p", settings: settings(), createSigner, createSession: async () => hourCreds(), now });
    const opening = other.open();
    await other.close();
    await opening.catch(() => {});
    expect(signers.map((s) => s.closed)).toEqual([1, 1]);
  });

  it("close() ends a --wait-for-device wait at once: open() and a request fail as closed, and no signer is left open", async () => {
    // Before: open() with no token present, then close() (a library host), waited up to waitForDeviceMs (a day).
    let tries = 0;
    const createSigner = (_options: unknown, signal: AbortSignal) => waitForDevice(async (): Promise<Signer> => {
      tries++;
      throw new DeviceError("PKCS11_TOKEN_NOT_FOUND", "no token matches pkcs11:token=late");
    }, { timeoutMs: 86_400_000, signal, sleep: () => new Promise((r) => setTimeout(r, 2)) });
    const source = createCredentialSource({ name: "w", settings: settings(), createSigner, createSession: async () => hourCreds(), now });
    const opening = source.open();
    const request = source.get();
    await settle();
    expect(tries).toBeGreaterThan(0);
    const closed = await Promise.race([source.close().then(() => "closed"), settle().then(() => "still waiting")]);
    expect(closed).toBe("closed");
    const asClosed = { code: "AGENT_UNAVAILABLE", message: "w was closed (reloaded or removed): ask again" };
    await expect(opening).rejects.toMatchObject(asClosed);
    await expect(request).rejects.toMatchObject(asClosed);
    await expect(source.open()).rejects.toMatchObject(asClosed); // and opens nothing any more
  });

  it("a signer whose device call ends just as close() stops the wait is closed, not kept (open() fails as closed)", async () => {
    let finish!: () => void;
    const signers: ReturnType<typeof fakeSigner>[] = [];
    const createSigner = vi.fn(async () => {
      await new Promise<void>((r) => (finish = r)); // one PKCS#11 call in progress: it is not interrupted
      signers.push(fakeSigner("pkcs11"));
      return signers[0]!;
    });
    const source = createCredentialSource({ name: "x", settings: settings(), createSigner, createSession: async () => hourCreds(), now });
    const opening = source.open();
    await settle();
    const closing = source.close();
    finish();
    await closing;
    await expect(opening).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE" });
    expect(createSigner).toHaveBeenCalledTimes(1);
    expect(signers.map((s) => s.closed)).toEqual([1]);
  });

  it("a request during a reload shares the refresh in flight, or gets the cached credentials; the signer closes after", async () => {
    let answer!: (c: Credentials) => void;
    const signer = fakeSigner("tpm");
    const createSession = vi.fn(() => new Promise<Credentials>((resolve) => (answer = resolve)));
    const source = createCredentialSource({ name: "c", settings: settings(), createSigner: async () => signer, createSession, now });
    const first = source.get();
    await settle();
    const closing = source.close(); // SIGHUP: the profile changed
    const during = source.get(); // a request in the close window
    answer(hourCreds());
    const [a, b] = await Promise.all([first, during]);
    expect(b).toBe(a);
    await closing;
    expect(signer.closed).toBe(1);
    expect(source.cached()).toBe(a); // still valid: a request that found this source before the swap is answered
    expect(createSession).toHaveBeenCalledTimes(1);
  });

  it("a request refused by a closed source is not logged as a failed refresh with a retry that never comes", async () => {
    // Before, each request in a reload's close window logged "c: refresh failed (AGENT_UNAVAILABLE) …; retry #2 at …".
    const events: string[] = [];
    const onEvent = vi.fn((name: string, event: { type: string }) => events.push(`${name} ${event.type}`));
    const createSigner = async () => fakeSigner("tpm");
    const source = createCredentialSource({ name: "c", settings: settings(), createSigner, createSession: async () => hourCreds(), now, onEvent });
    await source.close();
    await expect(source.get()).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE" });
    await expect(source.get()).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE" });
    expect(events).toEqual([]);
  });

  it("tries a wrong PIN exactly once, at open, and never again", async () => {
    const createSigner = vi.fn(async (): Promise<Signer> => {
      throw new AuthError("PIN_INCORRECT", "the token rejected the PIN");
    });
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner, createSession: async () => creds() }));
    const result = await registry.apply([{ name: "gw", settings: settings() }]);
    expect(result.failed.map((f) => f.name)).toEqual(["gw"]);
    const source = registry.get("gw")!;
    for (let i = 0; i < 5; i++) await expect(source.get()).rejects.toThrow("the token rejected the PIN");
    expect(createSigner).toHaveBeenCalledTimes(1);
    expect(source.status().state).toBe("failed");
    // A reload rebuilds failed sources (e.g. after the PIN file was fixed).
    await registry.apply([{ name: "gw", settings: settings() }]);
    expect(createSigner).toHaveBeenCalledTimes(2);
    await registry.closeAll();
  });

  it("a key file re-encrypted under another password: decrypted once with the old one, never again in 24 h of refreshes", async () => {
    // PASSWORD_INCORRECT says "it is not retried": 24 virtual hours of refresh timers and requests every 10 minutes.
    const pki = createCa(join(dir, "pw"), { name: "Password CA" });
    const leaf = issueLeaf(pki, join(dir, "pw"), { name: "pw-leaf", keyType: "p256" });
    const keyPath = join(dir, "pw", "encrypted.pem");
    const encrypt = (password: string) =>
      openssl(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", leaf.keyPath, "-out", keyPath, "-passout", `pass:${password}`]);
    encrypt("first");
    const passwordFile = join(dir, "pw", "password");
    writeFileSync(passwordFile, "first", { mode: 0o600 });
    const time = new VirtualTime(Date.now());
    const opened: string[] = [];
    const createSigner: SignerFactory = async (options, signal) => {
      try {
        return await createFileSigner({ ...options, signOffThread: true }, signal);
      } finally {
        opened.push(readFileSync(keyPath, "utf8"));
      }
    };
    const createSession: SessionCreator = async (signer) => {
      await signer.sign(Buffer.from("request"), "SHA256");
      return { ...creds(), expiration: new Date(time.now() + 3600_000) };
    };
    const base = standInSettings(leaf.certPath, keyPath);
    const passwordSettings = { ...base, signer: { ...base.signer, keyPassword: { kind: "file" as const, path: passwordFile } } };
    const source = createCredentialSource({ name: "pw", settings: passwordSettings, createSigner, createSession, now: time.now, monotonic: time.now, timers: time });
    try {
      source.start();
      await source.get();
      encrypt("second"); // renewed by a tool that uses another password; the password file was not updated
      const failures = new Set<string>();
      for (let minute = 10; minute <= 24 * 60; minute += 10) {
        await time.runUntil(time.now() + 10 * 60_000);
        await source.get().then(() => {}, (error: { code: string }) => failures.add(error.code));
      }
      expect([...failures]).toEqual(["PASSWORD_INCORRECT"]);
      expect(opened).toHaveLength(2); // the first open, then one with the re-encrypted file
      expect(source.status()).toMatchObject({ state: "failed", nextAttemptAt: undefined });
    } finally {
      await source.close();
    }
  });

  it("a reload rebuilds a source that serves nothing because its key file could not be used: a fixed file is used at once", async () => {
    // Before: kept as unchanged, it answered the old error until its retry came (up to 5 minutes later).
    let broken = true;
    const createSigner = vi.fn(async (): Promise<Signer> => {
      if (broken) throw new InputError("PRIVATE_KEY_INVALID", "unable to parse private key: key.pem holds no private key");
      return fakeSigner("file");
    });
    const timers = { setTimeout: () => 0, clearTimeout: () => {} }; // the retry never comes by itself
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner, createSession: async () => hourCreds(), now, timers }));
    await registry.apply([{ name: "p", settings: settings() }]);
    await expect(registry.get("p")!.get()).rejects.toMatchObject({ code: "PRIVATE_KEY_INVALID" });
    broken = false;
    expect(await registry.apply([{ name: "p", settings: settings() }])).toMatchObject({ kept: [], replaced: ["p"], failed: [] });
    expect((await registry.get("p")!.get()).accessKeyId).toMatch(/^AK/);
    // One that serves credentials, its key broken since, is kept: it goes on serving them.
    broken = true;
    expect(await registry.apply([{ name: "p", settings: settings() }])).toMatchObject({ kept: ["p"] });
    await registry.closeAll();
  });

  it("a reload that keeps a source wipes the password it read again; the kept source's own is wiped when it closes", async () => {
    // A flag's password is read again at each reload (settingsFromArgs); unused, its bytes were left in the heap.
    const given = () => {
      const s = settings();
      const signer = { ...s.signer, keyPassword: credentialSettingsFromOptions({ ...ARNS, certificate: "/c.pem", keyPassword: "k3y-pw" }).signer.keyPassword };
      return { ...s, signer };
    };
    const bytesOf = (s: ReturnType<typeof given>) => heldSecret(s.signer.keyPassword)!.use((b) => b);
    const zero = (b: Buffer) => b.length > 0 && b.every((byte) => byte === 0);
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner: async () => fakeSigner("tpm"), createSession: async () => hourCreds(), now }));
    const [first, second] = [given(), given()];
    const [own, again] = [bytesOf(first), bytesOf(second)];
    await registry.apply([{ name: "p", settings: first }]);
    await registry.get("p")!.get();
    expect(await registry.apply([{ name: "p", settings: second }])).toMatchObject({ kept: ["p"] });
    expect([zero(own), zero(again)]).toEqual([false, true]);
    await registry.apply([{ name: "p", settings: first }]); // the same settings again: the source's own are not wiped
    expect(zero(own)).toBe(false);
    await registry.closeAll();
    expect(zero(own)).toBe(true);
  });

  it("a reload keeps a source still serving, its last refresh refused, and one expired by the network alone", async () => {
    // Rebuilt, either would close its signer (a token's login, a TPM session) for nothing: the reload fixes neither.
    const saved = clock.t;
    let fail: Error | undefined;
    const createSession = vi.fn(async () => {
      if (fail) throw fail;
      return hourCreds();
    });
    const timers = { setTimeout: () => 0, clearTimeout: () => {} };
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner: async () => fakeSigner("pkcs11"), createSession, now, timers }));
    try {
      await registry.apply([{ name: "serving", settings: settings() }]);
      await registry.get("serving")!.get();
      fail = new InputError("CERTIFICATE_EXPIRED", "the certificate expired");
      clock.t += 55 * 60_000; // past its refresh time, still valid
      await registry.get("serving")!.get();
      await settle();
      expect(registry.get("serving")!.status()).toMatchObject({ state: "stale", lastError: { code: "CERTIFICATE_EXPIRED" } });
      fail = new NetworkError("NETWORK_ERROR", "connect ECONNREFUSED");
      const serving = registry.get("serving");
      const added = await registry.apply([{ name: "serving", settings: settings() }, { name: "offline", settings: settings() }]);
      expect(added).toMatchObject({ kept: ["serving"], replaced: [], added: ["offline"] });
      await expect(registry.get("offline")!.get()).rejects.toMatchObject({ code: "NETWORK_ERROR" });
      expect(registry.get("offline")!.status().state).toBe("expired");
      const offline = registry.get("offline");
      const result = await registry.apply([{ name: "serving", settings: settings() }, { name: "offline", settings: settings() }]);
      expect(result).toMatchObject({ kept: ["serving", "offline"], replaced: [], added: [] });
      expect([registry.get("serving"), registry.get("offline")]).toEqual([serving, offline]);
    } finally {
      clock.t = saved;
      await registry.closeAll();
    }
  });

  it("a registry starts the sources it opens, names none it does not hold, and closeAll closes and forgets every one", async () => {
    const signers: ReturnType<typeof fakeSigner>[] = [];
    const createSession = vi.fn(async () => hourCreds());
    const registry = new SourceRegistry((spec) => createCredentialSource({
      ...spec, createSigner: async () => (signers.push(fakeSigner("tpm")), signers.at(-1)!), createSession, now,
    }));
    await registry.apply([{ name: "a", settings: settings() }, { name: "b", settings: settings() }]);
    await vi.waitFor(() => expect(createSession).toHaveBeenCalledTimes(2)); // started: fetched before any request
    expect(registry.get("missing")).toBeUndefined();
    expect(registry.all()).toEqual([registry.get("a"), registry.get("b")]);
    await registry.closeAll();
    expect([registry.names(), registry.all(), signers.map((s) => s.closed)]).toEqual([[], [], [1, 1]]);
  });

  it("re-reads a certificate file for a hardware key at every refresh and checks it matches the key", async () => {
    const ca = createCa(join(dir, "ca"), { name: "CA" });
    const first = issueLeaf(ca, join(dir, "l1"), { name: "dev" });
    const renewed = issueLeaf(ca, join(dir, "l2"), { name: "dev", keyPath: first.keyPath });
    const other = issueLeaf(ca, join(dir, "l3"), { name: "other" });
    const certPath = join(dir, "current.pem");
    copyFileSync(first.certPath, certPath);
    const publicKeyPem = createPublicKey(createPrivateKey(readFileSync(first.keyPath))).export({ type: "spki", format: "pem" }).toString();
    const seen: string[] = [];
    const createSession: SessionCreator = async (signer) => {
      seen.push((await signer.certificate())!.serialDecimal);
      return hourCreds();
    };
    const source = createCredentialSource({
      name: "c",
      settings: settings(certPath),
      createSigner: async () => fakeSigner("tpm", publicKeyPem),
      createSession,
      now,
      policy: { minRetryIntervalMs: 0 },
    });
    await source.get();
    copyFileSync(renewed.certPath, certPath);
    clock.t += 56 * 60_000;
    await source.get();
    await settle();
    expect(source.status().lastError).toBeUndefined();
    expect(seen).toEqual([first.serialDecimal, renewed.serialDecimal]);
    copyFileSync(other.certPath, certPath);
    clock.t += 56 * 60_000;
    await source.get();
    await settle();
    expect(source.status().lastError?.code).toBe("KEY_CERTIFICATE_MISMATCH");
    expect(seen).toHaveLength(2);
    await source.close();
  });

  it("a token or TPM key's certificate file replaced by a non-certificate is named as the caller names it", async () => {
    const notACertificate = join(dir, "not-a-cert.pem");
    writeFileSync(notACertificate, "no certificate here\n");
    const messageFor = async (names?: "options") => {
      const { signer, ...rest } = settings(notACertificate);
      const source = createCredentialSource({
        name: "c",
        settings: { ...rest, signer: { ...signer, ...(names ? { names } : {}) } },
        createSigner: async () => fakeSigner("tpm"),
        createSession: async (s) => ((await s.certificate()), hourCreds()),
        now,
      });
      const error = await source.get().catch((e: Error) => e);
      await source.close();
      return (error as Error & { toOneLine(): string }).toOneLine();
    };
    expect(await messageFor()).toMatch(/\(--certificate must be a PEM or DER/);
    const sdk = await messageFor("options"); // fromRolesAnywhere's choice; before: "--certificate" here too
    expect(sdk).toMatch(/\(certificate must be a PEM or DER/);
    expect(sdk).not.toContain("--");
  });

  it("a request during a reload is answered by the new source once it is open, never 'closed'; the old signer closes first", async () => {
    // Before: a profile without cached credentials answered "p was closed (reloaded or removed): ask again" (the
    // agent's 503 AGENT_UNAVAILABLE) to every request from the old signer's close until the new one was registered.
    const steps: string[] = [];
    const gates: Record<string, () => void> = {};
    const gate = (name: string) => new Promise<void>((r) => (gates[name] = r));
    let opened = 0;
    const createSigner = vi.fn(async () => {
      const v = ++opened;
      steps.push(`open ${v}`);
      if (v === 3) await gate("open 3");
      const signer = fakeSigner("tpm");
      signer.close = async () => {
        steps.push(`close ${v}`);
        if (v === 1) await gate("close 1");
      };
      return signer;
    });
    const createSession = async (): Promise<Credentials> => (steps.push(`session ${opened}`), { ...hourCreds(), accessKeyId: `v${opened}` });
    const timers = { setTimeout: () => 0, clearTimeout: () => {} }; // no proactive refresh: nothing cached
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner, createSession, now, timers }));
    await registry.apply([{ name: "p", settings: settings() }, { name: "gone", settings: settings() }]);
    const old = registry.get("p")!;
    const gone = registry.get("gone")!;
    const changed = { ...settings(), session: { ...settings().session, durationSeconds: 900 } };
    const reload = registry.apply([{ name: "p", settings: changed }]);
    await vi.waitFor(() => expect(gates["close 1"]).toBeTypeOf("function"));
    const duringClose = old.get();
    gates["close 1"]!();
    await vi.waitFor(() => expect(gates["open 3"]).toBeTypeOf("function"));
    const duringOpen = registry.get("p")!.get();
    gates["open 3"]!();
    await reload;
    expect((await duringClose).accessKeyId).toBe("v3");
    expect((await duringOpen).accessKeyId).toBe("v3");
    // The removed profile's signer (2) and the old one closed before the new one opened.
    expect(steps).toEqual(["open 1", "open 2", "close 2", "close 1", "open 3", "session 3"]);
    await expect(gone.get()).rejects.toMatchObject({ code: "AGENT_UNAVAILABLE" }); // removed: "closed" is right
    await registry.closeAll();
  });

  it("keeps unchanged sources (and their cache) across a reload, replaces changed ones, closes removed ones", async () => {
    const created: string[] = [];
    const registry = new SourceRegistry((spec) => {
      created.push(spec.name);
      return createCredentialSource({ ...spec, createSigner: async () => fakeSigner("pkcs11"), createSession: async () => creds() });
    });
    await registry.apply([
      { name: "a", settings: settings() },
      { name: "b", settings: settings() },
    ]);
    const a = registry.get("a");
    const result = await registry.apply([
      { name: "a", settings: settings() },
      { name: "c", settings: settings() },
      { name: "b", settings: { ...settings(), session: { ...settings().session, durationSeconds: 900 } } },
    ]);
    expect(result).toMatchObject({ kept: ["a"], added: ["c"], replaced: ["b"], removed: [] });
    expect(registry.get("a")).toBe(a);
    const removed = await registry.apply([{ name: "a", settings: settings() }]);
    expect([...removed.removed].sort()).toEqual(["b", "c"]);
    expect(registry.names()).toEqual(["a"]);
    await registry.closeAll();
  });

  it("a reload keeps a source only while every file it names holds the same bytes; one replaced at the same path rebuilds it", async () => {
    // Before: the settings alone were compared: a key, certificate or PIN file replaced at its path was kept on SIGHUP.
    const [key, cert, pin, bundle] = ["key.pem", "cert.pem", "key.pass", "ca.pem"].map((f) => join(dir, `reload-${f}`)) as [string, string, string, string];
    for (const path of [key, cert, pin, bundle]) writeFileSync(path, `${path} 1\n`);
    const base = settings(cert, key);
    const filed = () => ({ ...base, signer: { ...base.signer, keyPassword: { kind: "file" as const, path: pin } }, endpoint: { ...base.endpoint, caBundle: bundle } });
    const registry = new SourceRegistry((spec) => createCredentialSource({ ...spec, createSigner: async () => fakeSigner("file"), createSession: async () => creds() }));
    const reload = async () => {
      const { kept, replaced } = await registry.apply([{ name: "p", settings: filed() }]);
      return kept.length === 1 ? "kept" : replaced.length === 1 ? "replaced" : "?";
    };
    try {
      await registry.apply([{ name: "p", settings: filed() }]);
      expect(await reload()).toBe("kept");
      // The same bytes under another inode and mtime (configuration management rewriting the files at each run): kept.
      copyFileSync(key, `${key}.new`);
      renameSync(`${key}.new`, key);
      utimesSync(cert, new Date(), new Date(Date.now() + 5_000));
      expect(await reload()).toBe("kept");
      for (const path of [key, cert, pin, bundle]) {
        // Rewritten in place, as an editor may: same inode and size, the mtime set back.
        const { ino, mtime } = statSync(path);
        writeFileSync(path, `${path} 2\n`);
        utimesSync(path, mtime, mtime);
        expect(statSync(path).ino).toBe(ino);
        expect([path, await reload()]).toEqual([path, "replaced"]);
        expect(await reload()).toBe("kept");
      }
      rmSync(pin);
      expect(await reload()).toBe("replaced");
      // A FIFO (`<(…)`) is not read, which would wait for a writer (and take what the signer is to read): its identity counts.
      renameSync(key, `${key}.file`);
      execFileSync("mkfifo", [key]);
      expect(await reload()).toBe("replaced");
      expect(await reload()).toBe("kept");
      rmSync(key);
      execFileSync("mkfifo", [key]);
      expect(await reload()).toBe("replaced");
    } finally {
      await registry.closeAll();
    }
  });

  it("an onEvent or certificate-warning log that rejects (an async listener) leaves no unhandled rejection", async () => {
    // Before: a sync throw was dropped, but an async listener's rejection was unhandled: it ends a Node.js program.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const rejects = async () => {
        throw new Error("the host's listener rejects");
      };
      const leaf = issueLeaf(createCa(join(dir, "warn"), { name: "Warn CA" }), join(dir, "warn"), { name: "warn-leaf" });
      const expiring = new Certificate(new X509Certificate(leaf.certPem).raw); // within the 400-day window below
      const certificateWarning = { windowMs: 400 * 86_400_000, log: rejects };
      const createSigner = async () => ({ ...fakeSigner("tpm"), certificate: async () => expiring });
      const createSession: SessionCreator = async (signer) => (await signer.certificate(), hourCreds());
      const source = createCredentialSource({
        name: "l", settings: settings(), createSigner, createSession, now, onEvent: rejects, certificateWarning,
      });
      await source.get();
      await source.close();
      await settle();
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it("from plain JavaScript, junk options are a USAGE error naming the option, not a TypeError", () => {
    const cases: [unknown, string][] = [
      [null, "the options must be an object"],
      [{}, "name must be a string"],
      [{ name: 5, settings: settings() }, "name must be a string"],
      [{ name: "a" }, "settings must be an object"],
      [{ name: "a", settings: "x" }, "settings must be an object"],
      [{ name: "a", settings: { ...settings(), signer: undefined } }, "settings.signer must be an object"],
      [{ name: "a", settings: { ...settings(), session: "x" } }, "settings.session must be an object"],
      [{ name: "a", settings: settings(), certificateWarning: { windowMs: 1 } }, "certificateWarning.log must be a function"],
      [{ name: "a", settings: settings(), timers: {} }, "timers.setTimeout must be a function"],
      [{ name: "a", settings: settings(), onEvent: "log" }, "onEvent must be a function"],
    ];
    for (const [options, message] of cases) {
      let error: unknown;
      try {
        createCredentialSource(options as Parameters<typeof createCredentialSource>[0]);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(options)).toMatchObject({ code: "USAGE", message: `createCredentialSource: ${message}` });
    }
    const policy = { refreshWindowStart: "x" } as never;
    expect(() => createCredentialSource({ name: "a", settings: settings(), policy })).toThrow(
      expect.objectContaining({ code: "USAGE", message: expect.stringContaining("the refresh window must satisfy") }),
    );
  });
});
