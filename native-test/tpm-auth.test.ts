/**
 * TPM authorization edge cases on private swtpms: an owner (hierarchy) password, dictionary-attack lockout,
 * a TPM that still waits for TPM2_Startup, and objects flushed when a process exits without close().
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { createTpmSigner, openTpmSigner } from "../src/signers/tpm/tpm-signer.js";
import { openTpmTransport } from "../src/tpm/transport/open-transport.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { genpkey, lockoutCounter, opensslVerifies, sessionHandles, transientHandles } from "./helpers/tpm-keys.js";

const message = Buffer.from("authorization edge cases");

describe("owner hierarchy password (parent 0x40000001 with --tpm-parent-password)", () => {
  let tpm: Swtpm;
  let key: Awaited<ReturnType<typeof genpkey>>;
  beforeAll(async () => {
    tpm = await startSwtpm();
    await tpm.run("tpm2_changeauth", ["-c", "owner", "owner-Secret"]);
    // tpm2-openssl re-creates the SRK under the owner hierarchy with this password.
    key = await genpkey(tpm, "owned", { algorithm: "EC", curve: "P-256", parentAuth: "owner-Secret" });
  });
  afterAll(() => tpm?.stop());

  it("signs with the right owner password", async () => {
    const s = await createTpmSigner({ key: { kind: "tss2-pem", path: key.keyPath, pem: key.pem }, device: tpm.device, parentPassword: { kind: "value", value: "owner-Secret" } });
    try {
      expect(await opensslVerifies(tpm, key.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("the owner password never crosses the transport in clear: CreatePrimary is authorized through a salted session", async () => {
    const inner = await openTpmTransport(tpm.device, {});
    const written: Buffer[] = [];
    const transport = { description: inner.description, transmitSync: (c: Buffer) => inner.transmitSync(c), close: () => inner.close(),
      transmit: (c: Buffer) => (written.push(Buffer.from(c)), inner.transmit(c)) };
    const s = await openTpmSigner({ key: { kind: "tss2-pem", path: key.keyPath, pem: key.pem }, parentPassword: { kind: "value", value: "owner-Secret" } }, { transport });
    try {
      expect(await opensslVerifies(tpm, key.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    } finally {
      await s.close();
    }
    expect(written.some((c) => c.readUInt32BE(6) === 0x131)).toBe(true); // TPM2_CreatePrimary was sent
    expect(Buffer.concat(written).includes(Buffer.from("owner-Secret"))).toBe(false);
  });

  it("without it, or with a wrong one: a clear error naming the owner hierarchy, not counted for lockout", async () => {
    const before = await lockoutCounter(tpm);
    for (const parentPassword of [undefined, { kind: "value" as const, value: "guess" }]) {
      const err = await createTpmSigner({ key: { kind: "tss2-pem", path: key.keyPath, pem: key.pem }, device: tpm.device, ...(parentPassword ? { parentPassword } : {}) }).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: "TPM_AUTH_FAILED" });
      expect((err as Error).message).toMatch(/^wrong password for the TPM owner hierarchy/);
    }
    expect(await lockoutCounter(tpm)).toBe(before);
  });
});

/** One signature by a new signer (as a daemon's after each reload) with the key file and `password`. */
async function signWithKey(tpm: Swtpm, key: Awaited<ReturnType<typeof genpkey>>, password: string): Promise<Buffer> {
  const s = await createTpmSigner({ key: { kind: "tss2-pem", path: key.keyPath, pem: key.pem }, device: tpm.device, keyPassword: { kind: "value", value: password } });
  try {
    return await s.sign(message);
  } finally {
    await s.close();
  }
}

describe("dictionary-attack lockout", () => {
  let tpm: Swtpm;
  let key: Awaited<ReturnType<typeof genpkey>>;
  beforeAll(async () => {
    tpm = await startSwtpm({ da: { maxTries: 3, recoveryTime: 600, lockoutRecoveryTime: 0 } });
    key = await genpkey(tpm, "da", { algorithm: "EC", curve: "P-256", userAuth: "right" });
  });
  afterAll(() => tpm?.stop());

  const signWith = (password: string) => signWithKey(tpm, key, password);

  it("each wrong password costs exactly one try, and the message says how many are left", async () => {
    for (let i = 1; i <= 3; i++) {
      const err = await signWith(`wrong-${i}`).catch((e: unknown) => e); // one rejected is never presented again
      expect(err).toMatchObject({ code: "TPM_AUTH_FAILED" });
      expect((err as Error).message).toContain(`${i} failed attempt(s) counted, ${3 - i} left`);
      expect(await lockoutCounter(tpm)).toBe(i);
    }
  });

  it("in lockout even the right password is refused, with a lockout message and the way out", async () => {
    const err = await signWith("right").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "TPM_LOCKOUT" });
    expect((err as Error).message).toMatch(/dictionary-attack lockout .* for about 600 s/);
    expect((err as { hint?: string }).hint).toContain("tpm2_dictionarylockout --clear-lockout");
    await tpm.run("tpm2_dictionarylockout", ["--clear-lockout"]);
    expect(await opensslVerifies(tpm, key.publicKeyPath, message, await signWith("right"), "sha256")).toBe(true);
  });
});

describe("a wrong key password offered again by a new signer in the same process", () => {
  let tpm: Swtpm;
  let key: Awaited<ReturnType<typeof genpkey>>;
  beforeAll(async () => {
    tpm = await startSwtpm();
    key = await genpkey(tpm, "again", { algorithm: "EC", curve: "P-256", userAuth: "right" });
  });
  afterAll(() => tpm?.stop());

  const signWith = (password: string) => signWithKey(tpm, key, password);

  it("costs one dictionary-attack try, not one per signer", async () => {
    // Before: a daemon opens a new signer at each SIGHUP after a config change: 10 reloads, 10 tries counted.
    const before = await lockoutCounter(tpm);
    const errors = [];
    for (let i = 0; i < 5; i++) errors.push(await signWith("wrong").catch((e: unknown) => e));
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(Array(5).fill("TPM_AUTH_FAILED"));
    expect((errors[4] as Error).message).toMatch(/the TPM already rejected this key password; it was not presented again$/);
    expect((errors[4] as { hint?: string }).hint).toMatch(/; if the TPM was given this password since, restart \(a reload refuses it too\)$/);
    expect(await lockoutCounter(tpm)).toBe(before + 1);
    expect(await opensslVerifies(tpm, key.publicKeyPath, message, await signWith("right"), "sha256")).toBe(true);
  });
});

describe("a wrong parent password offered for several key files under one persistent parent", () => {
  const PARENT = 0x81000010;
  let tpm: Swtpm;
  const keys: Awaited<ReturnType<typeof genpkey>>[] = [];
  beforeAll(async () => {
    tpm = await startSwtpm();
    // persistSrk's template without noda: a wrong password for this parent counts as a dictionary-attack try.
    const ctx = join(tpm.dir, "parent.ctx");
    const attributes = "restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth";
    await tpm.run("tpm2_createprimary", ["-C", "o", "-G", "ecc256:aes128cfb", "-a", attributes, "-p", "parent-Right", "-c", ctx, "-Q"]);
    await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx, "0x81000010", "-Q"]);
    await tpm.flushAll();
    for (const name of ["first", "second", "third"]) {
      keys.push(await genpkey(tpm, name, { algorithm: "EC", curve: "P-256", parent: PARENT, parentAuth: "parent-Right" }));
    }
  });
  afterAll(() => tpm?.stop());

  const open = (key: (typeof keys)[number], password: string) =>
    createTpmSigner({ key: { kind: "tss2-pem", path: key.keyPath, pem: key.pem }, device: tpm.device, parentPassword: { kind: "value", value: password } });

  it("costs one dictionary-attack try, not one per key file (the password is the parent's)", async () => {
    // Before: the rejection was remembered per key file: three key files, three tries counted.
    const before = await lockoutCounter(tpm);
    const errors = [];
    for (const key of keys) errors.push(await open(key, "parent-Wrong").catch((e: unknown) => e));
    expect(errors.map((e) => (e as { code?: string }).code)).toEqual(Array(3).fill("TPM_AUTH_FAILED"));
    expect(await lockoutCounter(tpm)).toBe(before + 1);
    expect((errors[2] as Error).message).toMatch(/the TPM already rejected this parent password; it was not presented again$/);
    const s = await open(keys[1]!, "parent-Right");
    try {
      expect(await opensslVerifies(tpm, keys[1]!.publicKeyPath, message, await s.sign(message), "sha256")).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe("a TPM that was never started", () => {
  let tpm: Swtpm;
  beforeAll(async () => {
    tpm = await startSwtpm({ startupClear: false });
  });
  afterAll(() => tpm?.stop());

  it("gets TPM2_Startup(CLEAR) from us, then works", async () => {
    // tpm2-openssl cannot make a key before Startup, so use a persistent-free path: the SRK is re-created
    // from the template, which only needs the TPM to be started.
    const before = await tpm.run("tpm2_getrandom", ["4"]).catch((e: Error) => e.message);
    expect(before).toMatch(/0x100|initialize/i);
    const { Tpm } = await import("../src/tpm/client/tpm.js");
    const { openTpmTransport } = await import("../src/tpm/transport/open-transport.js");
    const { GetRandom } = await import("../src/tpm/wire/commands.js");
    const transport = await openTpmTransport(tpm.device, {});
    try {
      const { response } = await new Tpm(transport).execute(GetRandom, {}, { bytesRequested: 8 });
      expect(response.randomBytes).toHaveLength(8);
    } finally {
      await transport.close();
    }
    expect(await tpm.run("tpm2_getrandom", ["4"])).toBeTruthy();
  });
});

describe("process exit without close()", () => {
  let tpm: Swtpm;
  let key: Awaited<ReturnType<typeof genpkey>>;
  let bundleDir: string;
  let script: string;
  beforeAll(async () => {
    tpm = await startSwtpm();
    key = await genpkey(tpm, "exit", { algorithm: "EC", curve: "P-256", userAuth: "exit-pw" });
    const cache = resolve("node_modules", ".cache");
    mkdirSync(cache, { recursive: true });
    bundleDir = mkdtempSync(join(cache, "raa-tpm-exit-"));
    script = join(bundleDir, "child.mjs");
    await build({
      stdin: {
        contents: `
          import { createTpmSigner } from ${JSON.stringify(resolve("src/signers/tpm/tpm-signer.ts"))};
          const [mode, device, path] = process.argv.slice(2);
          const pem = (await import("node:fs")).readFileSync(path, "utf8");
          const s = await createTpmSigner({ key: { kind: "tss2-pem", path, pem }, device, keyPassword: { kind: "env", name: "KEY_PW" } });
          await s.sign(Buffer.from("x"));
          process.stdout.write("signed\\n");
          if (mode === "exit") process.exit(0);
          if (mode === "hang") setInterval(() => {}, 1000);
          // "natural": just return; the event loop empties.
        `,
        resolveDir: resolve("."),
        loader: "ts",
      },
      outfile: script,
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      packages: "external",
      logLevel: "silent",
    });
  });
  afterAll(async () => {
    rmSync(bundleDir, { recursive: true, force: true });
    await tpm?.stop();
  });

  async function runChild(mode: "exit" | "natural" | "hang"): Promise<void> {
    const child = spawn(process.execPath, [script, mode, tpm.device, key.keyPath], { env: { ...process.env, KEY_PW: "exit-pw" }, stdio: ["ignore", "pipe", "inherit"] });
    const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
    expect(chunk.toString()).toBe("signed\n");
    if (mode === "hang") child.kill("SIGKILL");
    await once(child, "exit");
  }

  it("process.exit(): the exit handler flushes the key and its session synchronously", async () => {
    await runChild("exit");
    expect(await transientHandles(tpm)).toEqual([]);
    expect(await sessionHandles(tpm)).toEqual([]);
  });

  it("a natural end of the event loop closes the signer (and the idle connection does not keep the process alive)", async () => {
    await runChild("natural");
    expect(await transientHandles(tpm)).toEqual([]);
    expect(await sessionHandles(tpm)).toEqual([]);
  });

  it("control: a SIGKILLed process leaves its key loaded on a bare swtpm, so the checks above can fail", async () => {
    await runChild("hang");
    expect((await transientHandles(tpm)).length).toBeGreaterThan(0);
    expect((await sessionHandles(tpm)).length).toBeGreaterThan(0);
    await tpm.flushAll();
  });
});
