/**
 * The systemd units `install-systemd` generates for this installation must not turn one wrong PIN into a locked
 * token: a unit that restarts `serve` or `update` after exit 4 presents the same wrong PIN every few seconds, and a
 * YubiKey PIV blocks its PIN after 3 tries. The command writes the units under a temporary root, and each is checked:
 *
 * - services that restart list exit 3 (input) and 4 (authentication) in RestartPreventExitStatus=, and the exit
 *   codes the commands really return (the unit's own ExecStart= line run against a SoftHSM token with a wrong PIN,
 *   and with a missing config file) are among them;
 * - their start limit triggers: StartLimitBurst × (RestartSec + the longest a failing start can take) is shorter
 *   than StartLimitIntervalSec (systemd's default, 5 starts in 10 s, never triggers with RestartSec=5);
 * - update-once's TimeoutStartSec= outlasts `update --once`'s wait for a clock set late at boot (CLOCK_WAIT_MS);
 * - every unit sets LimitCORE=0 (a core dump of `serve` holds the key password and the issued credentials);
 * - ExecStart= runs this installation's Node.js and dist/cli.js, V8 flags on node's command line, never in
 *   NODE_OPTIONS;
 * - `systemd-analyze verify` accepts them with no warning, and `systemd-analyze security --offline=yes` rates the
 *   system services at an exposure of at most 4.0 ("OK");
 * - the sysusers.d and tmpfiles.d entries, applied by systemd-sysusers and systemd-tmpfiles to a copy of this
 *   machine's user database, create the service user (in group tss) and the config directory.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { CLOCK_WAIT_MS } from "../src/update/run-update.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const SYSTEM_CONFIG = "/etc/roles-anywhere-agent/config.json";
const NODE = realpathSync(process.execPath);
const CLI = realpathSync(DIST_CLI);
/** The exposure `systemd-analyze security` may give the system services at most ("OK" is below 4.0 too). */
const MAX_EXPOSURE = 4.0;

interface Unit {
  readonly file: string;
  readonly path: string;
  readonly text: string;
  /** section → key → every value given (in order). */
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
}

function parseUnit(path: string): Unit {
  const text = readFileSync(path, "utf8");
  const file = path.split("/").pop()!;
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf("=");
    if (!current || eq < 0) throw new Error(`${file}: cannot read line ${JSON.stringify(raw)}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return { file, path, text, sections };
}

const value = (unit: Unit, section: string, key: string): string | undefined => unit.sections.get(section)?.get(key)?.at(-1);

/** systemd time spans as used in our units: "300", "5s", "2min", "1min 30s". */
function seconds(span: string): number {
  let total = 0;
  for (const part of span.trim().split(/\s+/)) {
    const m = /^(\d+)(s|sec|min|m|h)?$/.exec(part);
    if (!m) throw new Error(`unsupported time span ${span}`);
    total += Number(m[1]) * ({ min: 60, m: 60, h: 3600 }[m[2] as "min" | "m" | "h"] ?? 1);
  }
  return total;
}

const { dir, cleanup } = makeTempDir("raa-units-");
const root = join(dir, "root");
let units: Unit[] = [];
let services: Unit[] = [];
let installOutput = "";
let hsm: SoftHsmFixture;

/** The files install-systemd writes, generated now by the built CLI (what an admin runs). */
function installUnits(): void {
  installOutput = execFileSync(process.execPath, [DIST_CLI, "install-systemd", "--root", root, "--profile", "gateway"], { encoding: "utf8", env: { ...process.env, NODE_EXTRA_CA_CERTS: "" } });
  const unitDirs = [join(root, "etc/systemd/system"), join(root, "etc/systemd/user")];
  units = unitDirs
    .flatMap((d) => readdirSync(d).map((f) => join(d, f)))
    .filter((f) => /\.(service|socket|timer|path|mount)$/.test(f))
    .sort((a, b) => (a.split("/").pop()! < b.split("/").pop()! ? -1 : 1))
    .map(parseUnit);
  services = units.filter((u) => u.file.endsWith(".service"));
}

installUnits();

beforeAll(() => {
  hsm = createSoftHsmFixture("raa-units-hsm-");
});
afterAll(() => {
  hsm?.cleanup();
  cleanup();
});

describe("systemd units", () => {
  it("are all found (the checks below would pass on an empty list)", () => {
    expect(units.map((u) => u.file)).toEqual([
      "roles-anywhere-agent.service",
      "roles-anywhere-agent.socket",
      "roles-anywhere-serve.service",
      "roles-anywhere-update-once.service",
      "roles-anywhere-update.service",
    ]);
  });

  it.each(units.map((u) => [u.file, u] as const))("%s sets LimitCORE=0", (_name, unit) => {
    const section = unit.file.endsWith(".socket") ? "Socket" : "Service";
    expect(value(unit, section, "LimitCORE")).toBe("0");
  });

  it.each(services.map((u) => [u.file, u] as const))("%s never restarts after exit 3 or 4, and its start limit triggers", (_name, unit) => {
    const restart = value(unit, "Service", "Restart") ?? "no";
    expect(restart).not.toBe("always"); // `always` restarts after a clean exit too, and ignores nothing
    if (restart === "no") return;
    const prevented = (value(unit, "Service", "RestartPreventExitStatus") ?? "").split(/\s+/);
    expect(prevented).toEqual(expect.arrayContaining(["3", "4"]));

    const burst = Number(value(unit, "Unit", "StartLimitBurst") ?? 5);
    const interval = seconds(value(unit, "Unit", "StartLimitIntervalSec") ?? "10");
    const restartSec = seconds(value(unit, "Service", "RestartSec") ?? "0");
    // A oneshot start may run until TimeoutStartSec= before it fails. A simple or notify service that fails at
    // start-up fails at once: a bad config, key or PIN exits at once, and a missing network or token is retried by
    // the process itself (a notify unit then stays "activating", TimeoutStartSec=infinity), never by restarts.
    const longestFailingStart = value(unit, "Service", "Type") === "oneshot" ? seconds(value(unit, "Service", "TimeoutStartSec") ?? "90") : 0;
    expect(burst * (restartSec + longestFailingStart)).toBeLessThan(interval);
  });

  it("update-once outlasts --once's wait for a clock set late (NTP), and its comments give its real numbers", () => {
    const unit = units.find((u) => u.file === "roles-anywhere-update-once.service")!;
    const timeout = seconds(value(unit, "Service", "TimeoutStartSec")!);
    // The wait, then at least a minute for the attempts (CreateSession's own timeouts and retries).
    expect(timeout).toBeGreaterThanOrEqual(CLOCK_WAIT_MS / 1000 + 60);
    expect(unit.text).toContain(`--once waits up to ${CLOCK_WAIT_MS / 1000} s`);
    const burst = value(unit, "Unit", "StartLimitBurst")!;
    const restartSec = seconds(value(unit, "Service", "RestartSec")!);
    const interval = value(unit, "Unit", "StartLimitIntervalSec")!;
    const limit = `TimeoutStartSec=${timeout} plus RestartSec=${restartSec}, and ${burst} x ${timeout + restartSec} s < ${interval} s`;
    expect(unit.text.replace(/\n# /g, " ")).toContain(limit);
    // Not in the unit: waiting for systemd-time-wait-sync.service would wait forever without an NTP daemon.
    expect(unit.text).not.toMatch(/^(Wants|Requires)=.*time-wait-sync/m);
  });

  it("systemd-analyze verify accepts every unit without a warning", () => {
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...units.map((u) => u.path)], { encoding: "utf8", cwd: dir });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
    // The check above must be able to fail: a misspelt key is reported.
    writeFileSync(join(dir, "broken.service"), "[Service]\nExecStart=/bin/true\nLimitCOREE=0\n");
    const broken = spawnSync("systemd-analyze", ["verify", "--man=no", join(dir, "broken.service")], { encoding: "utf8", cwd: dir });
    expect(broken.stderr).toMatch(/Unknown key 'LimitCOREE'/);
  });

  it.each(["roles-anywhere-serve.service", "roles-anywhere-update.service", "roles-anywhere-update-once.service"])(
    `systemd-analyze security --offline=yes rates %s at an exposure of at most ${MAX_EXPOSURE}`,
    (file) => {
      const unit = units.find((u) => u.file === file)!;
      const r = spawnSync("systemd-analyze", ["security", "--offline=yes", "--no-pager", unit.path], { encoding: "utf8", cwd: dir });
      const m = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(r.stdout);
      expect(m, r.stdout + r.stderr).not.toBeNull();
      console.log(`systemd-analyze security: ${file} ${m![1]} ${m![2]}`);
      expect(Number(m![1])).toBeLessThanOrEqual(MAX_EXPOSURE);
      expect(value(unit, "Service", "CapabilityBoundingSet")).toBe("");
      expect(value(unit, "Service", "SystemCallFilter")).toBe("@system-service");
      expect(value(unit, "Service", "DevicePolicy")).toBe("closed");
      expect(value(unit, "Service", "DeviceAllow")).toBe("/dev/tpmrm0 rw");
      expect(value(unit, "Service", "SupplementaryGroups")).toBe("tss");
      for (const key of ["ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups", "ProtectClock", "PrivateTmp"]) expect(value(unit, "Service", key), key).toBe("yes");
      expect(value(unit, "Service", "ProtectHome")).toBe("yes");
      expect(value(unit, "Service", "ProtectSystem")).toBe("strict");
      // The rating is a real one: the same unit without its sandbox is rated far worse.
      const bare = join(dir, `bare-${file}`);
      writeFileSync(bare, unit.text.split("\n").filter((l) => !/^(Protect|Private|Restrict|SystemCall|Capability|DevicePolicy|NoNewPrivileges|LockPersonality)/.test(l)).join("\n"));
      const worse = spawnSync("systemd-analyze", ["security", "--offline=yes", "--no-pager", bare], { encoding: "utf8", cwd: dir });
      expect(Number(/Overall exposure level for \S+: (\d+\.\d+)/.exec(worse.stdout)![1])).toBeGreaterThan(MAX_EXPOSURE);
    },
  );

  it("ExecStart= runs this installation's Node.js and dist/cli.js; no V8 flag in NODE_OPTIONS; serve and update report readiness", () => {
    for (const unit of services) {
      const argv = value(unit, "Service", "ExecStart")!.split(/\s+/);
      expect(argv[0]).toBe(NODE);
      expect(argv.filter((a) => a.startsWith("--") && argv.indexOf(a) < argv.indexOf(CLI))).toEqual(argv.slice(1, argv.indexOf(CLI)));
      expect(argv).toContain(CLI);
      for (const assignment of unit.sections.get("Service")?.get("Environment") ?? []) expect(assignment).not.toMatch(/^NODE_OPTIONS=/);
    }
    for (const file of ["roles-anywhere-serve.service", "roles-anywhere-update.service"]) {
      const unit = units.find((u) => u.file === file)!;
      expect(value(unit, "Service", "Type")).toBe("notify");
      expect(value(unit, "Service", "NotifyAccess")).toBe("main");
    }
  });

  it("the sysusers.d and tmpfiles.d entries create the user (in group tss) and the config directory", () => {
    const image = join(dir, "image");
    mkdirSync(join(image, "etc"), { recursive: true });
    for (const f of ["passwd", "group", "shadow", "gshadow"]) if (existsSync(`/etc/${f}`)) copyFileSync(`/etc/${f}`, join(image, "etc", f));
    execFileSync("systemd-sysusers", [`--root=${image}`, join(root, "etc/sysusers.d/roles-anywhere-agent.conf")], { stdio: "pipe" });
    const passwd = readFileSync(join(image, "etc/passwd"), "utf8");
    const user = /^roles-anywhere:x:(\d+):(\d+):[^:]*:\/var\/lib\/roles-anywhere-agent:\/usr\/sbin\/nologin$/m.exec(passwd);
    expect(user, passwd).not.toBeNull();
    expect(readFileSync(join(image, "etc/group"), "utf8")).toMatch(/^tss:x:\d+:(.*,)?roles-anywhere(,.*)?$/m);
    execFileSync("systemd-tmpfiles", [`--root=${image}`, "--create", join(root, "etc/tmpfiles.d/roles-anywhere-agent.conf")], { stdio: "pipe" });
    const configDir = statSync(join(image, "etc/roles-anywhere-agent"));
    expect(configDir.isDirectory()).toBe(true);
    expect(configDir.mode & 0o777).toBe(0o750);
    expect(configDir.uid).toBe(0);
    expect(configDir.gid).toBe(Number(user![2]));
  });

  it("--dry-run prints the same files and writes nothing", () => {
    const out = execFileSync(process.execPath, [DIST_CLI, "install-systemd", "--dry-run", "--root", join(dir, "untouched"), "--profile", "gateway"], { encoding: "utf8" });
    expect(existsSync(join(dir, "untouched"))).toBe(false);
    for (const unit of units) expect(out).toContain(unit.text);
    expect(out).toContain("# /etc/sysusers.d/roles-anywhere-agent.conf\n");
    expect(out).toContain("# /etc/tmpfiles.d/roles-anywhere-agent.conf\n");
    expect(installOutput).toMatch(/^next: /m);
  });

  it("--pin-file hands the PIN file over with LoadCredential= (still verified without a warning)", () => {
    const withPin = join(dir, "root-pin");
    execFileSync(process.execPath, [DIST_CLI, "install-systemd", "--root", withPin, "--pin-file", "/etc/roles-anywhere-agent/pkcs11-pin", "--profile", "gateway"], { encoding: "utf8" });
    const serve = parseUnit(join(withPin, "etc/systemd/system/roles-anywhere-serve.service"));
    expect(value(serve, "Service", "LoadCredential")).toBe("pkcs11-pin:/etc/roles-anywhere-agent/pkcs11-pin");
    expect(value(serve, "Service", "ExecStart")).toMatch(/ --profile gateway .* --pkcs11-pin-file %d\/pkcs11-pin$/);
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", serve.path], { encoding: "utf8", cwd: dir });
    expect(`${r.stdout}${r.stderr}`).toBe("");
  });

  it("on / where systemd-sysusers is missing or fails: one line, exit 2 or 3 (was 'internal error: spawnSync … ENOENT')", () => {
    // A private mount namespace with an empty /etc: the files land in that tmpfs, never in this host's /etc.
    const bin = join(dir, "bin-no-systemd");
    mkdirSync(bin, { recursive: true });
    const inNamespace = (path: string) =>
      spawnSync("unshare", ["-m", "sh", "-c", `mount --make-rprivate / && mount -t tmpfs tmpfs /etc && PATH="$RAA_PATH" exec "$0" "$@"`, NODE, CLI, "install-systemd"], {
        encoding: "utf8",
        env: { PATH: process.env["PATH"], RAA_PATH: path, NODE_EXTRA_CA_CERTS: "" },
      });
    const missing = inNamespace(bin);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(
      "roles-anywhere-agent: systemd-sysusers is not installed: the files are written, not applied (on a system without systemd, or to build an image, use --root DIR)\n",
    );
    expect(missing.stdout).toMatch(/^wrote \/etc\/tmpfiles.d\/roles-anywhere-agent.conf$/m);
    writeFileSync(join(bin, "systemd-sysusers"), "#!/bin/sh\necho 'sysusers: conflicting entry' >&2\nexit 1\n", { mode: 0o755 });
    const failing = inNamespace(`${bin}:/usr/bin:/bin`);
    expect(failing.status).toBe(3);
    expect(failing.stderr).toBe(
      "sysusers: conflicting entry\nroles-anywhere-agent: systemd-sysusers /etc/sysusers.d/roles-anywhere-agent.conf failed (exit 1); the files are written " +
        "(see its message above, then run systemd-sysusers /etc/sysusers.d/roles-anywhere-agent.conf again)\n",
    );
    expect(existsSync("/etc/sysusers.d/roles-anywhere-agent.conf")).toBe(false); // this host's /etc untouched
  });

  /** The unit's ExecStart= as a command we can run here: our CLI, a test config, a free port. */
  function execStart(unit: Unit, config: string): string[] {
    const line = value(unit, "Service", "ExecStart");
    if (!line) throw new Error(`${unit.file} has no ExecStart=`);
    const argv = line.split(/\s+/);
    expect(argv[0]).toBe(NODE);
    return argv.slice(argv.indexOf(CLI) + 1).map((a, i, all) => (a === SYSTEM_CONFIG ? config : all[i - 1] === "--port" ? "0" : a));
  }

  function envOf(unit: Unit): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const assignment of unit.sections.get("Service")?.get("Environment") ?? []) {
      const [k, v] = assignment.split(/=(.*)/s) as [string, string];
      env[k] = k === "AWS_SHARED_CREDENTIALS_FILE" ? join(dir, "credentials") : v;
    }
    return env;
  }

  const ARNS = {
    "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/units",
    "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/units",
    "role-arn": "arn:aws:iam::000000000000:role/units",
  };

  it.each(services.filter((u) => !u.file.includes("-agent.")).map((u) => [u.file, u] as const))(
    "%s: its command exits with a code the unit does not restart, on a wrong PIN and on a missing config",
    async (_name, unit) => {
      const prevented = (value(unit, "Service", "RestartPreventExitStatus") ?? "").split(/\s+/).map(Number);
      const config = join(dir, `${unit.file}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          version: 1,
          profiles: {
            gateway: {
              certificate: `pkcs11:token=${hsm.token};object=ec-key`,
              "pkcs11-lib": hsm.module,
              "pkcs11-pin": `file:${hsm.pinFile("0000")}`,
              ...ARNS,
              endpoint: "http://127.0.0.1:9",
              timeout: 2,
            },
          },
        }),
        { mode: 0o600 },
      );
      const env = { ...process.env, ...envOf(unit), SOFTHSM2_CONF: hsm.conf, NODE_EXTRA_CA_CERTS: "", XDG_RUNTIME_DIR: "/nonexistent" };
      const wrongPin = await runCli(DIST_CLI, execStart(unit, config), env, 60_000);
      expect(wrongPin.stderr).toMatch(/PIN/);
      expect(wrongPin.code).toBe(4);
      expect(prevented).toContain(wrongPin.code);

      const missing = await runCli(DIST_CLI, execStart(unit, join(dir, "no-such-config.json")), env, 60_000);
      expect(missing.code).toBe(3);
      expect(prevented).toContain(missing.code);
    },
  );
});
