/**
 * PKCS#11 faults with real SoftHSM behind OpenSC's pkcs11-spy (issue #7, fault injection): a long-running
 * credential source whose token directory is moved away and back (the signer-level recovery is covered in
 * pkcs11-calls.test.ts), and the spy's log of every C_OpenSession / C_CloseSession / C_Login / C_Finalize
 * of a one-shot credential-process, a wrong-PIN run, an agent stopped with SIGTERM and a library user
 * calling close(): every session opened is closed, and the module is finalised.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../src/arn.js";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import type { CredentialSettings } from "../src/settings/credential-settings.js";
import type { RefreshEvent } from "../src/credentials/credential-cache.js";
import { createCredentialSource } from "../src/credentials/credential-source.js";
import type { Credentials } from "../src/rolesanywhere/credentials.js";
import { startLocalEndpoint } from "../src/local-endpoint/server.js";
import { fromRolesAnywhere } from "../src/sdk/index.js";
import { bundleCli, serveOnceAndStop } from "./agent-support.js";
import { expectUsable, until, untilNewCredentials } from "./helpers/credential-waits.js";
import { spyRecorder, type SessionAccount } from "./helpers/pkcs11-spy-log.js";
import { runCli, type CliRun } from "./helpers/run-cli.js";
import { createSoftHsmFixture, PKCS11_SPY_MODULE, type SoftHsmFixture, WRONG_PIN } from "./helpers/softhsm-fixture.js";
import { OPENSC_MODULE, YKCS11_MODULE } from "./helpers/piv/virtual-yubikey.js";

const ARNS = {
  trustAnchorArn: parseTrustAnchorArn("arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/faults"),
  profileArn: parseProfileArn("arn:aws:rolesanywhere:us-east-1:000000000000:profile/faults"),
  roleArn: parseRoleArn("arn:aws:iam::000000000000:role/faults"),
};
const KEY_URI = "pkcs11:token=rolesanywhere;object=ec-key";

let hsm: SoftHsmFixture;
let cli: { cli: string; cleanup: () => void };
let endpoint: { url: string; close(): Promise<void> | void };
let pinFile: string;
/** The spy log of this (vitest worker) process; child processes get their own. */
let inProcessLog: string;
let logs = 0;

beforeAll(async () => {
  hsm = createSoftHsmFixture("raa-faults-softhsm-");
  pinFile = hsm.pinFile();
  inProcessLog = join(hsm.dir, "spy-in-process.log");
  process.env["SOFTHSM2_CONF"] = hsm.conf;
  process.env["PKCS11SPY"] = hsm.module;
  process.env["PKCS11SPY_OUTPUT"] = inProcessLog;
  cli = await bundleCli();
  endpoint = await startLocalEndpoint({ trustAnchors: [hsm.file("ca.pem")], port: 0, region: "us-east-1" });
}, 60_000);

afterAll(async () => {
  console.log(`faults-softhsm session accounting:\n  ${summary.join("\n  ")}`);
  await endpoint?.close();
  cli?.cleanup();
  hsm?.cleanup();
});

function childEnv(spyLog: string): NodeJS.ProcessEnv {
  return { ...process.env, SOFTHSM2_CONF: hsm.conf, PKCS11SPY: hsm.module, PKCS11SPY_OUTPUT: spyLog };
}

const sessionArgs = () => [
  "--trust-anchor-arn", ARNS.trustAnchorArn,
  "--profile-arn", ARNS.profileArn,
  "--role-arn", ARNS.roleArn,
  "--endpoint", endpoint.url,
];

async function credentialProcess(pin: string): Promise<{ run: CliRun; account: SessionAccount }> {
  const log = join(hsm.dir, `spy-child-${++logs}.log`);
  const account = spyRecorder(log);
  const run = await runCli(
    cli.cli,
    ["credential-process", "--certificate", KEY_URI, "--pkcs11-lib", PKCS11_SPY_MODULE, "--pkcs11-pin-file", pin, ...sessionArgs()],
    childEnv(log),
  );
  return { run, account: account() };
}

const summary: string[] = [];
function note(scenario: string, a: SessionAccount): void {
  summary.push(
    `${scenario}: C_OpenSession ${a.opened}, closed by C_CloseSession/C_CloseAllSessions ${a.closedExplicitly}, ended by C_Finalize ${a.endedByFinalize}, left open ${a.leftOpen}, C_Login ${a.logins}, C_Logout ${a.logouts}, C_Finalize ${a.finalized}`,
  );
}

/** Every session opened was closed by us (not just by C_Finalize or the process exit), and the module finalised. */
function expectAllSessionsClosed(a: SessionAccount): void {
  expect(a.opened).toBeGreaterThan(0);
  expect(a.closedExplicitly).toBe(a.opened);
  expect(a.endedByFinalize).toBe(0);
  expect(a.leftOpen).toBe(0);
  expect(a.finalized).toBe(1);
  expect(a.calls.at(-1)?.name).toBe("C_Finalize");
}

describe("token sessions are closed and the module finalised (pkcs11-spy)", () => {
  it("one-shot credential-process", async () => {
    const { run, account } = await credentialProcess(pinFile);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).AccessKeyId).toMatch(/^ASIA/);
    expectAllSessionsClosed(account);
    expect(account.logins).toBe(1);
    note("one-shot credential-process", account);
  });

  it("a wrong PIN: exit 4, the PIN presented once, the session closed all the same", async () => {
    const { run, account } = await credentialProcess(hsm.pinFile(WRONG_PIN));
    expect(run.code).toBe(EXIT_CODES.auth);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).not.toContain(WRONG_PIN);
    expect(account.count("C_Login")).toBe(1);
    expect(account.count("C_Login", "CKR_PIN_INCORRECT")).toBe(1);
    expectAllSessionsClosed(account);
    note("credential-process with a wrong PIN", account);
  });

  it("an agent stopped with SIGTERM", async () => {
    const log = join(hsm.dir, `spy-child-${++logs}.log`);
    const account = spyRecorder(log);
    const runDir = join(hsm.dir, "agent-run");
    mkdirSync(runDir, { mode: 0o700 });
    const socket = join(runDir, "agent.sock");
    const config = join(hsm.dir, "agent-config.json");
    const profile = {
      certificate: KEY_URI,
      "pkcs11-lib": PKCS11_SPY_MODULE,
      "pkcs11-pin": `file:${pinFile}`,
      "trust-anchor-arn": ARNS.trustAnchorArn,
      "profile-arn": ARNS.profileArn,
      "role-arn": ARNS.roleArn,
      endpoint: endpoint.url,
    };
    writeFileSync(config, JSON.stringify({ profiles: { hsm: profile } }), { mode: 0o600 });
    const stopped = await serveOnceAndStop(cli.cli, config, socket, "hsm", childEnv(log));
    expect(stopped.accessKeyId).toMatch(/^ASIA/);
    expect(stopped.code, stopped.log.join("\n")).toBe(0);
    const a = account();
    expectAllSessionsClosed(a);
    expect(a.logins).toBe(1);
    note("agent stopped with SIGTERM", a);
  });

  it("a library user calling close() on fromRolesAnywhere", async () => {
    const account = spyRecorder(inProcessLog);
    const credentials = fromRolesAnywhere({
      certificate: KEY_URI,
      pkcs11: { library: PKCS11_SPY_MODULE, pin: { kind: "file", path: pinFile } },
      ...ARNS,
      endpoint: endpoint.url,
    });
    expect((await credentials()).accessKeyId).toMatch(/^ASIA/);
    expect(account().count("C_CloseSession")).toBe(0); // the session stays open between calls…
    await credentials.close();
    const a = account(); // …and close() ends it and finalises the module
    expectAllSessionsClosed(a);
    expect(a.logins).toBe(1);
    note("fromRolesAnywhere close()", a);
  });
});

describe("a long-running credential source whose token directory is moved away and restored", () => {
  it("serves the cached credentials while the token is gone, reports a clear error once they expire (never empty ones), recovers when it is back", async () => {
    let offsetMs = 0;
    const now = () => Date.now() + offsetMs;
    const events: RefreshEvent[] = [];
    const settings: CredentialSettings = {
      signer: { certificate: KEY_URI, pkcs11: { library: PKCS11_SPY_MODULE, pin: { kind: "file", path: pinFile } } },
      session: { ...ARNS, durationSeconds: 900 },
      endpoint: { endpoint: endpoint.url, connectTimeoutMs: 1_000, timeoutMs: 5_000, maxAttempts: 1 },
    };
    const account = spyRecorder(inProcessLog);
    const src = createCredentialSource({
      name: "hsm",
      settings,
      now,
      policy: { expiryMarginMs: 1_000, retryBaseMs: 100, retryMaxMs: 200, minRetryIntervalMs: 100 },
      onEvent: (_name, event) => events.push(event),
    });
    const usable = (c: Credentials) => expectUsable(c, now());
    const tokenDir = hsm.tokenDirectory("rolesanywhere");
    const away = join(hsm.dir, "token-away");
    try {
      const first = usable(await src.get());

      renameSync(tokenDir, away);
      offsetMs = 800_000; // the refresh is due (its window ends 85 % into the 899 s usable lifetime, at 764 s)
      expect(usable(await src.get()).accessKeyId).toBe(first.accessKeyId);
      const failed = await until("the failed refresh", () => events.find((e) => e.type === "refresh-failed"));
      if (failed.type !== "refresh-failed") throw new Error("unreachable");
      expect(failed.error.code).toBe("PKCS11_TOKEN_NOT_FOUND");
      expect(failed.error.category).toBe("device");
      expect(failed.error.toOneLine()).toMatch(/token "rolesanywhere"|no token matches/);
      // The PIN ("1234") is digits: not in the line once the tokens' serials (16 random hex digits, which hold
      // "1234" about once in 5,000 runs) are taken out.
      const line = failed.error.toOneLine().replaceAll(hsm.serial, "<serial>").replaceAll(hsm.serial2, "<serial2>");
      expect(line).not.toContain(hsm.pin);
      for (let i = 0; i < 5; i++) expect(usable(await src.get()).accessKeyId).toBe(first.accessKeyId);

      renameSync(away, tokenDir);
      offsetMs = 801_000; // past the backoff
      const recovered = await untilNewCredentials(src, first);
      usable(recovered);

      // Gone again until the credentials have expired: an error, never expired credentials.
      renameSync(tokenDir, away);
      offsetMs = 900_000;
      const error = await src.get().then(
        () => undefined,
        (e: unknown) => e as { code: string; category: string },
      );
      expect(error?.category).toBe("device");
      expect(["PKCS11_TOKEN_NOT_FOUND", "PKCS11_ERROR"]).toContain(error?.code);
      renameSync(away, tokenDir);
    } finally {
      try {
        renameSync(away, tokenDir);
      } catch {
        /* already back */
      }
      await src.close();
    }
    const a = account();
    note("long-running source, token moved away twice and restored", a);
    // One session before the first outage, one after the recovery; each closed by C_CloseSession (also the
    // one on the vanished token), the module re-initialised while the token was away and finalised last.
    expect(a.opened).toBe(2);
    expect(a.closedExplicitly).toBe(a.opened);
    expect(a.endedByFinalize).toBe(0);
    expect(a.leftOpen).toBe(0);
    expect(a.logins).toBe(2);
    expect(a.calls.at(-1)?.name).toBe("C_Finalize");
  });
});

describe("a module whose C_GetSlotList fails", () => {
  it("ykcs11 without pcscd (CKR_DEVICE_ERROR): one line at once, exit 5, not waited out as no token", async () => {
    const env = { ...process.env, PCSCLITE_CSOCK_NAME: join(hsm.dir, "no-pcscd.comm") };
    // Not waited out: a wait begins with its line ("waiting up to 60 s for the device: …"), which the exact stderr
    // below leaves no room for; not how long it took.
    const args = ["sign-string", "--certificate", "pkcs11:token=YubiKey", "--pkcs11-lib", YKCS11_MODULE];
    args.push("--wait-for-device", "60");
    const run = await runCli(cli.cli, args, env);
    expect(run.stderr).toBe(
      `roles-anywhere-agent: listing the slots of the PKCS#11 module ${YKCS11_MODULE} failed: CKR_DEVICE_ERROR (0x30)` +
        " (check the module's own configuration and logs; a smart-card module needs pcscd running)\n",
    );
    expect(run.code).toBe(EXIT_CODES.device);
  });
});

describe("SOFTHSM2_CONF or OPENSC_CONF naming a FIFO or a device", () => {
  // Before, the module's C_Initialize read it forever at full CPU (SIGKILL after 15 s: a daemon's handler never runs).
  it.each([["a FIFO", "fifo"], ["/dev/zero", "/dev/zero"]])("%s: one line at once, exit 3, also through the p11-kit proxy", async (_, name) => {
    let conf = name;
    if (name === "fifo") {
      conf = join(hsm.dir, "conf-fifo");
      execFileSync("mkfifo", [conf]);
    }
    const run = async (variable: string, args: string[]) => {
      const env = { ...process.env, [variable]: conf };
      try {
        await promisify(execFile)(process.execPath, [cli.cli, ...args], { env, encoding: "utf8", timeout: 15_000, killSignal: "SIGKILL" });
        return { code: 0, stderr: "" };
      } catch (error) {
        const e = error as { code?: number | string; stderr?: string };
        return { code: e.code, stderr: e.stderr ?? "" };
      }
    };
    const line = (variable: string, product: string, module: string, file: string) =>
      `roles-anywhere-agent: ${variable} (${conf}) is not a regular file (${product} hangs reading its config from a FIFO or device); ` +
      `${module} was not loaded (point ${variable} at its config file (${file}), or unset it)\n`;
    const refused = (variable: string, module: string) => {
      const [product, file] = variable === "SOFTHSM2_CONF" ? ["SoftHSM", "softhsm2.conf"] : ["OpenSC", "opensc.conf"];
      return { code: EXIT_CODES.input, stderr: line(variable, product, module, file) };
    };
    const signString = ["sign-string", "--certificate", KEY_URI, "--pkcs11-pin-file", pinFile];
    expect(await run("SOFTHSM2_CONF", [...signString, "--pkcs11-lib", hsm.module])).toEqual(refused("SOFTHSM2_CONF", hsm.module));
    expect(await run("OPENSC_CONF", [...signString, "--pkcs11-lib", OPENSC_MODULE])).toEqual(refused("OPENSC_CONF", OPENSC_MODULE));
    for (const variable of ["SOFTHSM2_CONF", "OPENSC_CONF"]) {
      const proxied = await run(variable, ["credential-process", "--certificate", KEY_URI, "--pkcs11-pin-file", pinFile, ...sessionArgs()]);
      expect(proxied).toEqual(refused(variable, "p11-kit-proxy.so"));
    }
  }, 80_000);
});
