/**
 * fromRolesAnywhere with file keys against the verifying local endpoint: option checks, the credentials'
 * shape, sharing one CreateSession, refresh events, a wrong key password and close().
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AwsCredentialIdentityProvider as SmithyCredentialProvider } from "@smithy/types";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AgentError, ServiceError } from "../../src/errors.js";
import { startLocalEndpoint, type LocalEndpoint } from "../../src/local-endpoint/server.js";
import type { RefreshEvent } from "../../src/credentials/credential-cache.js";
import { fromRolesAnywhere, type RolesAnywhereProviderOptions } from "../../src/sdk/index.js";
import { credentialSettingsFromOptions } from "../../src/sdk/provider-options.js";
import { heldSecret } from "../../src/secrets/secret-source.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";
import { ARNS } from "../local-endpoint/support.js";
import { thrown } from "../helpers/agent-error.js";

const { dir, cleanup } = makeTempDir("raa-sdk-provider-");
const ca = createCa(join(dir, "ca"), { name: "SDK Provider CA" });
const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "sdk-device", keyType: "p256" });
const stranger = issueLeaf(createCa(join(dir, "other"), { name: "Other CA" }), join(dir, "other"), { name: "stranger" });
const KEY_PASSWORD = "k3y-Pa55word";
const encryptedKey = join(dir, "encrypted.key");
openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", encryptedKey, "-v2", "aes-256-cbc", "-passout", `pass:${KEY_PASSWORD}`]);
const p12 = join(dir, "leaf.p12");
openssl(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-passout", "pass:", "-out", p12]);
const noKeyP12 = join(dir, "no-key.p12");
openssl(["pkcs12", "-export", "-nokeys", "-in", leaf.certPath, "-passout", "pass:", "-out", noKeyP12]);
const passwordFile = join(dir, "password.txt");
writeFileSync(passwordFile, `${KEY_PASSWORD}\n`, { mode: 0o600 });

let endpoint: LocalEndpoint;
beforeAll(async () => {
  endpoint = await startLocalEndpoint({ trustAnchors: ca.certPem, port: 0 });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

const base = (): RolesAnywhereProviderOptions => ({
  certificate: leaf.certPath,
  privateKey: leaf.keyPath,
  ...ARNS,
  endpoint: endpoint.url,
  env: {},
});
const tpmAt = (device: string) => ({ privateKey: "handle:0x81000101", tpm: { device, noKeyPassword: true } });
const createSessions = () => endpoint.requests.filter((r) => r.operation === "CreateSession").length;

describe("fromRolesAnywhere: options", () => {
  it("rejects what can be known without the key or the network, when the provider is made", () => {
    const cases: [Partial<RolesAnywhereProviderOptions>, string, RegExp][] = [
      [{ trustAnchorArn: "arn:aws:rolesanywhere:us-east-1" }, "ARN_INVALID", /trust anchor ARN/],
      [{ roleArn: "arn:aws:iam::111122223333:user/bob" }, "ARN_INVALID", /role ARN/],
      [{ profileArn: "arn:aws:rolesanywhere:eu-west-1:111122223333:profile/p" }, "REGION_MISMATCH", /regions don't match/],
      [{ durationSeconds: 899 }, "USAGE", /900 to 43200/],
      [{ durationSeconds: 43201 }, "USAGE", /900 to 43200/],
      [{ endpoint: "127.0.0.1:1" }, "ENDPOINT_INVALID", /endpoint/],
      [{ maxAttempts: 0 }, "USAGE", /maxAttempts/],
      [{ timeoutMs: -1 }, "USAGE", /timeoutMs/],
      [{ certificate: undefined, privateKey: undefined }, "USAGE", /no private key given \(pass privateKey \(a key file.*, or certificate with/],
    ];
    for (const [change, code, message] of cases) {
      const error = thrown(() => fromRolesAnywhere({ ...base(), ...change }));
      expect(error, JSON.stringify(change)).toBeInstanceOf(AgentError);
      expect(error.code, JSON.stringify(change)).toBe(code);
      expect(error.toOneLine(), JSON.stringify(change)).toMatch(message);
    }
  });

  it("from plain JavaScript, a wrong type is a USAGE error naming the option, not a TypeError from deep inside", () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /^the options must be an object$/],
      [null, /^the options must be an object$/],
      [{ ...base(), roleArn: 5 }, /^roleArn must be a string$/],
      [{ ...base(), region: 5 }, /^region must be a string$/],
      [{ ...base(), endpoint: {} }, /^endpoint must be a string$/],
      [{ ...base(), certificate: 5, privateKey: undefined }, /^certificate must be a string$/],
      [{ ...base(), intermediates: 5 }, /^intermediates must be a string$/],
      [{ ...base(), durationSeconds: "3600" }, /^durationSeconds must be a number$/],
      [{ ...base(), timeoutMs: "1000" }, /^timeoutMs must be a number$/],
      [{ ...base(), verifyTls: "false" }, /^verifyTls must be a boolean$/],
      [{ ...base(), pkcs11: null }, /^pkcs11 must be an object$/],
      // Before, a Map passed and its settings were silently ignored: the key opened with no PIN, on the default TPM.
      [{ ...base(), pkcs11: new Map([["pin", "1234"]]) }, /^pkcs11 must be a plain object \(\{ … \}\), not a Map/],
      [{ ...base(), tpm: new Map([["device", "tcp:127.0.0.1:2321"]]) }, /^tpm must be a plain object/],
      [{ ...base(), tpm: new (class TpmOptions {})() }, /^tpm must be a plain object/],
      [{ ...base(), tpm: { noKeyPassword: "yes" } }, /^tpm\.noKeyPassword must be a boolean$/],
      [{ ...base(), env: "PATH=/bin" }, /^env must be an object of strings/],
      [{ ...base(), env: { AWS_MAX_ATTEMPTS: 5 } }, /^env must be an object of strings/],
      [{ ...base(), onRefresh: "log" }, /^onRefresh must be a function$/],
      [{ ...base(), keyPassword: 1234 }, /^keyPassword must be a string, or/],
      [{ ...base(), keyPassword: { kind: "env", name: "" } }, /^keyPassword must be .*non-empty path or name$/],
      [{ ...base(), pkcs11: { pin: { kind: "file", path: 5 } } }, /^pkcs11\.pin must be a string, or/],
      [{ ...base(), tpm: { keyPassword: { kind: "secret", value: "hunter2" } } }, /^tpm\.keyPassword must be a string, or/],
    ];
    for (const [options, message] of cases) {
      const error = thrown(() => fromRolesAnywhere(options as RolesAnywhereProviderOptions));
      expect(error, String(message)).toBeInstanceOf(AgentError);
      expect(error.code).toBe("USAGE");
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain("hunter2");
    }
  });

  it("an unknown option (a typo, an AWS profile name) is a USAGE error naming it, not silently ignored", () => {
    // Ignored, `tpm: { keypassword }` opened the key with no password (a TPM authorisation failure that counts
    // towards the lockout), `durationSecond` gave 3600 s and `profile` hid that no AWS profile is read.
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ durationSecond: 900 }, /^unknown option "durationSecond"$/],
      [{ profile: "dev" }, /^unknown option "profile"$/],
      [{ tpm: { keypassword: "hunter2" } }, /^unknown option "tpm\.keypassword"$/],
      [{ pkcs11: { pn: "1234" } }, /^unknown option "pkcs11\.pn"$/],
    ];
    for (const [change, message] of cases) {
      const error = thrown(() => fromRolesAnywhere({ ...base(), ...change } as RolesAnywhereProviderOptions));
      expect(error, String(message)).toBeInstanceOf(AgentError);
      expect(error.code).toBe("USAGE");
      expect(error.message).toMatch(message);
      expect(error.toOneLine()).not.toContain("hunter2");
    }
    expect(thrown(() => fromRolesAnywhere({ ...base(), durationSecond: 900 } as RolesAnywhereProviderOptions)).hint)
      .toMatch(/did you mean "durationSeconds"/);
    expect(thrown(() => fromRolesAnywhere({ ...base(), tpm: { keypassword: "x" } } as RolesAnywhereProviderOptions)).hint)
      .toMatch(/did you mean "tpm\.keyPassword"/);
  });

  it("maps CLI-like options to the signer and endpoint settings; a string secret is taken literally", () => {
    const settings = credentialSettingsFromOptions({
      ...base(),
      certificate: "pkcs11:token=t;object=k",
      privateKey: undefined,
      intermediates: "/chain.pem",
      pkcs11: { library: "/lib/p11.so", pin: "env:1234", reusePin: true, contextPin: { kind: "file", path: "/ctx-pin" } },
      tpm: { device: "tcp:127.0.0.1:2321", keyPassword: { kind: "env", name: "TPM_PW" }, noKeyPassword: false, parentPassword: "parent" },
      keyPassword: "",
      durationSeconds: 900,
      roleSessionName: "sdk-session",
      region: "us-east-1",
      connectTimeoutMs: 500,
      maxAttempts: 2,
    });
    expect(settings.signer).toEqual({
      certificate: "pkcs11:token=t;object=k",
      intermediates: "/chain.pem",
      pkcs11: { library: "/lib/p11.so", pin: { kind: "value" }, contextPin: { kind: "file", path: "/ctx-pin" }, reusePin: true },
      tpm: { device: "tcp:127.0.0.1:2321", keyPassword: { kind: "env", name: "TPM_PW" }, parentPassword: { kind: "value" }, noKeyPassword: false },
      env: {},
      prompt: false,
      names: "options",
    });
    // Held as bytes its holder wipes, not as a string (a plain string is the secret itself, never parsed).
    expect([settings.signer.pkcs11?.pin, settings.signer.tpm?.parentPassword].map((s) => heldSecret(s)?.use((b) => b.toString()))).toEqual(["env:1234", "parent"]);
    expect(settings.session).toEqual({ ...ARNS, durationSeconds: 900, roleSessionName: "sdk-session", region: "us-east-1" });
    expect(settings.endpoint).toEqual({ endpoint: endpoint.url, connectTimeoutMs: 500, maxAttempts: 2, env: {} });
  });

  it("names a missing ARN option; its own refusals point to the documentation of the options", () => {
    for (const field of ["trustAnchorArn", "profileArn", "roleArn"] as const) {
      const error = thrown(() => fromRolesAnywhere({ ...base(), [field]: undefined }));
      expect(error.code, field).toBe("USAGE");
      expect(error.message).toBe(`${field} is required`);
    }
    for (const change of [{ roleArn: 5 }, { durationSeconds: 899 }, { maxAttempts: 0 }, { onRefresh: "log" }, { tpm: null }]) {
      const error = thrown(() => fromRolesAnywhere({ ...base(), ...change } as unknown as RolesAnywhereProviderOptions));
      expect(error.hint, JSON.stringify(change)).toBe("see the options of fromRolesAnywhere in docs/integrations.md");
    }
  });

  it("tpm.ignoreEmptyAuth reaches the TPM signer's settings (ignored, the key opened with no password)", () => {
    const tpm = { device: "tcp:127.0.0.1:2321", keyPassword: "pw", ignoreEmptyAuth: true };
    const settings = credentialSettingsFromOptions({ ...base(), certificate: leaf.certPath, privateKey: "/key.tss", tpm });
    expect(settings.signer.tpm).toMatchObject({ ignoreEmptyAuth: true, keyPassword: { kind: "value" } });
    expect(heldSecret(settings.signer.tpm?.keyPassword)?.use((b) => b.toString())).toBe("pw");
  });

  it("is assignable to the SDK's AwsCredentialIdentityProvider type", () => {
    const provider: SmithyCredentialProvider = fromRolesAnywhere(base());
    expect(typeof provider).toBe("function");
  });
});

describe("fromRolesAnywhere: credentials from the local endpoint", () => {
  it("returns the issued credentials with their expiration and the role's account, from one shared CreateSession", async () => {
    const events: RefreshEvent[] = [];
    const provider = fromRolesAnywhere({ ...base(), roleSessionName: "sdk-unit", durationSeconds: 1800, onRefresh: (e) => events.push(e) });
    try {
      const before = createSessions();
      const all = await Promise.all(Array.from({ length: 8 }, () => provider()));
      expect(createSessions() - before).toBe(1);
      expect(new Set(all.map((c) => c.accessKeyId)).size).toBe(1);

      const c = all[0]!;
      const issued = endpoint.issued.find((s) => s.credentials.accessKeyId === c.accessKeyId)!;
      expect(issued.roleSessionName).toBe("sdk-unit");
      expect(c.secretAccessKey).toBe(issued.credentials.secretAccessKey);
      expect(c.sessionToken).toBe(issued.credentials.sessionToken);
      expect(c.expiration!.getTime()).toBeLessThanOrEqual(issued.credentials.expiration.getTime());
      expect(c.accountId).toBe("111122223333");

      expect((await provider()).accessKeyId).toBe(c.accessKeyId);
      expect(createSessions() - before).toBe(1);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: "refreshed", expiration: issued.credentials.expiration });
    } finally {
      await provider.close();
    }
  });

  it("forceRefresh (the SDK's convention, e.g. after a revoked session) makes one new CreateSession, shared", async () => {
    const provider = fromRolesAnywhere({ ...base(), durationSeconds: 3600 });
    try {
      const first = await provider();
      const before = createSessions();
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // the minimum interval between CreateSessions
      const forced = await Promise.all([provider({ forceRefresh: true }), provider({ forceRefresh: true })]);
      expect(createSessions() - before).toBe(1);
      expect(forced[0].accessKeyId).not.toBe(first.accessKeyId);
      expect(new Set(forced.map((c) => c.accessKeyId)).size).toBe(1);
      expect((await provider({ forceRefresh: false })).accessKeyId).toBe(forced[0].accessKeyId);
      expect(createSessions() - before).toBe(1);
      // Past the minimum interval, a call that does not ask for it still makes no CreateSession (only `true` forces).
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      for (const asked of [undefined, {}, { forceRefresh: false }, { forceRefresh: "true" }]) {
        expect((await provider(asked)).accessKeyId, JSON.stringify(asked)).toBe(forced[0].accessKeyId);
      }
      expect(createSessions() - before).toBe(1);
    } finally {
      await provider.close();
    }
  });

  it("reports an expiration that brings the SDK back when the refresh is due, not 5 minutes before expiry", async () => {
    // The SDK asks its provider again only 5 minutes before `expiration` (@smithy/core's EXPIRATION_MS). Told the
    // real expiry, every device refreshed then, together, with 5 minutes left for retries instead of 15 % of the
    // lifetime (1.8 hours of a 12-hour session), whatever refresh point the provider had planned.
    const events: RefreshEvent[] = [];
    const provider = fromRolesAnywhere({ ...base(), durationSeconds: 43200, onRefresh: (e) => events.push(e) });
    try {
      const c = await provider();
      const refreshed = events[0] as Extract<RefreshEvent, { type: "refreshed" }>;
      expect(c.expiration!.getTime() - 5 * 60_000).toBeLessThanOrEqual(refreshed.refreshAt.getTime());
      expect(c.expiration!.getTime()).toBeLessThanOrEqual(refreshed.expiration.getTime());
      expect(c.expiration!.getTime()).toBeGreaterThan(Date.now() + 5 * 60_000);
    } finally {
      await provider.close();
    }
  });

  it("a key password from a file works; a wrong one fails as auth, once, with no CreateSession and no secret in the message", async () => {
    const good = fromRolesAnywhere({ ...base(), privateKey: encryptedKey, keyPassword: { kind: "file", path: passwordFile } });
    try {
      expect((await good()).accessKeyId).toMatch(/^ASIA/);
    } finally {
      await good.close();
    }

    const bad = fromRolesAnywhere({ ...base(), privateKey: encryptedKey, keyPassword: "not-the-password" });
    try {
      const before = createSessions();
      const first = (await bad().catch((e: unknown) => e)) as AgentError;
      expect(first).toBeInstanceOf(AgentError);
      expect(first.category).toBe("auth");
      expect(first.code).toBe("PASSWORD_INCORRECT");
      expect(first.toOneLine()).not.toContain("not-the-password");
      expect(await bad().catch((e: unknown) => e)).toBe(first);
      expect(await bad({ forceRefresh: true }).catch((e: unknown) => e)).toBe(first); // no retry when forced either
      expect(createSessions()).toBe(before);
    } finally {
      await bad.close();
    }
  });

  it("a missing key password is not asked for on the app's terminal: PASSWORD_REQUIRED naming it", async () => {
    // A terminal someone would answer: before, the provider printed its prompt there and every call waited.
    const prompt = vi.fn(async () => Promise.reject(new Error("prompted on the application's terminal")));
    vi.doMock("../../src/secrets/terminal-prompt.js", () => ({ promptOnTerminal: prompt }));
    const provider = fromRolesAnywhere({ ...base(), privateKey: encryptedKey });
    try {
      const e = (await provider().catch((error: unknown) => error)) as AgentError;
      expect(e).toBeInstanceOf(AgentError);
      expect(e.code).toBe("PASSWORD_REQUIRED");
      expect(e.toOneLine()).toBe(`${encryptedKey} holds an encrypted private key and no password was given ` +
        '(set keyPassword: { kind: "file", path }, { kind: "env", name } or the value itself)');
      expect(prompt).not.toHaveBeenCalled();
    } finally {
      vi.doUnmock("../../src/secrets/terminal-prompt.js");
      await provider.close();
    }
  });

  it.each([
    ["a certificate file alone", () => ({ privateKey: undefined }), "holds no private key (pass privateKey (a key file"],
    ["a PKCS#12 file with a certificate", () => ({ privateKey: p12 }), "alone, as certificate or privateKey)"],
    ["a PKCS#12 file without a key", () => ({ certificate: noKeyP12, privateKey: undefined }), "or pass privateKey)"],
    ["two inputs from -", () => ({ certificate: "-", privateKey: "-" }), "only one of certificate, privateKey and intermediates"],
    ["a certificate that is a key file", () => ({ certificate: leaf.keyPath }), "(certificate must be a PEM or DER X.509"],
    ["a certificate that is not PEM", () => ({ certificate: passwordFile }), "(certificate must be a PEM or DER X.509"],
    ["intermediates that hold a key", () => ({ intermediates: leaf.keyPath }), "(intermediates must hold only CERTIFICATE"],
    ["intermediates that are not PEM", () => ({ intermediates: passwordFile }), "(intermediates must be a PEM bundle"],
    ["a TPM simulator that is not there", () => tpmAt(`unix:${dir}/none.sock`), "running? Check tpm.device / TPM_DEVICE)"],
    ["a TPM socket that is a directory", () => tpmAt(`unix:${dir}`), "(point tpm.device / TPM_DEVICE at the simulator's"],
    ["a TPM device that is not there", () => tpmAt(`${dir}/tpm0`), "/tpm0 (check tpm.device / TPM_DEVICE)"],
  ])("%s: the error names the provider's options, not CLI flags", async (_, options, text) => {
    const provider = fromRolesAnywhere({ ...base(), ...options() });
    try {
      const line = await provider().then(() => "no error", (e: AgentError) => e.toOneLine());
      expect(line).toContain(text);
      expect(line).not.toContain("--");
    } finally {
      await provider.close();
    }
  });

  it("a debug callback that throws, like an onRefresh listener that throws, does not break getting credentials", async () => {
    let lines = 0;
    const debug = () => {
      lines++;
      throw new Error("faulty debug callback");
    };
    const provider = fromRolesAnywhere({ ...base(), debug, onRefresh: () => { throw new Error("faulty listener"); } });
    try {
      expect((await provider()).accessKeyId).toMatch(/^ASIA/);
      expect(lines).toBeGreaterThan(0);
    } finally {
      await provider.close();
    }
  });

  it("an async debug callback or onRefresh listener that rejects is dropped too: no unhandled rejection", async () => {
    // Before, the rejection went unhandled, which ends a Node program (and did so before any credentials).
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error("log sink down");
    };
    const provider = fromRolesAnywhere({ ...base(), debug: failing, onRefresh: failing });
    try {
      expect((await provider()).accessKeyId).toMatch(/^ASIA/);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(calls).toBeGreaterThan(1);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", record);
      await provider.close();
    }
  });

  it("passes the service's refusal through as a ServiceError", async () => {
    const provider = fromRolesAnywhere({ ...base(), certificate: stranger.certPath, privateKey: stranger.keyPath });
    try {
      const error = (await provider().catch((e: unknown) => e)) as ServiceError;
      expect(error).toBeInstanceOf(ServiceError);
      expect(error.code).toBe("ACCESS_DENIED");
      expect(error.status).toBe(403);
    } finally {
      await provider.close();
    }
  });

  it("close() is idempotent and later calls are refused", async () => {
    const provider = fromRolesAnywhere(base());
    await provider();
    const closing = provider.close();
    expect(provider.close()).toBe(closing);
    await closing;
    const before = createSessions();
    const error = (await provider().catch((e: unknown) => e)) as AgentError;
    expect(error.code).toBe("USAGE");
    expect(error.message).toMatch(/closed/);
    expect(error.hint).toBe("create a new provider, or close it only when no client uses it any more");
    expect(createSessions()).toBe(before);
  });
});
