/**
 * The systemd units we ship (systemd/) must not turn one wrong PIN into a locked token: a unit that restarts
 * `serve` or `update` after exit 4 presents the same wrong PIN every few seconds, and a YubiKey PIV blocks its PIN
 * after 3 tries. Every unit in systemd/ is read and checked:
 *
 * - services that restart list exit 3 (input) and 4 (authentication) in RestartPreventExitStatus=, and the exit
 *   codes the commands really return (the unit's own ExecStart= line run against a SoftHSM token with a wrong PIN,
 *   and with a missing config file) are among them;
 * - their start limit triggers: StartLimitBurst × (RestartSec + the longest a failing start can take) is shorter
 *   than StartLimitIntervalSec (systemd's default, 5 starts in 10 s, never triggers with RestartSec=5);
 * - every unit sets LimitCORE=0 (a core dump of `serve` holds the key password and the issued credentials);
 * - `systemd-analyze verify` accepts them with no warning (on temporary copies whose ExecStart= binary exists:
 *   the units hard-code /usr/bin/roles-anywhere-agent).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { DIST_CLI, runCli } from "./helpers/run-cli.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const UNIT_DIR = join(process.cwd(), "systemd");
const BINARY = "/usr/bin/roles-anywhere-agent";
const SYSTEM_CONFIG = "/etc/roles-anywhere-agent/config.json";

interface Unit {
  readonly file: string;
  readonly text: string;
  /** section → key → every value given (in order). */
  readonly sections: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;
}

function parseUnit(file: string): Unit {
  const text = readFileSync(join(UNIT_DIR, file), "utf8");
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
  return { file, text, sections };
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

const units = readdirSync(UNIT_DIR)
  .filter((f) => /\.(service|socket|timer|path|mount)$/.test(f))
  .sort()
  .map(parseUnit);
const services = units.filter((u) => u.file.endsWith(".service"));

const { dir, cleanup } = makeTempDir("raa-units-");
let hsm: SoftHsmFixture;

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
    // A oneshot start may run until TimeoutStartSec= before it fails; a simple service that fails at start-up
    // fails at once (its start-up is bounded by the command's own --timeout, far below these figures).
    const longestFailingStart = value(unit, "Service", "Type") === "oneshot" ? seconds(value(unit, "Service", "TimeoutStartSec") ?? "90") : 0;
    expect(burst * (restartSec + longestFailingStart)).toBeLessThan(interval);
  });

  it("systemd-analyze verify accepts every unit without a warning", () => {
    const copies = join(dir, "verify");
    execFileSync("mkdir", ["-p", copies]);
    const wrapper = join(dir, "roles-anywhere-agent");
    writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${DIST_CLI} "$@"\n`);
    chmodSync(wrapper, 0o755);
    for (const unit of units) writeFileSync(join(copies, unit.file), unit.text.replaceAll(BINARY, wrapper));
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...units.map((u) => join(copies, u.file))], { encoding: "utf8", cwd: copies });
    expect(r.error).toBeUndefined();
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
    // The check above must be able to fail: a misspelt key is reported.
    writeFileSync(join(copies, "broken.service"), "[Service]\nExecStart=/bin/true\nLimitCOREE=0\n");
    const broken = spawnSync("systemd-analyze", ["verify", "--man=no", join(copies, "broken.service")], { encoding: "utf8", cwd: copies });
    expect(broken.stderr).toMatch(/Unknown key 'LimitCOREE'/);
  });

  /** The unit's ExecStart= as a command we can run here: our CLI, a test config, a free port. */
  function execStart(unit: Unit, config: string): string[] {
    const line = value(unit, "Service", "ExecStart");
    if (!line) throw new Error(`${unit.file} has no ExecStart=`);
    const argv = line.split(/\s+/);
    expect(argv[0]).toBe(BINARY);
    return argv.slice(1).map((a, i, all) => (a === SYSTEM_CONFIG ? config : all[i - 1] === "--port" ? "0" : a));
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
