/**
 * Issue 13, item 2: files that steer the process, attacked by a real second account (`raa13a-…`, created with
 * useradd and removed afterwards). The victim is root.
 *
 * - A config file the attacker owns, or one in a directory the attacker can write: its `pkcs11-lib` would be
 *   dlopen()ed into the victim's process and its `endpoint` would receive the victim's signed request. The
 *   "module" here is a real shared library whose constructor leaves a marker file: the marker proves dlopen().
 * - A PKCS#11 module the attacker can change, named by the victim's own (safe) config.
 * - `serve --ecs-env-dir` in a directory of the attacker's, in a world-writable one, and in a sticky one (where
 *   the attacker may plant a symbolic link under the name serve writes).
 * - PIN, password and key files other users can read: a warning line, never their content.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_CODES } from "../src/cli/exit-codes.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, openssl, type IssuedCertificate } from "../test/helpers/pki.js";
import { canCreateUsers, createLocalUser, type LocalUser } from "./helpers/local-user.js";
import { DIST_CLI, runCli, type CliRun } from "./helpers/run-cli.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/files",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/files",
  "role-arn": "arn:aws:iam::000000000000:role/files",
};
const ARN_FLAGS = Object.entries(ARNS).flatMap(([k, v]) => [`--${k}`, v]);

const { dir, cleanup } = makeTempDir("raa-local-trust-files-");
let attacker: LocalUser;
let local: LocalEndpoint;
let leaf: IssuedCertificate;
let hsm: SoftHsmFixture;
/** The attacker's CreateSession "endpoint": it only counts what reaches it. */
let trap: Server;
let trapUrl: string;
const trapRequests: string[] = [];
/** Root's private directory (the victim's files) and the attacker's own. */
let victimDir: string;
let attackerDir: string;
let markers = 0;

beforeAll(async () => {
  chmodSync(dir, 0o755);
  attacker = createLocalUser("raa13a", dir);
  victimDir = join(dir, "victim");
  mkdirSync(victimDir, { mode: 0o700 });
  attackerDir = attacker.mkdir(join(dir, "attacker"), 0o755);
  const ca = createCa(join(victimDir, "ca"), { name: "Files Trust CA" });
  leaf = issueLeaf(ca, join(victimDir, "leaf"), { name: "files-device" });
  hsm = createSoftHsmFixture("raa-local-trust-files-hsm-");
  local = await startLocalEndpoint({ trustAnchors: [ca.certPath, hsm.file("ca.pem")], port: 0, region: "us-east-1" });
  trap = createServer((req, res) => {
    trapRequests.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => trap.listen(0, "127.0.0.1", r));
  trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  attacker?.remove();
  await local?.close();
  await new Promise((r) => trap?.close(r));
  hsm?.cleanup();
  cleanup();
});

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env["PATH"], HOME: victimDir, NODE_EXTRA_CA_CERTS: "", CI: "true", ...extra });

/**
 * A shared library that leaves `marker` when it is loaded (its constructor runs inside dlopen()), built
 * where `owner` decides. Returns the module's path and the marker's path.
 */
function markerModule(where: string, owner?: LocalUser): { module: string; marker: string } {
  const n = ++markers;
  const marker = join(dir, `dlopened-${n}`);
  const source = join(where, `marker-${n}.c`);
  const module = join(where, `marker-${n}.so`);
  writeFileSync(
    source,
    `#include <fcntl.h>\n#include <unistd.h>\n__attribute__((constructor)) static void planted(void) { int fd = open("${marker}", O_WRONLY | O_CREAT, 0644); if (fd >= 0) { write(fd, "dlopen\\n", 7); close(fd); } }\n`,
  );
  execFileSync("cc", ["-shared", "-fPIC", "-o", module, source]);
  if (owner) {
    chownSync(module, owner.uid, owner.gid);
    chownSync(source, owner.uid, owner.gid);
  }
  return { module, marker };
}

/** A config whose profile `evil` loads `module` and profile `leak` sends its request to the attacker's endpoint. */
function hostileConfig(module: string): string {
  return JSON.stringify({
    profiles: {
      evil: { certificate: `pkcs11:token=${hsm.token};object=ec-key`, "pkcs11-lib": module, "pkcs11-pin": `file:${hsm.pinFile()}`, ...ARNS, endpoint: local.url },
      leak: { certificate: leaf.certPath, "private-key": leaf.keyPath, ...ARNS, endpoint: trapUrl },
    },
  });
}

function expectRefusal(r: CliRun, pattern: RegExp): void {
  expect({ code: r.code, stdout: r.stdout }).toEqual({ code: EXIT_CODES.input, stdout: "" });
  expect(r.stderr.split("\n")).toHaveLength(2);
  expect(r.stderr).toMatch(/^roles-anywhere-agent: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

/** Runs both profiles of `config`; neither may load the module nor reach the attacker's endpoint. */
async function expectConfigRefused(config: string, marker: string, pattern: RegExp): Promise<void> {
  const before = trapRequests.length;
  for (const profile of ["evil", "leak"]) {
    const r = await runCli(DIST_CLI, ["credential-process", "--profile", profile, "--config", config], env({ SOFTHSM2_CONF: hsm.conf }));
    expect(existsSync(marker), `${profile}: the module was dlopen()ed`).toBe(false);
    expectRefusal(r, pattern);
  }
  expect(trapRequests.length - before, "requests that reached the attacker's endpoint").toBe(0);
}

describe.runIf(canCreateUsers())("config files and the modules they name (real second account)", () => {
  it("a config file owned by another user (0644) is refused before its module is loaded or its endpoint reached", async () => {
    const { module, marker } = markerModule(attackerDir, attacker);
    const shared = join(dir, "etc-shared");
    mkdirSync(shared, { mode: 0o755 });
    const config = join(shared, "config.json");
    writeFileSync(config, "{}", { mode: 0o644 });
    chownSync(config, attacker.uid, attacker.gid); // handed over to an account that is now hostile
    writeFileSync(join(attackerDir, "config.json"), hostileConfig(module));
    chownSync(join(attackerDir, "config.json"), attacker.uid, attacker.gid);
    expect((await attacker.run("/bin/cp", [join(attackerDir, "config.json"), config])).code).toBe(0);
    expect(lstatSync(config).uid).toBe(attacker.uid);
    await expectConfigRefused(config, marker, new RegExp(`config ${config} was not used: config ${config} belongs to uid ${attacker.uid}, not to this user \\(0\\) or root \\(whoever can change it`));
  });

  it.each([
    ["group-writable (0775, the attacker's group)", 0o775],
    ["world-writable (0777)", 0o777],
  ])("a config file in a %s directory is refused", async (_, mode) => {
    const { module, marker } = markerModule(victimDir);
    const open = join(dir, `open-${mode.toString(8)}`);
    mkdirSync(open);
    chownSync(open, 0, attacker.gid);
    chmodSync(open, mode);
    const config = join(open, "config.json");
    writeFileSync(config, hostileConfig(module), { mode: 0o644 });
    // The attacker can put anything there (here: a file next to it; it could as well replace the config).
    expect((await attacker.run("/usr/bin/touch", [join(open, "attacker-was-here")])).code).toBe(0);
    await expectConfigRefused(config, marker, new RegExp(`config ${config} was not used: directory ${open} can be written by other users \\(mode ${mode.toString(8)}\\)`));
  });

  it("a PKCS#11 module named by the victim's own config is not loaded when the attacker owns it or can write its directory", async () => {
    const theirs = markerModule(attackerDir, attacker);
    const openDir = join(dir, "open-lib");
    mkdirSync(openDir);
    chmodSync(openDir, 0o777);
    const inOpenDir = markerModule(openDir);
    for (const [{ module, marker }, why] of [
      [theirs, `belongs to uid ${attacker.uid}, not to this user \\(0\\) or root`],
      [inOpenDir, `can be written by other users \\(mode 777\\)`],
    ] as const) {
      const config = join(victimDir, `module-${marker.split("-").pop()}.json`);
      writeFileSync(config, hostileConfig(module), { mode: 0o600 });
      const r = await runCli(DIST_CLI, ["credential-process", "--profile", "evil", "--config", config], env({ SOFTHSM2_CONF: hsm.conf }));
      expect(existsSync(marker), "the module was dlopen()ed").toBe(false);
      expectRefusal(r, new RegExp(`config ${config}: profile "evil": field "pkcs11-lib": .*${why}; it was not loaded`));
    }
  });

  it("serve does not start with a module missing where the attacker could put it (it would load it once there)", async () => {
    // Before: serve started, retried the missing module, and dlopen()ed the one the attacker then put in the sticky
    // directory (its marker appeared within seconds).
    const sticky = join(dir, "sticky-lib");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const { module: built, marker } = markerModule(attackerDir, attacker);
    const module = join(sticky, "pkcs11", "module.so");
    const config = join(victimDir, "missing-module.json");
    writeFileSync(config, hostileConfig(module), { mode: 0o600 });
    const child = spawn(process.execPath, [DIST_CLI, "serve", "--config", config, "--profile", "evil", "--port", "0"], { env: env({ SOFTHSM2_CONF: hsm.conf }), stdio: ["ignore", "ignore", "pipe"] });
    const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
    let stderr = "";
    const started = (async (): Promise<number | "serving"> => {
      for await (const line of createInterface({ input: child.stderr! })) {
        stderr += `${line}\n`;
        if (/^Local server started/.test(line)) return "serving";
      }
      return exited;
    })();
    const outcome = await Promise.race([exited, started]);
    if (outcome === "serving") {
      expect((await attacker.run("/bin/mkdir", [join(sticky, "pkcs11")])).code).toBe(0);
      expect((await attacker.run("/bin/cp", [built, module])).code).toBe(0);
      for (let i = 0; i < 300 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
      child.kill("SIGTERM");
      await exited;
    }
    expect({ outcome, dlopened: existsSync(marker) }).toEqual({ outcome: EXIT_CODES.input, dlopened: false });
    expect(stderr).toContain(`field "pkcs11-lib": the PKCS#11 module ${module} does not exist, and directory ${sticky}, where it would be made, can be written by other users (mode 1777); it was not loaded`);
  }, 60_000);

  it("a safe config and module are used as before (control: the SoftHSM key signs)", async () => {
    const config = join(victimDir, "good.json");
    writeFileSync(config, hostileConfig(hsm.module), { mode: 0o600 });
    const r = await runCli(DIST_CLI, ["credential-process", "--profile", "evil", "--config", config], env({ SOFTHSM2_CONF: hsm.conf }));
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
  });
});

describe.runIf(canCreateUsers())("serve --ecs-env-dir (real second account)", () => {
  /** `serve --ecs` writing into `envDir`: resolves with its exit code, or "serving" once it has written (then stopped). */
  async function serveInto(envDir: string): Promise<{ outcome: number | "serving"; stderr: string }> {
    const child = spawn(process.execPath, [DIST_CLI, "serve", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARN_FLAGS, "--endpoint", local.url, "--port", "0", "--ecs", "--ecs-consumer", "app=files", "--ecs-env-dir", envDir], {
      env: env(),
      stdio: ["ignore", "ignore", "pipe"],
    });
    const lines: string[] = [];
    const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? -1)));
    const wrote = (async (): Promise<number | "serving"> => {
      for await (const line of createInterface({ input: child.stderr! })) {
        lines.push(line);
        if (/^wrote .*app\.env$/.test(line)) return "serving";
      }
      return exited;
    })();
    const outcome = await Promise.race([exited, wrote]);
    child.kill("SIGTERM");
    await exited;
    return { outcome, stderr: lines.join("\n") };
  }

  it("refuses a directory owned by another user, and one that others can write without the sticky bit; writes nothing there", async () => {
    const theirs = attacker.mkdir(join(dir, "ecs-theirs"), 0o755);
    const open = join(dir, "ecs-open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    for (const [envDir, why] of [
      [theirs, `directory ${theirs} belongs to uid ${attacker.uid}, not to this user \\(0\\) or root`],
      [open, `directory ${open} can be written by other users \\(mode 777\\)`],
    ] as const) {
      const { outcome, stderr } = await serveInto(envDir);
      expect(outcome).toBe(EXIT_CODES.input);
      expect(stderr).toMatch(new RegExp(`^roles-anywhere-agent: --ecs-env-dir ${envDir} was not used: ${why} \\(another user could read the tokens`, "m"));
      expect(readdirSync(envDir)).toEqual([]);
    }
  });

  it("never follows a symbolic link the attacker planted in a sticky directory (/tmp-like): the link's target stays intact", async () => {
    const sticky = join(dir, "ecs-sticky");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const precious = join(victimDir, "precious");
    writeFileSync(precious, "the victim's own file\n", { mode: 0o600 });
    expect((await attacker.run("/bin/ln", ["-s", precious, join(sticky, "app.env")])).code).toBe(0);
    const { outcome, stderr } = await serveInto(sticky);
    expect(outcome).toBe(EXIT_CODES.input);
    expect(stderr).toMatch(new RegExp(`--ecs-env-dir ${sticky} was not used: directory ${sticky} can be written by other users \\(mode 1777\\)`));
    expect(readFileSync(precious, "utf8")).toBe("the victim's own file\n");
    expect(lstatSync(join(sticky, "app.env")).isSymbolicLink()).toBe(true);
  });

  it("refuses a sticky directory others can write even where nothing was planted yet: the names are predictable (was: written)", async () => {
    // Before: written there. The attacker needs no race with serve: an app.env of theirs planted before it (after a
    // reboot cleared /tmp) is what the consumers read (their URL and token) while serve refuses, and a .serve.lock
    // naming a live process keeps every serve out.
    const sticky = join(dir, "ecs-sticky-clean");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const { outcome, stderr } = await serveInto(sticky);
    expect(outcome, stderr).toBe(EXIT_CODES.input);
    expect(stderr).toMatch(new RegExp(`^roles-anywhere-agent: --ecs-env-dir ${sticky} was not used: directory ${sticky} can be written by other users \\(mode 1777\\) \\(.*RUNTIME_DIRECTORY`, "m"));
    expect(readdirSync(sticky)).toEqual([]);
  });

  it("writes 0600 files into a private directory (control)", async () => {
    const envDir = join(victimDir, "ecs-private");
    const { outcome, stderr } = await serveInto(envDir);
    expect(outcome, stderr).toBe("serving");
    for (const name of ["app.env", "app.token"]) {
      const info = lstatSync(join(envDir, name));
      expect({ file: info.isFile(), mode: info.mode & 0o777, uid: info.uid }).toEqual({ file: true, mode: 0o600, uid: 0 });
    }
    expect(readFileSync(join(envDir, "app.env"), "utf8")).toMatch(/^AWS_CONTAINER_CREDENTIALS_FULL_URI=http:\/\/127\.0\.0\.1:\d+\/.*\nAWS_CONTAINER_AUTHORIZATION_TOKEN=\S+\n$/);
  });
});

describe.runIf(canCreateUsers())("CA bundles (--ca-bundle, AWS_CA_BUNDLE, the config's ca-bundle) the attacker can change", () => {
  // The attacker's TLS server for "rolesanywhere.test" (reached at 127.0.0.1): a certificate of the attacker's own CA,
  // which only a CA bundle of the attacker's choice makes trusted. It counts the signed requests that reach it.
  const signedRequests: string[] = [];
  let server: HttpsServer;
  let endpoint: string;
  let attackerCa: string;

  beforeAll(async () => {
    const ca = createCa(join(dir, "attacker-ca"), { name: "Attacker CA" });
    const extensions = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1"];
    const cert = issueLeaf(ca, join(dir, "attacker-ca"), { name: "fake-endpoint", extensions });
    attackerCa = readFileSync(ca.certPath, "utf8");
    server = createHttpsServer({ key: readFileSync(cert.keyPath), cert: readFileSync(cert.certPath) }, (req, res) => {
      if (req.headers.authorization) signedRequests.push(`${req.method} ${req.url}`);
      res.writeHead(500).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server?.close(r)));

  /** A bundle holding the attacker's CA, owned by `owner` (else root) in `where`. */
  function bundle(where: string, name: string, owner?: LocalUser): string {
    const path = join(where, name);
    writeFileSync(path, attackerCa, { mode: 0o644 });
    if (owner) chownSync(path, owner.uid, owner.gid);
    return path;
  }

  const update = (extra: string[], extraEnv: NodeJS.ProcessEnv = {}, config: string[] = []) =>
    runCli(DIST_CLI, ["update", "--once", ...config, "--credentials-file", join(victimDir, "credentials"), "--fail-fast", ...extra], env(extraEnv));
  const direct = () => ["--certificate", leaf.certPath, "--private-key", leaf.keyPath, ...ARN_FLAGS, "--endpoint", endpoint];

  it("root's update is refused, and its signed request never sent, with a bundle the attacker owns or can replace (was: sent)", async () => {
    const openDir = join(dir, "open-bundles");
    mkdirSync(openDir);
    chmodSync(openDir, 0o777);
    const theirs = bundle(attackerDir, "theirs.pem", attacker);
    const inOpenDir = bundle(openDir, "roots.pem");
    const config = join(victimDir, "ca-config.json");
    writeFileSync(config, JSON.stringify({ profiles: { default: { certificate: leaf.certPath, "private-key": leaf.keyPath, ...ARNS, endpoint, "ca-bundle": theirs } } }), { mode: 0o600 });
    const runs: [string, Promise<CliRun>][] = [
      ["--ca-bundle (the attacker's file)", update([...direct(), "--ca-bundle", theirs])],
      ["AWS_CA_BUNDLE (root's file in a 0777 directory)", update(direct(), { AWS_CA_BUNDLE: inOpenDir })],
      ["the config's ca-bundle (the attacker's file)", update([], {}, ["--config", config, "--config-profile", "default"])],
    ];
    for (const [what, run] of runs) {
      const r = await run;
      expect({ what, code: r.code }).toEqual({ what, code: EXIT_CODES.input });
      expect(r.stderr).toMatch(/^roles-anywhere-agent: CA bundle .* was not used: .*(belongs to uid \d+, not to this user \(0\) or root|can be written by other users \(mode 777\))[^\n]*\n$/);
    }
    expect(signedRequests, "signed requests that reached the attacker's server").toEqual([]);
  });

  it("root's own bundle in its own directory is used (control: the request reaches the server it names)", async () => {
    const r = await update([...direct(), "--ca-bundle", bundle(victimDir, "mine.pem")]);
    expect(r.code, r.stderr).not.toBe(EXIT_CODES.input);
    expect(signedRequests.length).toBeGreaterThan(0);
    signedRequests.length = 0;
  });
});

describe("secret files other users can read: one warning line each, never the content", () => {
  it("a PKCS#8 key file and its password file (0644): signs, and names both files and their mode", async () => {
    const keyDir = join(dir, "loose-keys");
    mkdirSync(keyDir, { mode: 0o755 });
    const password = "loose-password-4711";
    const key = join(keyDir, "key.p8");
    openssl(["pkcs8", "-topk8", "-in", leaf.keyPath, "-out", key, "-v2", "aes-256-cbc", "-passout", `pass:${password}`]);
    chmodSync(key, 0o644);
    const passwordFile = join(keyDir, "password");
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o644 });
    chmodSync(passwordFile, 0o644);
    const r = await runCli(DIST_CLI, ["credential-process", "--certificate", leaf.certPath, "--private-key", key, "--pkcs8-password-file", passwordFile, ...ARN_FLAGS, "--endpoint", local.url, "--no-agent"], env());
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        `roles-anywhere-agent: warning: private key file ${key} can be read or changed by other users (mode 644): run chmod 600 ${key}`,
        `roles-anywhere-agent: warning: the PKCS#8 private key password for ${key}: file ${passwordFile} can be read or changed by other users (mode 644): run chmod 600 ${passwordFile}`,
      ]),
    );
    expect(r.stderr).not.toContain(password);
    expect(r.stderr).not.toContain("PRIVATE KEY");
  });

  it("a PKCS#11 PIN file readable by the group (0640): the token signs, one warning", async () => {
    const pinFile = join(dir, "loose-pin");
    writeFileSync(pinFile, `${hsm.pin}\n`);
    chmodSync(pinFile, 0o640);
    const r = await runCli(
      DIST_CLI,
      ["credential-process", "--certificate", `pkcs11:token=${hsm.token};object=ec-key`, "--pkcs11-lib", hsm.module, "--pkcs11-pin-file", pinFile, ...ARN_FLAGS, "--endpoint", local.url, "--no-agent"],
      env({ SOFTHSM2_CONF: hsm.conf }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^roles-anywhere-agent: warning: .*file ${pinFile} can be read or changed by other users \\(mode 640\\): run chmod 600 ${pinFile}\\n$`));
    expect(r.stderr).not.toContain(`${hsm.pin}\n`);
  });

  // Before round 30: no warning for the PIN in the config, while the same PIN in a PIN file of that mode warned.
  it("a config whose URI carries a pin-value, readable by others (0644) or the group (0640): signs, one warning", async () => {
    for (const mode of [0o644, 0o640]) {
      const config = join(dir, `pin-value-${mode.toString(8)}.json`);
      const certificate = `pkcs11:token=${hsm.token};object=ec-key?pin-value=${encodeURIComponent(hsm.pin)}`;
      writeFileSync(config, JSON.stringify({ profiles: { gw: { certificate, "pkcs11-lib": hsm.module, ...ARNS, endpoint: local.url } } }));
      chmodSync(config, mode);
      const r = await runCli(DIST_CLI, ["credential-process", "--config", config, "--profile", "gw", "--no-agent"], env({ SOFTHSM2_CONF: hsm.conf }));
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).AccessKeyId).toMatch(/^ASIA/);
      const octal = mode.toString(8);
      expect(r.stderr).toBe(`roles-anywhere-agent: warning: pin-value in config file ${config} can be read or changed by other users (mode ${octal}): run chmod 600 ${config}\n`);
    }
  });

  // Before round 31: the error line came first and the warning after it (Node prints a warning on a later tick), so
  // the last line, the one users read first, was not the error.
  it("credential-process and sign-string failing after a warning: the warning line first, the error line last", async () => {
    // A pin-value in a config others can read, the token absent.
    const config = join(dir, "pin-value-no-token.json");
    const certificate = `pkcs11:token=absent-token;object=ec-key?pin-value=${encodeURIComponent(hsm.pin)}`;
    writeFileSync(config, JSON.stringify({ profiles: { gw: { certificate, "pkcs11-lib": hsm.module, ...ARNS, endpoint: local.url } } }));
    chmodSync(config, 0o644);
    const r = await runCli(DIST_CLI, ["credential-process", "--config", config, "--profile", "gw", "--no-agent"], env({ SOFTHSM2_CONF: hsm.conf }));
    expect(r.code).toBe(EXIT_CODES.device);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`roles-anywhere-agent: warning: pin-value in config file ${config} can be read or changed by other users (mode 644): run chmod 600 ${config}`);
    expect(lines[1]).toMatch(/^roles-anywhere-agent: .*absent-token/);

    // A key file others can read, and a certificate of another key (credential-process: the key-file bundle).
    const key = join(dir, "loose-then-mismatch.key");
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o644 });
    chmodSync(key, 0o644);
    for (const command of [["sign-string"], ["credential-process", ...ARN_FLAGS, "--endpoint", local.url, "--no-agent"]]) {
      const s = await runCli(DIST_CLI, [...command, "--certificate", hsm.file("ca.pem"), "--private-key", key], env());
      expect(s.code).toBe(EXIT_CODES.input);
      const signLines = s.stderr.trimEnd().split("\n");
      expect(signLines).toHaveLength(2);
      expect(signLines[0]).toMatch(`roles-anywhere-agent: warning: private key file ${key} can be read or changed by other users`);
      expect(signLines[1]).toMatch(`roles-anywhere-agent: private key ${key} (EC P-256, public key sha256:`); // does not match …
    }
  });

  // Before round 30: none, as if every PKCS#12 file were encrypted.
  it("sign-string with a PKCS#12 file of the empty password others can read (0644): signs, one warning", async () => {
    const p12 = join(dir, "loose.p12");
    openssl(["pkcs12", "-export", "-inkey", leaf.keyPath, "-in", leaf.certPath, "-passout", "pass:", "-out", p12]);
    chmodSync(p12, 0o644);
    const r = await runCli(DIST_CLI, ["sign-string", "--certificate", p12], env());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`roles-anywhere-agent: warning: PKCS#12 file ${p12} can be read or changed by other users (mode 644): run chmod 600 ${p12}\n`);
  });

  // Round 30: the system services run as user roles-anywhere and read root's key and PIN files through the group
  // (0640 root:roles-anywhere, as src/systemd/unit-files.ts and docs/long-running.md say). Every start warned, and
  // following its "chmod 600" locked the service out. Here the second user plays the service.
  it("a file key of root's that a service user reads through its group (0640): no warning; 0644 or its own 0640 file: one", async () => {
    const serviceDir = join(dir, "service-files");
    mkdirSync(serviceDir, { mode: 0o755 });
    const key = join(serviceDir, "device.key");
    const certificate = join(serviceDir, "device.pem");
    writeFileSync(key, readFileSync(leaf.keyPath));
    writeFileSync(certificate, readFileSync(leaf.certPath));
    chmodSync(certificate, 0o644);
    const asService = ["setpriv", "--reuid", String(attacker.uid), "--regid", String(attacker.gid), "--clear-groups"];
    const signAsService = () => runCli(DIST_CLI, ["sign-string", "--certificate", certificate, "--private-key", key], { PATH: process.env["PATH"], HOME: attacker.home }, 90_000, asService);
    const warning = (mode: string, fix: string) => `roles-anywhere-agent: warning: private key file ${key} can be read or changed by other users (mode ${mode}): ${fix}\n`;

    chownSync(key, 0, attacker.gid);
    chmodSync(key, 0o640);
    let r = await signAsService();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(""); // before: the warning, with chmod 600

    chmodSync(key, 0o644);
    r = await signAsService();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(warning("644", `run chmod 640 ${key}`));

    chownSync(key, attacker.uid, attacker.gid);
    chmodSync(key, 0o640);
    r = await signAsService();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(warning("640", `run chmod 600 ${key}`));

    chownSync(key, 0, 0); // root's group, which the service user is not in: it cannot read the key at all
    r = await signAsService();
    expect(r.code).toBe(EXIT_CODES.input);
    expect(r.stderr).toBe(`roles-anywhere-agent: private key file ${key} cannot be read: permission denied (check the file's owner and mode)\n`);
  });

  // Round 31: the group rule read "in the file's group" as "the service's own group"; root:users 0640 (or a group a
  // second account is in) went unwarned, and the chgrp fix it named for a shared primary group was that setup.
  it("root's 0640 key of a group another account is in too (a member, or its primary group): one warning, chown as the fix", async () => {
    const other = createLocalUser("raa31o", dir);
    try {
      const key = join(dir, "shared-group.key");
      const certificate = join(dir, "shared-group.pem");
      writeFileSync(key, readFileSync(leaf.keyPath));
      writeFileSync(certificate, readFileSync(leaf.certPath), { mode: 0o644 });
      chownSync(key, 0, attacker.gid);
      chmodSync(key, 0o640);
      const asService = ["setpriv", "--reuid", String(attacker.uid), "--regid", String(attacker.gid), "--clear-groups"];
      const sign = () => runCli(DIST_CLI, ["sign-string", "--certificate", certificate, "--private-key", key], { PATH: process.env["PATH"], HOME: attacker.home }, 90_000, asService);
      const warning = `roles-anywhere-agent: warning: private key file ${key} can be read or changed by other users (mode 640): run chown ${attacker.uid} ${key} && chmod 600 ${key}\n`;
      execFileSync("usermod", ["-a", "-G", attacker.name, other.name]);
      expect((await other.run("id", ["-G", other.name])).stdout).toContain(String(attacker.gid));
      let r = await sign();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe(warning); // before: nothing
      execFileSync("gpasswd", ["-d", other.name, attacker.name], { stdio: "ignore" });
      execFileSync("usermod", ["-g", String(attacker.gid), other.name]);
      r = await sign();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe(warning);
      execFileSync("usermod", ["-g", String(other.gid), other.name]);
      execFileSync("gpasswd", ["-a", "root", attacker.name], { stdio: "ignore" }); // root reads it anyway: not another reader
      r = await sign();
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
    } finally {
      // Each step whatever came before: userdel removes a group only while it is its user's primary one.
      for (const args of [["gpasswd", "-d", "root", attacker.name], ["usermod", "-g", String(other.gid), other.name]]) {
        spawnSync(args[0]!, args.slice(1), { stdio: "ignore" });
      }
      other.remove();
    }
  });

  // A command that does no I/O after reading the file printed nothing: the warning, emitted on the next tick,
  // came after process.exit (what a new operator saw running keygen and csr with docs/provisioning.md's token-pin).
  it("sign-string with a PIN file others can read (0644): signs, and the warning line too", async () => {
    const pinFile = join(dir, "loose-pin-644");
    writeFileSync(pinFile, `${hsm.pin}\n`);
    chmodSync(pinFile, 0o644);
    const args = ["sign-string", "--certificate", `pkcs11:token=${hsm.token};object=ec-key`];
    const r = await runCli(DIST_CLI, [...args, "--pkcs11-lib", hsm.module, "--pkcs11-pin-file", pinFile], env({ SOFTHSM2_CONF: hsm.conf }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`roles-anywhere-agent: warning: the token's user PIN: file ${pinFile} can be read or changed by other users (mode 644): run chmod 600 ${pinFile}\n`);
  });

  // Round 31: a secret file is only as safe as its directory. A second account that can write root's directory (0777,
  // or 0770 of its group) swaps the PIN file for a link to another of root's files (a wrong PIN: a strike on the token
  // at each start; three lock it) or the key file for another key; nothing was said, as each file itself was root's 0600.
  it("a PIN file and a key file in root's directory a second real account can write: it swaps them; one warning each, naming the directory", async () => {
    const pinDir = join(dir, "open-pin-dir");
    mkdirSync(pinDir);
    chmodSync(pinDir, 0o777);
    const pinFile = join(pinDir, "pin");
    writeFileSync(pinFile, `${hsm.pin}\n`, { mode: 0o600 });
    const stale = join(victimDir, "stale-pin"); // root's own 0600 file, one the attacker cannot even read
    writeFileSync(stale, "000000\n", { mode: 0o600 });
    const pinWarning = `roles-anywhere-agent: warning: the token's user PIN: file ${pinFile} is in a directory other users can change (${pinDir}, mode 777): run chmod go-w ${pinDir}\n`;
    const args = ["sign-string", "--certificate", `pkcs11:token=${hsm.token};object=ec-key`, "--pkcs11-lib", hsm.module, "--pkcs11-pin-file", pinFile];
    let r = await runCli(DIST_CLI, args, env({ SOFTHSM2_CONF: hsm.conf }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(pinWarning); // before: nothing
    expect((await attacker.run("ln", ["-sfn", stale, pinFile])).code).toBe(0);
    expect(lstatSync(pinFile).uid).toBe(attacker.uid);
    r = await runCli(DIST_CLI, args, env({ SOFTHSM2_CONF: hsm.conf }));
    expect(r.code).toBe(EXIT_CODES.auth); // the attacker's choice of PIN was presented
    expect(r.stderr).toContain(pinWarning);
    expect(r.stderr).not.toContain("000000");

    const keyDir = join(dir, "group-key-dir");
    mkdirSync(keyDir);
    chownSync(keyDir, 0, attacker.gid);
    chmodSync(keyDir, 0o770);
    const key = join(keyDir, "key.pem");
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o600 });
    const sign = () => runCli(DIST_CLI, ["sign-string", "--certificate", leaf.certPath, "--private-key", key], env());
    r = await sign();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`roles-anywhere-agent: warning: private key file ${key} is in a directory other users can change (${keyDir}, mode 770): run chmod go-w ${keyDir}\n`);
    expect((await attacker.run("mv", [key, join(keyDir, "taken.pem")])).code).toBe(0); // renamed away: it could be any file
    chmodSync(keyDir, 0o750); // fixed as the line says: silent, and the account can no longer rename
    writeFileSync(key, readFileSync(leaf.keyPath), { mode: 0o600 });
    r = await sign();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect((await attacker.run("mv", [key, join(keyDir, "again.pem")])).code).not.toBe(0);
  });

  // A file that holds no key is refused, and that is all: before, the refusal line came and then "can be read or
  // changed by other users" about the file that was not used (the warning, emitted on the next tick, followed it).
  it("--private-key naming a 0644 certificate: the refusal line alone, no warning about the file", async () => {
    const certificate = join(dir, "not-a-key.pem");
    writeFileSync(certificate, readFileSync(leaf.certPath), { mode: 0o644 });
    chmodSync(certificate, 0o644);
    const r = await runCli(DIST_CLI, ["sign-string", "--certificate", certificate, "--private-key", certificate], env());
    expect(r.code).toBe(EXIT_CODES.input);
    expect(r.stderr).toMatch(/^roles-anywhere-agent: unable to parse private key: [^\n]* holds no private key [^\n]*\n$/);
    const truncated = join(dir, "truncated-key.pem"); // PEM the key parser refuses: its line alone too
    writeFileSync(truncated, "-----BEGIN PRIVATE KEY-----\nMIG\n", { mode: 0o644 });
    chmodSync(truncated, 0o644);
    const t = await runCli(DIST_CLI, ["sign-string", "--certificate", leaf.certPath, "--private-key", truncated], env());
    expect(t.code).toBe(EXIT_CODES.input);
    expect(t.stderr).toMatch(/^roles-anywhere-agent: could not parse PEM data in [^\n]*: a PEM block labelled "PRIVATE KEY" has no END line [^\n]*\n$/);
  });
});
