/**
 * TPM faults with a real swtpm (issue #7, fault injection): the simulator killed (SIGKILL, a power loss) and
 * restarted on the same state directory, and the connection cut at a chosen command by a relay that only
 * withholds or truncates bytes (native-test/helpers/tpm-proxy.ts). For one-shot CLI runs: one clear line,
 * exit 5, no credentials. For a long-running credential source holding a loaded key: the cached credentials
 * keep being served (never empty or expired ones) and the next refresh recovers, the signer loading the key
 * again by itself. After every scenario, and after ordinary runs, TPM2_GetCapability(TPM_CAP_HANDLES) must
 * show no transient object, no loaded session and no saved session (there is no resource manager here).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import type { CredentialSettings } from "../src/settings/credential-settings.js";
import { createCredentialSource, type CredentialSource } from "../src/credentials/credential-source.js";
import type { RefreshEvent } from "../src/credentials/credential-cache.js";
import type { Credentials } from "../src/rolesanywhere/credentials.js";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../src/arn.js";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { createTpmSigner } from "../src/signers/tpm/tpm-signer.js";
import { fetchFromAgent } from "../src/agent/client.js";
import { CreatePrimary, Load, ReadPublic, Sign, StartAuthSession } from "../src/tpm/wire/commands.js";
import { createCa, issueLeaf, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli, serveOnceAndStop } from "./agent-support.js";
import { expectUsable, until, untilNewCredentials } from "./helpers/credential-waits.js";
import { runCli, type CliRun } from "./helpers/run-cli.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { createHash, verify } from "node:crypto";
import { genpkey, lockoutCounter, persistentKey, persistSrk, readPcr, sessionHandles, tpm2Create, transientHandles, trialPolicy, writeTss2File } from "./helpers/tpm-keys.js";
import { startTpmProxy, type TpmProxy } from "./helpers/tpm-proxy.js";

const SRK = 0x81000001;
const PERSISTENT = 0x81000101;
const PASSWORD = "fault-Key-pw";
const ARNS = {
  trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/faults"),
  profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:000000000000:profile/faults"),
  roleArn: parseRoleArn("arn:aws:iam::000000000000:role/faults"),
};

let tpm: Swtpm;
let proxy: TpmProxy;
let cli: { cli: string; cleanup: () => void };
let endpoint: { url: string; close(): Promise<void> | void };
let ca: CaHandle;
type KeyKind = "file" | "handle" | "policy" | "plain";
const keys: Record<KeyKind, { keyArg: string; certPath: string; passwordArgs: string[] }> = {} as never;
const leakChecks: string[] = [];

beforeAll(async () => {
  tpm = await startSwtpm();
  cli = await bundleCli();
  ca = createCa(join(tpm.dir, "ca"), { name: "TPM Faults CA" });
  await persistSrk(tpm, SRK);
  const file = await genpkey(tpm, "fault-file", { algorithm: "EC", curve: "P-256", userAuth: PASSWORD });
  keys.file = {
    keyArg: file.keyPath,
    certPath: issueLeaf(ca, join(tpm.dir, "certs"), { name: "fault-file", publicKeyPath: file.publicKeyPath }).certPath,
    passwordArgs: ["--tpm-key-password-env", "TPM_KEY_PW"],
  };
  // No password: its sessions are password sessions, whose answers carry no HMAC.
  const plain = await genpkey(tpm, "fault-plain", { algorithm: "EC", curve: "P-256" });
  keys.plain = {
    keyArg: plain.keyPath,
    certPath: issueLeaf(ca, join(tpm.dir, "certs"), { name: "fault-plain", publicKeyPath: plain.publicKeyPath }).certPath,
    passwordArgs: [],
  };
  const handle = await persistentKey(tpm, "fault-handle", PERSISTENT, {
    alg: "ecc256",
    attributes: "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign",
    parent: SRK,
    password: PASSWORD,
  });
  keys.handle = {
    keyArg: `handle:0x${PERSISTENT.toString(16)}`,
    certPath: issueLeaf(ca, join(tpm.dir, "certs"), { name: "fault-handle", publicKeyPath: handle.publicKeyPath }).certPath,
    passwordArgs: ["--tpm-key-password-env", "TPM_KEY_PW"],
  };
  // A key bound to PCR 16 and its password (PolicyPCR + PolicyAuthValue), under the persistent SRK.
  const policy = await trialPolicy(tpm, "fault-policy", { pcr: 16, then: "authvalue" });
  const blobs = await tpm2Create(tpm, "fault-policy", { alg: "ecc256", attributes: "fixedtpm|fixedparent|sensitivedataorigin|sign", parent: SRK, policyDigestPath: policy, password: PASSWORD });
  const pcrDigest = createHash("sha256").update(await readPcr(tpm, 16)).digest("hex");
  await writeTss2File(tpm, "fault-policy", {
    blobs,
    parent: SRK,
    emptyAuth: false,
    policy: [
      { commandCode: 0x17f, bodyHex: "00000001000b03000001" + pcrDigest },
      { commandCode: 0x16b, bodyHex: "" },
    ],
  });
  const policyPub = join(tpm.dir, "fault-policy.pub.pem");
  writeFileSync(policyPub, await tpm.run("tpm2_print", ["-t", "TPM2B_PUBLIC", "-f", "pem", blobs.pub]));
  keys.policy = {
    keyArg: join(tpm.dir, "fault-policy.pem"),
    certPath: issueLeaf(ca, join(tpm.dir, "certs"), { name: "fault-policy", publicKeyPath: policyPub }).certPath,
    passwordArgs: ["--tpm-key-password-env", "TPM_KEY_PW"],
  };
  proxy = await startTpmProxy(tpm.dir, tpm.socketPath!);
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
}, 120_000);

afterAll(async () => {
  await endpoint?.close();
  await proxy?.close();
  cli?.cleanup();
  await tpm?.stop();
  // The count of GetCapability checks, for the record (SECURITY.md's fault table).
  console.log(`faults-tpm: ${leakChecks.length} leak checks passed: ${leakChecks.join("; ")}`);
});

/** TPM2_GetCapability(TPM_CAP_HANDLES) for 0x80…, 0x02… and 0x03…: nothing may be left. */
async function expectNothingLoaded(scenario: string): Promise<void> {
  expect(await transientHandles(tpm), `${scenario}: transient objects`).toEqual([]);
  expect(await sessionHandles(tpm), `${scenario}: sessions`).toEqual([]);
  leakChecks.push(scenario);
}

const sessionArgs = () => [
  "--trust-anchor-arn", ARNS.trustAnchorArn,
  "--profile-arn", ARNS.profileArn,
  "--role-arn", ARNS.roleArn,
  "--endpoint", endpoint.url,
];

function runAgent(args: string[]): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, TPM_KEY_PW: PASSWORD };
  delete env["TPM_DEVICE"];
  return runCli(cli.cli, args, env);
}

function credentialProcess(kind: KeyKind, device: string, passwordArgs = keys[kind].passwordArgs): Promise<CliRun> {
  const k = keys[kind];
  return runAgent(["credential-process", "--certificate", k.certPath, "--private-key", k.keyArg, "--tpm-device", device, ...passwordArgs, ...sessionArgs()]);
}

/** Waits for an armed fault, failing clearly (instead of hanging) when the command never came. */
async function firing(fired: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the fault at ${what} never fired`)), 10_000);
  });
  try {
    await Promise.race([fired, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line on stderr, no stack, no secret, nothing on stdout, the device exit code. */
function expectDeviceFailure(r: CliRun): void {
  expect(r.code, r.stderr).toBe(EXIT_CODES.device);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).not.toContain(PASSWORD);
  expect(r.stderr).toMatch(/TPM/);
}

describe("one-shot credential-process whose TPM connection breaks or whose swtpm dies", () => {
  const cases = [
    { kind: "file", command: Load.code, action: "drop", what: "connection lost before TPM2_Load (between connecting and signing)" },
    { kind: "handle", command: StartAuthSession.code, action: "drop", what: "connection lost before TPM2_StartAuthSession (between connecting and signing)" },
    { kind: "file", command: CreatePrimary.code, action: "cut-response", what: "TPM2_CreatePrimary (SRK) executed, its answer with the handle cut" },
    { kind: "file", command: StartAuthSession.code, action: "cut-response", what: "TPM2_StartAuthSession executed, its answer with the handle cut" },
    { kind: "file", command: Load.code, action: "cut-response", what: "TPM2_Load executed, its answer with the handle cut" },
    { kind: "handle", command: CreatePrimary.code, action: "cut-response", what: "TPM2_CreatePrimary (salt key) executed, its answer with the handle cut" },
    { kind: "handle", command: StartAuthSession.code, action: "cut-response", what: "TPM2_StartAuthSession executed, its answer with the handle cut" },
    { kind: "file", command: Sign.code, action: "drop", what: "connection lost before TPM2_Sign reached the TPM" },
    { kind: "handle", command: Sign.code, action: "drop", what: "connection lost before TPM2_Sign reached the TPM" },
    { kind: "file", command: Sign.code, action: "cut-response", what: "TPM2_Sign executed, its answer cut in half" },
    { kind: "handle", command: Sign.code, action: "cut-response", what: "TPM2_Sign executed, its answer cut in half" },
    { kind: "file", command: Sign.code, action: "kill", what: "swtpm killed (SIGKILL) at TPM2_Sign" },
    { kind: "handle", command: Sign.code, action: "kill", what: "swtpm killed (SIGKILL) at TPM2_Sign" },
  ] as const;
  for (const c of cases) {
    it(`${c.kind === "file" ? "TSS2 key file" : "persistent handle"}: ${c.what}: exit 5, one line, nothing left loaded`, async () => {
      const fired = proxy.arm({ command: c.command, action: c.action, onKill: () => tpm.kill() });
      const r = await credentialProcess(c.kind, proxy.device);
      await firing(fired, c.what);
      expectDeviceFailure(r);
      if (c.action === "kill") {
        expect(r.stderr).toMatch(/closed the connection|cannot connect/);
        await tpm.restart();
      }
      await expectNothingLoaded(`credential-process, ${c.kind} key, ${c.what}`);
    });
  }

  it("a TPM2_Sign answer whose signature was altered on the way is never used (the response HMAC): exit 5, one line", async () => {
    // swtpm answers its first ECDSA signature after a start with "retry" (not judged): only a successful answer is altered.
    const fired = proxy.arm({ command: Sign.code, action: "flip-parameter-byte" });
    const r = await credentialProcess("file", proxy.device);
    await firing(fired, "TPM2_Sign");
    expectDeviceFailure(r);
    expect(r.stderr).toMatch(/TPM2_Sign: the TPM's response HMAC does not match: the response was altered/);
    await expectNothingLoaded("credential-process, TPM2_Sign answer altered");
  });

  it("a key without a password (no response HMAC): a TPM2_Sign answer altered on the way does not verify and is never sent", async () => {
    const fired = proxy.arm({ command: Sign.code, action: "flip-parameter-byte" });
    const r = await credentialProcess("plain", proxy.device);
    await firing(fired, "TPM2_Sign");
    expectDeviceFailure(r);
    expect(r.stderr).toMatch(/the TPM's signature \(\d+ bytes\) does not verify with the key's public key; it was not used/);
    await expectNothingLoaded("credential-process, key without a password, TPM2_Sign answer altered");
  });

  it("a TPM2_Load answer whose Name was altered on the way (a password session: no response HMAC): exit 5, one line", async () => {
    const fired = proxy.arm({ command: Load.code, action: "flip-parameter-byte" }); // byte 21: the Name's algorithm
    const r = await credentialProcess("file", proxy.device);
    await firing(fired, "TPM2_Load");
    expectDeviceFailure(r);
    expect(r.stderr).toMatch(/TPM2_Load returned a Name that does not match the key file's public area/);
    await expectNothingLoaded("credential-process, TPM2_Load answer altered");
  });

  it("a TPM2_ReadPublic answer whose Name was altered on the way (a persistent key with a password): exit 5, one line, no strike", async () => {
    const counted = await lockoutCounter(tpm);
    const mark = proxy.commands.length;
    // Header (10), outPublic (its size, then the area), the Name's size: its last byte.
    const nameEnd = (r: Buffer) => 12 + r.readUInt16BE(10) + 2 + r.readUInt16BE(12 + r.readUInt16BE(10)) - 1;
    const fired = proxy.arm({ command: ReadPublic.code, action: "flip-parameter-byte", flipByte: nameEnd });
    const r = await credentialProcess("handle", proxy.device);
    await firing(fired, "TPM2_ReadPublic");
    expectDeviceFailure(r);
    expect(r.stderr).toMatch(/TPM2_ReadPublic of 0x81000101 returned a Name that does not match its public area/);
    expect(proxy.commands.slice(mark)).not.toContain(Sign.code);
    expect(await lockoutCounter(tpm)).toBe(counted);
    await expectNothingLoaded("credential-process, TPM2_ReadPublic answer altered");
  });

  it("a wrong password whose TPM2_Sign answer is lost is not sent again: the TPM counted exactly one failure", async () => {
    // swtpm answers its first ECDSA signature after a start with "retry" (not judged): get that out of the way.
    expect((await credentialProcess("file", tpm.device)).code).toBe(0);
    const counted = await lockoutCounter(tpm);
    const mark = proxy.answered.length;
    const fired = proxy.arm({ command: Sign.code, action: "cut-response" });
    const r = await credentialProcess("file", proxy.device, ["--tpm-key-password", "wrong-password"]);
    await firing(fired, "TPM2_Sign");
    expectDeviceFailure(r);
    expect(r.stderr).not.toContain("wrong-password");
    expect(proxy.commands.slice(proxy.commands.lastIndexOf(Sign.code) + 1)).not.toContain(Sign.code);
    expect(proxy.answered.slice(mark).filter((a) => a.command === Sign.code)).toHaveLength(0); // its answer never got through
    expect(await lockoutCounter(tpm)).toBe(counted + 1);
    await expectNothingLoaded("credential-process, wrong password, TPM2_Sign answer cut");
  });

  it("after the kills, the persistent SRK and key survived and work again", async () => {
    const persistent = await tpm.run("tpm2_getcap", ["handles-persistent"]);
    expect(persistent).toContain("0x81000001");
    expect(persistent).toContain("0x81000101");
    for (const kind of ["file", "handle"] as const) {
      const r = await credentialProcess(kind, tpm.device);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
      await expectNothingLoaded(`credential-process, ${kind} key, after swtpm restarts`);
    }
  });
});

describe("a TPM signer kept open by a library caller (createTpmSigner)", () => {
  it("a TPM2_Sign answer altered on the way fails that signature only: the next one signs with fresh sessions, no strike counted", async () => {
    // The altered answer leaves the key's HMAC session without the TPM's nonce: used again, it would fail as a wrong
    // password, a dictionary-attack strike each time.
    const strikes = await lockoutCounter(tpm); // read while nothing holds swtpm's one connection
    const { keyArg } = keys.file;
    const key = { kind: "tss2-pem", path: keyArg, pem: readFileSync(keyArg, "utf8") } as const;
    const signer = await createTpmSigner({ key, device: proxy.device, keyPassword: { kind: "value", value: PASSWORD } });
    const message = Buffer.from("sign me");
    const answered = proxy.answered.length;
    try {
      await signer.sign(message);
      const fired = proxy.arm({ command: Sign.code, action: "flip-parameter-byte" });
      await expect(signer.sign(message)).rejects.toMatchObject({ code: "TPM_ERROR", message: expect.stringMatching(/response HMAC does not match/) });
      await firing(fired, "TPM2_Sign");
      for (let i = 0; i < 2; i++) expect(verify("sha256", message, (await signer.publicKey())!, await signer.sign(message))).toBe(true);
    } finally {
      await signer.close();
    }
    expect(proxy.answered.slice(answered).filter((a) => a.command === Sign.code && a.rc !== 0 && a.rc !== 0x922)).toEqual([]);
    expect(await lockoutCounter(tpm)).toBe(strikes);
    await expectNothingLoaded("createTpmSigner, file key, TPM2_Sign answer altered");
  });
});

describe("a long-running credential source holding a loaded TPM key", () => {
  const sources: CredentialSource[] = [];
  /** Minutes pass on this clock only: refreshes fall due when the test says so. */
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const REFRESH_DUE = 800_000; // 900 s credentials: the refresh falls at most 85 % into their 899 s usable lifetime (764 s)
  const EXPIRED = 900_000;

  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.close()));
    offsetMs = 0;
    if (!(await tpmRunning())) await tpm.restart();
  });

  async function tpmRunning(): Promise<boolean> {
    return tpm.run("tpm2_getcap", ["handles-persistent"]).then(
      () => true,
      () => false,
    );
  }

  function source(kind: KeyKind, password = PASSWORD) {
    const events: RefreshEvent[] = [];
    const k = keys[kind];
    const settings: CredentialSettings = {
      signer: { certificate: k.certPath, privateKey: k.keyArg, tpm: { device: proxy.device, keyPassword: { kind: "value", value: password } } },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: endpoint.url, connectTimeoutMs: 1_000, timeoutMs: 5_000, maxAttempts: 1 },
    };
    const src = createCredentialSource({
      name: `tpm-${kind}`,
      settings,
      now,
      policy: { expiryMarginMs: 1_000, retryBaseMs: 100, retryMaxMs: 200, minRetryIntervalMs: 100 },
      onEvent: (_name, event) => events.push(event),
    });
    sources.push(src);
    return { src, events };
  }

  const usable = (c: Credentials) => expectUsable(c, now());

  /** Makes the cached credentials due for refresh, asks, and returns what the caller got at once. */
  async function refreshDue(src: CredentialSource): Promise<Credentials> {
    offsetMs = REFRESH_DUE;
    return usable(await src.get());
  }

  const count = (code: number, from = 0) => proxy.commands.slice(from).filter((c) => c === code).length;
  /** Signatures the TPM judged (answers other than "retry", which swtpm gives the first ECDSA sign after start-up). */
  const judgedSigns = (from: number) => proxy.answered.slice(from).filter((a) => a.command === Sign.code && a.rc !== 0x922).length;

  for (const kind of ["file", "handle", "policy"] as const) {
    it(`${kind} key: swtpm killed and restarted between refreshes: the next refresh reloads the key by itself, no failure seen`, async () => {
      const { src, events } = source(kind);
      const first = usable(await src.get());
      await tpm.kill();
      await tpm.restart();
      const mark = proxy.commands.length;
      const answeredMark = proxy.answered.length;
      expect((await refreshDue(src)).accessKeyId).toBe(first.accessKeyId);
      await until("the refresh", () => events.find((e) => e.type === "refreshed" && events.indexOf(e) > 0));
      expect(events.filter((e) => e.type === "refresh-failed")).toEqual([]);
      expect(usable(await src.get()).accessKeyId).not.toBe(first.accessKeyId);
      // The same signer loaded the key again on the restarted TPM before signing (no stale handle was sent).
      expect(count(kind === "handle" ? ReadPublic.code : Load.code, mark)).toBe(1);
      expect(judgedSigns(answeredMark)).toBe(1);
      await src.close();
      await expectNothingLoaded(`long-running ${kind} key, swtpm restarted between refreshes`);
    });
  }

  it("file key: TPM2_Sign executed but its answer cut mid-refresh: loaded again and signed again once, the refresh succeeds", async () => {
    const { src, events } = source("file");
    const first = usable(await src.get());
    const mark = proxy.commands.length;
    const fired = proxy.arm({ command: Sign.code, action: "cut-response" });
    expect((await refreshDue(src)).accessKeyId).toBe(first.accessKeyId);
    await firing(fired, "TPM2_Sign");
    await until("the refresh", () => events.find((e, i) => i > 0 && e.type === "refreshed"));
    expect(events.filter((e) => e.type === "refresh-failed")).toEqual([]);
    expect(usable(await src.get()).accessKeyId).not.toBe(first.accessKeyId);
    expect(count(Sign.code, mark)).toBe(2);
    expect(count(Load.code, mark)).toBe(1);
    await src.close();
    // The objects of the cut connection were flushed: the TPM had not restarted (same ReadClock reset count).
    await expectNothingLoaded("long-running file key, TPM2_Sign answer cut");
  });

  for (const kind of ["file", "handle"] as const) {
    it(`${kind} key: swtpm killed mid-signature: cached credentials served until expiry, then an error (never empty ones); recovery after restart`, async () => {
      const { src, events } = source(kind);
      const first = usable(await src.get());
      const fired = proxy.arm({ command: Sign.code, action: "kill", onKill: () => tpm.kill() });
      expect((await refreshDue(src)).accessKeyId).toBe(first.accessKeyId);
      await firing(fired, "TPM2_Sign");
      const failed = await until("the failed refresh", () => events.find((e) => e.type === "refresh-failed"));
      if (failed.type !== "refresh-failed") throw new Error("unreachable");
      expect(failed.error.category).toBe("device");
      expect(failed.error.toOneLine()).not.toContain("\n");
      expect(failed.error.toOneLine()).not.toContain(PASSWORD);
      expect(failed.servingPreviousUntil).toBeDefined();
      // Still down: the old credentials keep coming while they are valid.
      for (let i = 0; i < 5; i++) expect(usable(await src.get()).accessKeyId).toBe(first.accessKeyId);

      // Back: the next attempt (after the backoff) recovers.
      await tpm.restart();
      offsetMs = REFRESH_DUE + 1_000;
      const recovered = await untilNewCredentials(src, first);
      usable(recovered);

      // Down again until the credentials expire: an error, never expired credentials.
      await tpm.kill();
      offsetMs = EXPIRED;
      const error = await src.get().then(
        () => undefined,
        (e: unknown) => e as { category: string; code: string },
      );
      expect(error?.category).toBe("device");
      expect(["TPM_ERROR", "TPM_UNAVAILABLE"]).toContain(error?.code);
      await tpm.restart();
      await src.close();
      await expectNothingLoaded(`long-running ${kind} key, swtpm killed mid-signature then restarted`);
    });
  }
  it("a wrong key password is tried once and never again, even while callers keep asking; nothing is left loaded", async () => {
    const { src } = source("file", "wrong-password");
    const mark = proxy.answered.length;
    const errors = [];
    for (let i = 0; i < 5; i++) errors.push(await src.get().catch((e: unknown) => e as { code: string; category: string }));
    expect(errors.every((e) => e && (e as { code: string }).code === "TPM_AUTH_FAILED")).toBe(true);
    expect(src.status().state).toBe("failed");
    expect(judgedSigns(mark)).toBe(1);
    await src.close();
    await expectNothingLoaded("long-running file key, wrong password");
  });
});

describe("ordinary runs leave nothing loaded on the TPM", () => {
  it("credential-process (TSS2 file and persistent handle), sign-string, keygen, csr, and a wrong password", async () => {
    for (const kind of ["file", "handle"] as const) {
      const r = await credentialProcess(kind, tpm.device);
      expect(r.code, r.stderr).toBe(0);
      await expectNothingLoaded(`credential-process, ${kind} key`);
    }
    const sign = await runAgent(["sign-string", "--private-key", keys.file.keyArg, "--tpm-device", tpm.device, ...keys.file.passwordArgs, "--format", "text"]);
    expect(sign.code, sign.stderr).toBe(0);
    await expectNothingLoaded("sign-string");

    const keyPath = join(tpm.dir, "keygen.tss2");
    const keygen = await runAgent(["keygen", "--private-key", keyPath, "--key-type", "p256", "--tpm-device", tpm.device, ...keys.file.passwordArgs]);
    expect(keygen.code, keygen.stderr).toBe(0);
    await expectNothingLoaded("keygen");
    const csr = await runAgent(["csr", "--private-key", keyPath, "--subject", "CN=faults", "--out", join(tpm.dir, "faults.csr"), "--tpm-device", tpm.device, ...keys.file.passwordArgs]);
    expect(csr.code, csr.stderr).toBe(0);
    await expectNothingLoaded("csr");

    const wrong = await credentialProcess("file", tpm.device, ["--tpm-key-password", "wrong-password"]);
    expect(wrong.stderr).toMatch(/wrong TPM key password/);
    expect(wrong.code).toBe(EXIT_CODES.auth);
    await expectNothingLoaded("credential-process, wrong password");
  });

  it("an agent holding a TPM key, stopped with SIGTERM, flushes its key and sessions", async () => {
    const runDir = join(tpm.dir, "agent-run");
    mkdirSync(runDir, { mode: 0o700 });
    const socket = join(runDir, "agent.sock");
    const config = join(tpm.dir, "agent-config.json");
    const pwFile = join(tpm.dir, "tpm-pw");
    writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
    const profile = {
      certificate: keys.file.certPath,
      "private-key": keys.file.keyArg,
      "tpm-device": tpm.device,
      "tpm-key-password": `file:${pwFile}`,
      "trust-anchor-arn": ARNS.trustAnchorArn,
      "profile-arn": ARNS.profileArn,
      "role-arn": ARNS.roleArn,
      endpoint: endpoint.url,
    };
    writeFileSync(config, JSON.stringify({ profiles: { tpm: profile } }), { mode: 0o600 });
    // A reload replacing the TPM profile while clients keep asking: swtpm serves one connection at a time, so the old
    // signer disconnects before the new one connects; no request fails meanwhile (before: 503 "tpm was closed …").
    const answers: unknown[] = [];
    const reload = async (agent: ChildProcess, log: string[]) => {
      writeFileSync(config, JSON.stringify({ profiles: { tpm: { ...profile, "session-duration": 2700 } } }), { mode: 0o600 });
      let asking = true;
      const ask = async () => {
        while (asking) answers.push(await fetchFromAgent(socket, "tpm").catch((error: unknown) => String(error)));
      };
      const clients = [ask(), ask(), ask()];
      agent.kill("SIGHUP");
      await until("the reload", () => log.some((l) => /configuration reloaded: kept 0, added 0, replaced 1/.test(l)) || undefined);
      asking = false;
      await Promise.all(clients);
      answers.push(await fetchFromAgent(socket, "tpm")); // the new signer's
    };
    const stopped = await serveOnceAndStop(cli.cli, config, socket, "tpm", process.env, reload);
    expect(answers.filter((a) => typeof (a as Credentials | undefined)?.accessKeyId !== "string")).toEqual([]);
    expect(stopped.accessKeyId).toMatch(/^ASIA/);
    expect(stopped.code, stopped.log.join("\n")).toBe(0);
    await expectNothingLoaded("agent stopped with SIGTERM");
  });
});
