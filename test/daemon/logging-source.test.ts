import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { loggingSource, startDaemon } from "../../src/daemon/run-daemon.js";
import { VirtualTime } from "../../bench/lib/virtual-time.js";
import { NetworkError } from "../../src/errors.js";
import { createCa, issueLeaf, makeTempDir, openssl } from "../helpers/pki.js";
import { startEndpoint, successBody } from "../rolesanywhere/support.js";
import { createCredentialSource } from "../../src/credentials/credential-source.js";

const ARNS = {
  trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a"),
  profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/b"),
  roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
};

describe("a daemon's source (agent, serve, update) with a key no retry can use", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let certPath: string;
  let encryptedKey: string;
  let futureCertPath: string;
  let futureKeyPath: string;
  beforeAll(() => {
    tmp = makeTempDir("raa-logging-source-");
    const ca = createCa(tmp.dir, { name: "ca" });
    const leaf = issueLeaf(ca, tmp.dir, { name: "leaf" });
    const future = issueLeaf(ca, tmp.dir, { name: "future", notBefore: new Date(Date.now() + 3 * 86_400_000) });
    [futureCertPath, futureKeyPath] = [future.certPath, future.keyPath];
    certPath = leaf.certPath;
    encryptedKey = join(tmp.dir, "leaf.enc.pem");
    openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", "pass:secret", "-out", encryptedKey]);
  }, 60_000);
  afterAll(() => tmp.cleanup());

  it("leaves a 429 to the refresh engine (no retry inside CreateSession) but retries a 503 at once; update --once and the SDK keep both", async () => {
    // Each engine attempt made up to 3 HTTP attempts: a throttled fleet of 2,000 made 59 calls per device, not 22.
    const leaf = issueLeaf(createCa(join(tmp.dir, "429"), { name: "ca429" }), join(tmp.dir, "429"), { name: "leaf429" });
    const throttled = { status: 429, body: '{"message":"Rate exceeded"}', headers: { "x-amzn-ErrorType": "ThrottlingException" } };
    const unavailable = { status: 503, body: "{}" };
    const attempts = async (first: { status: number; body: string; headers?: Record<string, string> }, daemon: boolean) => {
      const server = await startEndpoint([first, { status: 201, body: successBody() }]);
      const settings = {
        signer: { certificate: leaf.certPath, privateKey: leaf.keyPath },
        session: { ...ARNS, durationSeconds: 900 },
        endpoint: { endpoint: server.url, env: {}, timeoutMs: 10_000 },
      };
      const source = daemon ? loggingSource({ name: "t", settings }, () => {}, {}) : createCredentialSource({ name: "t", settings });
      try {
        const outcome = await source.get().then(() => "credentials", (e: { code: string }) => e.code);
        return `${outcome} after ${server.requests.length}`;
      } finally {
        await source.close();
        await server.close();
      }
    };
    expect(await attempts(throttled, true)).toBe("THROTTLED after 1");
    expect(await attempts(unavailable, true)).toBe("credentials after 2");
    expect(await attempts(throttled, false)).toBe("credentials after 2");
  }, 30_000);

  it("logs PASSWORD_REQUIRED once, not at each retry, while it keeps trying", async () => {
    // Before: one line per attempt (`retry #2 at …`, `retry #3 at …`…), every ~30 s forever in the journal.
    vi.stubEnv("CI", "true"); // no terminal to prompt on
    const lines: string[] = [];
    const settings = {
      signer: { certificate: certPath, privateKey: encryptedKey },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9" },
    };
    const source = loggingSource({ name: "p", settings }, (line) => lines.push(line), {});
    try {
      source.start();
      await vi.waitFor(() => expect(source.status().consecutiveFailures).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 50 });
      expect(source.status()).toMatchObject({ state: "expired", lastError: { code: "PASSWORD_REQUIRED" } });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^p: refresh failed \(PASSWORD_REQUIRED\): .* holds an encrypted private key and no password was given .*; retry #2 at .*; no valid credentials to serve meanwhile; not logged again until it changes$/);
    } finally {
      await source.close();
      vi.unstubAllEnvs();
    }
  }, 15_000);

  it("update's source rebuilt (SIGHUP) onto a broken key says what its credentials file holds, not what it serves", async () => {
    // Before: `no valid credentials to serve meanwhile`, while the file kept valid credentials every SDK went on using.
    vi.stubEnv("CI", "true");
    const settings = {
      signer: { certificate: certPath, privateKey: encryptedKey },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9" },
    };
    const valid = new Date(Date.now() + 3600_000);
    const expired = new Date(Date.now() - 60_000);
    const ends = [
      [valid, `; the credentials file keeps the previous ones, valid until ${valid.toISOString().replace(/\.\d+Z$/, "Z")}`],
      [expired, `; the credentials file holds expired ones, since ${expired.toISOString().replace(/\.\d+Z$/, "Z")}`],
      [undefined, "; the credentials file is left as it is (nothing written to it since update started)"],
    ] as const;
    try {
      for (const [written, end] of ends) {
        const lines: string[] = [];
        const source = loggingSource({ name: "u", settings }, (line) => lines.push(line), { written: () => written });
        try {
          source.start();
          await vi.waitFor(() => expect(lines).toHaveLength(1), { timeout: 10_000, interval: 50 });
          expect(lines[0]).toMatch(/^u: refresh failed \(PASSWORD_REQUIRED\): .*; retry #2 at [-0-9T:]+Z; /);
          expect(lines[0]).toContain(`${end}; not logged again until it changes`);
          expect(lines[0]).not.toMatch(/serv/);
        } finally {
          await source.close();
        }
      }
    } finally {
      vi.unstubAllEnvs();
    }
  }, 30_000);

  it("logs a certificate not valid yet by the clock once, although the clock's reading in it changes", async () => {
    // Before: one line per attempt (a device booted at 1970 waiting for NTP), each with the clock's new reading.
    const lines: string[] = [];
    const settings = {
      signer: { certificate: futureCertPath, privateKey: futureKeyPath },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9" },
    };
    const source = loggingSource({ name: "c", settings }, (line) => lines.push(line), {});
    try {
      source.start();
      await vi.waitFor(() => expect(source.status().consecutiveFailures).toBeGreaterThanOrEqual(3), { timeout: 12_000, interval: 50 });
      expect(source.status().lastError?.code).toBe("CERTIFICATE_NOT_YET_VALID"); // attempts 1 s apart at least
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^c: refresh failed \(CERTIFICATE_NOT_YET_VALID\): .*clock says .*; not logged again until it changes$/);
    } finally {
      await source.close();
    }
  }, 15_000);

  it("logs a token or module that is not there once, while it keeps trying every few seconds", async () => {
    const lines: string[] = [];
    const settings = {
      signer: { certificate: certPath, privateKey: "pkcs11:token=gateway;object=key?module-path=/nonexistent/libp11-raa.so" },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9" },
    };
    const source = loggingSource({ name: "t", settings }, (line) => lines.push(line), {});
    try {
      source.start();
      await vi.waitFor(() => expect(source.status().consecutiveFailures).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 50 });
      expect(source.status().lastError?.code).toMatch(/^PKCS11_(MODULE_NOT_FOUND|NOT_INSTALLED)$/);
      expect(lines).toHaveLength(1); // before: one per attempt
      expect(lines[0]).toMatch(/^t: refresh failed \(PKCS11_.*; not logged again until it changes$/);
    } finally {
      await source.close();
    }
  }, 15_000);

  it("does not log the first retry's line when the error is the one start-up logged", async () => {
    // Before: `t: … (PKCS11_…)` from start-up, then `t: refresh failed (PKCS11_…) …` from the first retry.
    const lines: string[] = [];
    const settings = {
      signer: { certificate: certPath, privateKey: "pkcs11:token=gateway;object=key?module-path=/nonexistent/libp11-raa.so" },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9" },
    };
    const { registry } = await startDaemon([{ name: "t", settings }], (line) => lines.push(line), false, {}, async () => ({}));
    try {
      const source = registry.get("t")!;
      await vi.waitFor(() => expect(source.status().consecutiveFailures).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 50 });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^t: .*PKCS#11/); // the start-up line (logFailures)
    } finally {
      await registry.closeAll();
    }
  }, 15_000);
});

describe("a daemon's source whose password or PIN is refused at start-up", () => {
  const tmp = makeTempDir("raa-logging-source-auth-");
  afterAll(() => tmp.cleanup());

  it("one wrong password, one line: the refresh after it says nothing the start-up line did not", async () => {
    // Before: `p: … rejected …` from start-up (logFailures), then `p: refresh failed (PASSWORD_INCORRECT): …` from the
    // first refresh, which only threw the same error again (a refused secret is never tried twice).
    const leaf = issueLeaf(createCa(tmp.dir, { name: "ca" }), tmp.dir, { name: "leaf" });
    const encrypted = join(tmp.dir, "leaf.enc.pem");
    openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", "pass:secret", "-out", encrypted]);
    const lines: string[] = [];
    const settings = {
      signer: { certificate: leaf.certPath, privateKey: encrypted, keyPassword: { kind: "value" as const, value: "wrong" } },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9" },
    };
    const { registry } = await startDaemon([{ name: "p", settings }], (line) => lines.push(line), false, {}, async () => ({}));
    try {
      const source = registry.get("p")!;
      await vi.waitFor(() => expect(source.status().state).toBe("failed"), { timeout: 10_000, interval: 50 });
      expect(source.status().lastError?.code).toBe("PASSWORD_INCORRECT");
      expect(lines).toHaveLength(1);
      // Nothing of the refresh's line lost: the error, its hint, and that it is not retried.
      expect(lines[0]).toMatch(/^p: incorrect PKCS#8 private key password for .*\(check the password, it is not retried; .*\); not retried \(fix it, then reload with SIGHUP or restart\)$/);
    } finally {
      await registry.closeAll();
    }
  }, 15_000);
});

describe("a daemon's source whose settings are refused at start-up (a usage error: never retried either)", () => {
  const tmp = makeTempDir("raa-logging-source-usage-");
  afterAll(() => tmp.cleanup());

  it("one usage error, one line: the refresh after it, which meets it again, says nothing the start-up line did not", async () => {
    // Before: `p: … brings its own certificate …` from start-up, then `p: refresh failed (USAGE): …; not retried …`.
    const leaf = issueLeaf(createCa(tmp.dir, { name: "ca" }), tmp.dir, { name: "leaf" });
    const p12 = join(tmp.dir, "leaf.p12");
    openssl(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-passout", "pass:", "-out", p12]);
    const lines: string[] = [];
    const settings = {
      signer: { certificate: leaf.certPath, privateKey: p12 },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9" },
    };
    const { registry } = await startDaemon([{ name: "p", settings }], (line) => lines.push(line), false, {}, async () => ({}));
    try {
      const source = registry.get("p")!;
      await expect(source.get()).rejects.toMatchObject({ code: "USAGE" });
      expect(source.status()).toMatchObject({ state: "failed", lastError: { code: "USAGE" } });
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^p: .*leaf\.p12 is a PKCS#12 file, which brings its own certificate \(pass .*\); not retried \(fix it, then reload with SIGHUP or restart\)$/);
    } finally {
      await registry.closeAll();
    }
  }, 15_000);
});

describe("a daemon's source through a week of an endpoint that does not answer (virtual time)", () => {
  it("logs a few dozen lines a day, not one per attempt, and refreshes within a minute of its return", async () => {
    // Before: one line per attempt, ~2,900 a day (a 60 s ceiling with full jitter) in a fleet device's journal.
    const t = new VirtualTime(Date.UTC(2026, 0, 1));
    const lines: { at: number; line: string }[] = [];
    let down = true;
    let seed = 1;
    const spec = outageSpec(t, async () => {
      if (down) throw new NetworkError("NETWORK_ERROR", "connect ECONNREFUSED 127.0.0.1:443");
      const expiration = new Date(t.now() + 3_600_000);
      return { accessKeyId: "AKIA", secretAccessKey: "secret", sessionToken: "token", expiration };
    }, () => ((seed = (seed * 48271) % 2147483647) / 2147483647));
    const source = loggingSource(spec as never, (line) => lines.push({ at: t.now(), line }), {});
    try {
      source.start();
      const week = t.now() + 7 * 86_400_000;
      await t.runUntil(week);
      expect(source.status().consecutiveFailures).toBeGreaterThan(7 * 2_000); // it kept trying
      expect(lines.length).toBeLessThan(7 * 100);
      expect(lines[0]!.line).toMatch(/^p: refresh failed \(NETWORK_ERROR\): .*; logged again at failure #2 unless it changes$/);
      expect(lines.at(-1)!.line).toMatch(/; retry #\d+ at .*; no valid credentials .*; logged again at failure #\d+ unless/);
      down = false;
      await t.runUntil(week + 3_600_000);
      const back = lines.find(({ line }) => line.includes("new credentials"));
      expect(back!.at - week).toBeLessThan(61_000);
      expect(source.status().state).toBe("fresh");
    } finally {
      await source.close();
    }
  });

  it("logs a new failure with the same code at once, keeps its promise of the next line, and starts over after a success", async () => {
    // Before: an endpoint refusing connections, then a TLS-inspecting proxy (both NETWORK_ERROR) was said only at
    // failure #16, ~3 min later (#64 → #128 after an hour: half an hour); the request id in each answer aside.
    const t = new VirtualTime(Date.UTC(2026, 0, 1));
    const lines: string[] = [];
    let failures = 0;
    let up = false;
    const spec = outageSpec(t, async () => {
      if (up) return { accessKeyId: "AKIA", secretAccessKey: "secret", sessionToken: "token", expiration: new Date(t.now() + 3_600_000) };
      failures++;
      const id = `[request id ${failures.toString(16)}a-${failures}]`;
      if (failures <= 10 || failures > 20) throw new NetworkError("NETWORK_ERROR", `connect ECONNREFUSED 127.0.0.1:443 ${id}`);
      throw new NetworkError("NETWORK_ERROR", "the TLS certificate of rolesanywhere is not trusted: self-signed certificate");
    });
    const source = loggingSource(spec as never, (line) => lines.push(line), {});
    const until = async (done: () => boolean) => {
      for (let i = 0; i < 10_000 && !done(); i++) await t.runUntil(t.now() + 1_000);
    };
    const failureOf = (line: string) => Number(/; retry #(\d+) at /.exec(line)![1]) - 1;
    try {
      source.start();
      await until(() => failures >= 40);
      const logged = lines.map((line) => [failureOf(line), /not trusted/.test(line)] as const);
      expect(logged).toEqual([[1, false], [2, false], [4, false], [8, false], [11, true], [16, true], [21, false], [32, false]]);
      for (const [i, line] of lines.entries()) {
        const promised = Number(/logged again at failure #(\d+) unless/.exec(line)![1]);
        if (i + 1 < lines.length && logged[i + 1]![1] === logged[i]![1]) expect(failureOf(lines[i + 1]!)).toBe(promised);
      }
      up = true;
      await until(() => source.status().state === "fresh");
      up = false;
      lines.length = 0;
      await until(() => lines.length > 0);
      expect(lines[0]).toMatch(/^p: refresh failed \(NETWORK_ERROR\): .*ECONNREFUSED.*; logged again at failure #2 unless/);
    } finally {
      await source.close();
    }
  });

  it("an outage that alternates between two errors at every attempt: a few lines, not one per attempt; a third error at once", async () => {
    // Before: each attempt differed from the one before, so each was logged (two endpoints behind one name, one
    // refusing connections, one behind a TLS-inspecting proxy: ~2,900 lines a day).
    const t = new VirtualTime(Date.UTC(2026, 0, 1));
    const lines: string[] = [];
    let failures = 0;
    const spec = outageSpec(t, async () => {
      failures++;
      if (failures === 150) throw new NetworkError("NETWORK_ERROR", "getaddrinfo EAI_AGAIN rolesanywhere.us-east-1.amazonaws.com");
      if (failures % 2 === 1) throw new NetworkError("NETWORK_ERROR", "connect ECONNREFUSED 127.0.0.1:443");
      throw new NetworkError("NETWORK_ERROR", "the TLS certificate of rolesanywhere is not trusted: self-signed certificate");
    });
    const source = loggingSource(spec as never, (line) => lines.push(line), {});
    try {
      source.start();
      for (let i = 0; i < 100_000 && failures < 200; i++) await t.runUntil(t.now() + 1_000);
      const logged = lines.map((line) => Number(/; retry #(\d+) at /.exec(line)![1]) - 1);
      // The schedule's lines (1, 2, 4 … 128, 192), at most one change back between two of them, and the new error.
      expect(logged).toEqual([1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 64, 65, 128, 129, 150, 151, 192, 193]);
      expect(lines[logged.indexOf(150)]).toMatch(/EAI_AGAIN/);
    } finally {
      await source.close();
    }
  });
});

/** A source "p" over virtual time `t` whose CreateSession is `createSession` (the signer never fails). */
function outageSpec(t: VirtualTime, createSession: () => Promise<unknown>, random: () => number = () => 0.5) {
  return {
    name: "p",
    settings: { signer: { certificate: "/c", privateKey: "/k" }, session: { ...ARNS, durationSeconds: 3600 }, endpoint: {} },
    now: t.now, monotonic: t.now, timers: t, random,
    createSigner: async () => ({ close: async () => {} }),
    createSession,
  };
}
