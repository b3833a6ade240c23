/**
 * Issue 7, item 3: no secret in the process title of the long-running commands. `agent`, `serve` and
 * `update` run with a key password and a token PIN given every allowed way — a file, an environment
 * variable, and on the command line (`--pkcs8-password`, a PKCS#11 URI's `pin-value`, which the Go helper
 * accepted and we accept for compatibility) — and /proc/PID/cmdline, /proc/PID/comm and `ps -o args/comm`
 * are read while they serve. /proc/PID/environ holds an environment-variable secret by design: only the
 * same user (and root) can read it; that is checked too, so that the documentation stays true.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl, type IssuedCertificate } from "../test/helpers/pki.js";

const CLI = join(process.cwd(), "dist", "cli.js");
const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const PASSWORD = "Title-Pässword-5521-zq";
const PIN = "8316-pin-Qx";
const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/title",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/title",
  "role-arn": "arn:aws:iam::000000000000:role/title",
};
const ARN_FLAGS = Object.entries(ARNS).flatMap(([k, v]) => [`--${k}`, v]);

const { dir, cleanup } = makeTempDir("raa-process-title-");
let local: LocalEndpoint;
let leaf: IssuedCertificate;
let encrypted: string;
let softhsmConf: string;
const passwordFile = join(dir, "password");
const pinFile = join(dir, "pin");
const children: ChildProcess[] = [];

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Title CA" });
  leaf = issueLeaf(ca, join(dir, "leaf"), { name: "title-device", keyType: "p256" });
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
  encrypted = join(dir, "leaf", "key.enc.pem");
  openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-v2", "aes-256-cbc", "-passout", `file:${passwordFile}`, "-out", encrypted]);
  // A SoftHSM token with a distinctive PIN holding the same key.
  softhsmConf = join(dir, "softhsm2.conf");
  execFileSync("mkdir", ["-p", join(dir, "tokens")]);
  writeFileSync(softhsmConf, `directories.tokendir = ${join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { ...process.env, SOFTHSM2_CONF: softhsmConf };
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "title", "--so-pin", "12345678", "--pin", PIN], { env, stdio: "ignore" });
  execFileSync("softhsm2-util", ["--import", leaf.keyPath, "--token", "title", "--label", "title-key", "--id", "07", "--pin", PIN], { env, stdio: "ignore" });
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await local?.close();
  cleanup();
});

const tokenUri = (pinPart: string) => `pkcs11:token=title;object=title-key;type=private?module-path=${MODULE}${pinPart}`;

/** Starts a long-running command and resolves once `ready` shows on stderr. */
async function start(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; log: string[] }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: "", SOFTHSM2_CONF: softhsmConf, XDG_RUNTIME_DIR: "/nonexistent", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const log: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => log.push(l));
  for await (const line of createInterface({ input: child.stderr! })) {
    log.push(line);
    if (ready.test(line)) return { child, log };
  }
  throw new Error(`exited before ready: ${log.join("\n")}`);
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Everything another user could read about the process, besides its environment. */
interface Visible { cmdline: string; comm: string; psArgs: string; psComm: string }

function visible(pid: number): Visible {
  return {
    cmdline: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "),
    comm: readFileSync(`/proc/${pid}/comm`, "utf8"),
    psArgs: execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }),
    psComm: execFileSync("ps", ["-o", "comm=", "-p", String(pid)], { encoding: "utf8" }),
  };
}

function expectHidden(pid: number, log: string[], secrets: string[]): Visible {
  const seen = visible(pid);
  for (const [where, text] of Object.entries(seen)) {
    for (const s of secrets) expect(text, `${s} in ${where}`).not.toContain(s);
  }
  for (const s of secrets) expect(log.join("\n")).not.toContain(s);
  return seen;
}

describe("process title of the long-running commands", () => {
  it("serve: key password on argv (--pkcs8-password) is replaced by *** in cmdline and ps; the rest of the line stays", async () => {
    const { child, log } = await start(["serve", ...ARN_FLAGS, "--endpoint", local.url, "--port", "0", "--certificate", leaf.certPath, "--private-key", encrypted, "--pkcs8-password", PASSWORD], /Local server started on port/);
    try {
      const seen = expectHidden(child.pid!, log, [PASSWORD]);
      expect(seen.cmdline).toContain(`--private-key ${encrypted} --pkcs8-password ***`);
      expect(seen.psArgs).toContain("serve --trust-anchor-arn");
    } finally {
      await stop(child);
    }
  });

  it("serve: password as --pkcs8-password=VALUE", async () => {
    const { child, log } = await start(["serve", ...ARN_FLAGS, "--endpoint", local.url, "--port", "0", "--certificate", leaf.certPath, "--private-key", encrypted, `--pkcs8-password=${PASSWORD}`], /Local server started on port/);
    try {
      expect(expectHidden(child.pid!, log, [PASSWORD]).cmdline).toContain("--pkcs8-password=***");
    } finally {
      await stop(child);
    }
  });

  it("serve: token PIN in the URI (pin-value) is replaced by ***", async () => {
    const { child, log } = await start(["serve", ...ARN_FLAGS, "--endpoint", local.url, "--port", "0", "--certificate", leaf.certPath, "--private-key", tokenUri(`&pin-value=${PIN}`)], /Local server started on port/);
    try {
      expect(expectHidden(child.pid!, log, [PIN]).cmdline).toContain(`?module-path=${MODULE}&pin-value=***`);
    } finally {
      await stop(child);
    }
  });

  it("serve: password from an environment variable and PIN from a file leave the command line as it was (nothing to hide)", async () => {
    const { child, log } = await start(
      ["serve", ...ARN_FLAGS, "--endpoint", local.url, "--port", "0", "--certificate", leaf.certPath, "--private-key", encrypted, "--pkcs8-password-env", "RAA_TITLE_PW"],
      /Local server started on port/,
      { RAA_TITLE_PW: PASSWORD },
    );
    try {
      const seen = expectHidden(child.pid!, log, [PASSWORD]);
      expect(seen.cmdline).toContain("--pkcs8-password-env RAA_TITLE_PW");
      expect(seen.comm.trim()).toBe("node"); // untouched: the title is only rewritten when it must be
      // By design: the environment is readable by the same user and root only (documented in SECURITY.md).
      expect(readFileSync(`/proc/${child.pid}/environ`, "utf8")).toContain(`RAA_TITLE_PW=${PASSWORD}`);
    } finally {
      await stop(child);
    }
  });

  it("agent: password and PIN from the config file's file:/env: sources", async () => {
    const config = join(dir, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        profiles: {
          file: { certificate: leaf.certPath, "private-key": encrypted, "pkcs8-password": `file:${passwordFile}`, ...ARNS, endpoint: local.url },
          env: { certificate: leaf.certPath, "private-key": encrypted, "pkcs8-password": "env:RAA_TITLE_PW", ...ARNS, endpoint: local.url },
          token: { certificate: leaf.certPath, "private-key": tokenUri(""), "pkcs11-pin": `file:${pinFile}`, ...ARNS, endpoint: local.url },
        },
      }),
      { mode: 0o600 },
    );
    const { child, log } = await start(["agent", "--config", config, "--socket", join(dir, "run", "agent.sock")], /agent listening on/, { RAA_TITLE_PW: PASSWORD });
    try {
      expectHidden(child.pid!, log, [PASSWORD, PIN]);
    } finally {
      await stop(child);
    }
  });

  it("update (long-running): password on argv, while it refreshes", async () => {
    const file = join(dir, "credentials");
    const { child, log } = await start(
      ["update", ...ARN_FLAGS, "--endpoint", local.url, "--certificate", leaf.certPath, "--private-key", encrypted, "--pkcs8-password", PASSWORD, "--credentials-file", file],
      /^wrote profile \[default\]/,
    );
    try {
      expectHidden(child.pid!, log, [PASSWORD]);
      const issued = local.issued.at(-1)!.credentials;
      expect(readFileSync(file, "utf8")).toContain(issued.secretAccessKey); // the file is the one place it belongs
      expect(visible(child.pid!).cmdline).not.toContain(issued.secretAccessKey);
    } finally {
      await stop(child);
    }
  });
});
