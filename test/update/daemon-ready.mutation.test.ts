/**
 * Round 41 (M45): `update` the daemon (not --once), at the lines of run-update.ts whose mutation no unit test noticed
 * (only native-test/service-readiness.test.ts and the CLI's native tests ran them): READY=1 once the file holds
 * credentials, the refreshed credentials written, a reload that keeps the source and one that replaces it, and
 * --fail-fast at start-up. A real source over a key file, a loopback endpoint, the signals runDaemon listens to, and
 * a service manager's notify socket (Python: Node.js has no UNIX datagram sockets) as in test/os/service-manager.test.ts.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it, vi } from "vitest";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { loadNativeHelper } from "../../src/os/native-helper.js";
import type { CredentialSettings } from "../../src/settings/credential-settings.js";
import { runUpdate } from "../../src/update/run-update.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";
import { startEndpoint, successBody } from "../rolesanywhere/support.js";

const ARNS = {
  trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/a"),
  profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:111122223333:profile/b"),
  roleArn: parseRoleArn("arn:aws:iam::111122223333:role/r"),
};
const tmp = makeTempDir("raa-update-daemon-ready-");
afterAll(() => tmp.cleanup());
const leaf = issueLeaf(createCa(tmp.dir, { name: "ca" }), tmp.dir, { name: "leaf" });
const settingsFor = (endpoint: string, durationSeconds = 900) =>
  ({
    signer: { certificate: leaf.certPath, privateKey: leaf.keyPath },
    session: { ...ARNS, durationSeconds },
    endpoint: { endpoint, env: {}, timeoutMs: 10_000 },
  }) as unknown as CredentialSettings;

/** The notify socket's first datagram, with the credentials file's text read as it arrived. */
async function receiver(socket: string, file: string) {
  const code = "import json, socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\n" +
    "print('bound', flush=True)\nd = s.recv(4096).decode()\n" +
    "try:\n  t = open(sys.argv[2]).read()\nexcept OSError:\n  t = ''\nprint(json.dumps([d, t]), flush=True)\n";
  const python = spawn("python3", ["-c", code, socket, file], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: python.stdout })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe("bound");
  return { first: lines.next().then((r) => JSON.parse(r.value as string) as [string, string]), stop: () => python.kill("SIGKILL") };
}

describe("update (daemon) with a notify socket", () => {
  it.runIf(loadNativeHelper().helper !== undefined)(
    "READY=1 once the file holds the credentials; a reload keeps the source, then one with other settings replaces it and calls again",
    async () => {
      const path = join(tmp.dir, "credentials");
      const socket = join(tmp.dir, "notify");
      const manager = await receiver(socket, path);
      const server = await startEndpoint([{ status: 201, body: successBody() }]);
      vi.stubEnv("NOTIFY_SOCKET", socket);
      let settings = settingsFor(server.url);
      const lines: string[] = [];
      const run = runUpdate({ settings: async () => settings, path, section: "gw", once: false, log: (l) => lines.push(l) });
      try {
        const [datagram, text] = await manager.first;
        expect(datagram).toBe(`READY=1\nSTATUS=profile [gw] written to ${path}`);
        expect(text).toContain("[gw]\naws_access_key_id = ASIAEXAMPLEEXAMPLE01\n"); // as READY=1 came: written before it
        expect(lines[0]).toBe(`updating profile [gw] in ${path}`);
        expect(readFileSync(path, "utf8")).toContain("[gw]\naws_access_key_id = ASIAEXAMPLEEXAMPLE01\n");

        process.emit("SIGHUP");
        await vi.waitFor(() => expect(lines).toContain("configuration reloaded: kept 1, replaced 0"), { timeout: 15_000, interval: 50 });
        expect(server.requests).toHaveLength(1);

        settings = settingsFor(server.url, 1800);
        process.emit("SIGHUP");
        await vi.waitFor(() => expect(lines).toContain("configuration reloaded: kept 0, replaced 1"), { timeout: 15_000, interval: 50 });
        // The new source calls CreateSession at once (started), with the new settings.
        await vi.waitFor(() => expect(server.requests).toHaveLength(2), { timeout: 15_000, interval: 50 });
        expect(JSON.parse(server.requests[1]!.body)).toMatchObject({ durationSeconds: 1800 });
      } finally {
        process.emit("SIGTERM");
        await run;
        await server.close();
        manager.stop();
        vi.unstubAllEnvs();
      }
    },
    30_000,
  );
});

describe("update (daemon) at start-up, the first CreateSession refused (403)", () => {
  const refused = { status: 403, body: JSON.stringify({ message: "no such trust anchor" }), headers: { "x-amzn-ErrorType": "AccessDeniedException" } };

  it("--fail-fast: ends with the service's error, having written nothing and never said it is updating", async () => {
    const server = await startEndpoint([refused]);
    const path = join(tmp.dir, "credentials-fail-fast");
    const lines: string[] = [];
    const outcome = await runUpdate({ settings: async () => settingsFor(server.url), path, section: "gw", once: false, failFast: true, log: (l) => lines.push(l) })
      .then(() => "kept running", (error: unknown) => error);
    await server.close();
    expect(outcome).toMatchObject({ category: "service" });
    expect(lines.filter((l) => l.startsWith("updating profile"))).toEqual([]);
    expect(server.requests).toHaveLength(1);
  });

  it("without it: keeps running (the refusal is retried later), says it is updating, and ends on SIGTERM", async () => {
    const server = await startEndpoint([refused]);
    const path = join(tmp.dir, "credentials-keeps-on");
    const lines: string[] = [];
    const run = runUpdate({ settings: async () => settingsFor(server.url), path, section: "gw", once: false, log: (l) => lines.push(l) });
    try {
      await vi.waitFor(() => expect(server.requests).toHaveLength(1), { timeout: 15_000, interval: 50 });
      await vi.waitFor(() => expect(lines).toContain(`updating profile [gw] in ${path}`), { timeout: 15_000, interval: 50 });
    } finally {
      process.emit("SIGTERM");
    }
    expect(await run.then(() => "ended", (error: unknown) => error)).toBe("ended");
    await server.close();
  });
});

describe("update (daemon) at start-up, its device not there (a PKCS#11 module missing: category device)", () => {
  const settings = async () =>
    ({
      signer: { certificate: leaf.certPath, privateKey: "pkcs11:token=absent;object=key", pkcs11: { library: join(tmp.dir, "missing-module.so") } },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: "http://127.0.0.1:9", env: {}, timeoutMs: 1_000 },
    }) as unknown as CredentialSettings;

  it("keeps running, saying so in one line (the device may come), and ends on SIGTERM", async () => {
    const path = join(tmp.dir, "credentials-device");
    const lines: string[] = [];
    const run = runUpdate({ settings, path, section: "gw", once: false, log: (l) => lines.push(l) });
    try {
      await vi.waitFor(() => expect(lines).toContain(`updating profile [gw] in ${path}`), { timeout: 15_000, interval: 50 });
    } finally {
      process.emit("SIGTERM");
    }
    expect(await run.then(() => "ended", (error: unknown) => error)).toBe("ended");
    const module = join(tmp.dir, "missing-module.so");
    expect(lines.slice(0, 2)).toEqual([
      `gw: cannot load the PKCS#11 module ${module} (--pkcs11-lib): ${module}: cannot open shared object file: No such file or directory; will keep trying`,
      `updating profile [gw] in ${path}`,
    ]);
  });

  it("--fail-fast: ends with the device's error, never saying it is updating", async () => {
    const lines: string[] = [];
    const outcome = await runUpdate({ settings, path: join(tmp.dir, "credentials-device-ff"), section: "gw", once: false, failFast: true, log: (l) => lines.push(l) })
      .then(() => "kept running", (error: unknown) => error);
    expect(outcome).toMatchObject({ category: "device" });
    expect(lines.filter((l) => /updating profile|will keep trying/.test(l))).toEqual([]);
  });
});
