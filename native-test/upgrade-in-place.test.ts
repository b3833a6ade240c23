/**
 * A fleet upgraded in place: `npm install -g` (or `npm uninstall`) replaces the package's files under running daemons,
 * writing the new ones one by one. The built package, copied to a directory of its own, runs an agent; then its files
 * are removed or cut short as npm leaves them meanwhile. The agent keeps serving what it has loaded, a profile that
 * needs a module it had not loaded says to restart (not "internal error"), the agent stops cleanly, and a daemon
 * started meanwhile exits 1, which its unit restarts (3 is in RestartPreventExitStatus). docs/long-running.md,
 * "Upgrades and mixed versions".
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchFromAgent } from "../src/agent/client.js";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { runCli } from "./helpers/run-cli.js";

const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "role-arn": "arn:aws:iam::111122223333:role/device",
};

const { dir, cleanup } = makeTempDir("raa-upgrade-");
const configPath = join(dir, "config.json");
const socket = join(dir, "run", "agent.sock");
let endpoint: LocalEndpoint;
let fileProfile: Record<string, string>;
const env = () => ({ ...process.env, NODE_EXTRA_CA_CERTS: "", HOME: dir, XDG_RUNTIME_DIR: join(dir, "run") });

/** The built package as npm installs it: dist/, package.json and the dependencies, in a directory of its own. */
function install(name: string): string {
  const pkg = join(dir, name);
  mkdirSync(pkg);
  cpSync(resolve("dist"), join(pkg, "dist"), { recursive: true });
  cpSync(resolve("package.json"), join(pkg, "package.json"));
  symlinkSync(resolve("node_modules"), join(pkg, "node_modules"));
  return pkg;
}

function writeConfig(profiles: Record<string, Record<string, string>>): void {
  writeFileSync(configPath, JSON.stringify({ version: 1, profiles, agent: { socket } }), { mode: 0o600 });
}

/** A PKCS#11 profile: the agent loads that back-end only when one is configured (here: on SIGHUP). */
const tokenProfile = () => ({ ...fileProfile, "private-key": "pkcs11:token=t;object=k", "pkcs11-pin": `file:${join(dir, "pin")}` });

beforeAll(async () => {
  const ca = createCa(join(dir, "ca"), { name: "Upgrade CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "upgrade-leaf" });
  endpoint = await startLocalEndpoint({ trustAnchors: ca.certPath, port: 0 });
  fileProfile = { certificate: leaf.certPath, "private-key": leaf.keyPath, ...ARNS, endpoint: endpoint.url };
  writeFileSync(join(dir, "pin"), "1234\n", { mode: 0o600 });
  mkdirSync(join(dir, "run"), { mode: 0o700 });
});
afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

async function startAgent(pkg: string): Promise<{ child: ChildProcess; log: string[] }> {
  writeConfig({ device: fileProfile });
  const child = spawn(process.execPath, [join(pkg, "dist", "cli.js"), "agent", "--config", configPath], { env: env(), stdio: ["ignore", "ignore", "pipe"] });
  const log = await untilLogLine(child, /^device: new credentials/, 30_000);
  return { child, log };
}

/** SIGHUP with a token profile added; resolves once its failure is logged (30 s at most: the tests' own timeout is 60 s). */
async function addTokenProfile(child: ChildProcess, log: string[]): Promise<string> {
  writeConfig({ device: fileProfile, token: tokenProfile() });
  child.kill("SIGHUP");
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const line = log.find((l) => l.startsWith("token: refresh failed"));
    if (line) return line;
    if (child.exitCode !== null) throw new Error(`the agent exited: ${log.join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no 'token: refresh failed' line within 30 s of SIGHUP: ${log.join("\n")}`);
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  return code as number | null;
}

describe("a running agent whose package is replaced under it", () => {
  it("npm uninstall: keeps serving, names the module now missing for a new token profile, stops cleanly", async () => {
    const pkg = install("uninstalled");
    const { child, log } = await startAgent(pkg);
    try {
      // The version it runs, which the upgrade below does not change: how a fleet finds the agents to restart.
      const status = execFileSync("curl", ["-sf", "--unix-socket", socket, "http://agent/v1/status"], { encoding: "utf8" });
      expect(JSON.parse(status).version).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
      rmSync(join(pkg, "dist"), { recursive: true, force: true });
      const line = await addTokenProfile(child, log);
      expect(line).toMatch(
        /^token: refresh failed \(FILE_NOT_FOUND\): the installation changed since this process started, or is incomplete: \S+\/dist\/daemon\/pkcs11-\w+\.mjs is missing \(restart it once installed; reinstall if it repeats\); /,
      );
      const credentials = await fetchFromAgent(socket, "device");
      expect(credentials?.accessKeyId).toMatch(/^ASIA/);
    } finally {
      expect(await stop(child)).toBe(0);
    }
    expect(existsSync(socket)).toBe(false);
    expect(log.filter((l) => /internal error|\(INTERNAL\)|^\s+at \S/.test(l))).toEqual([]); // no bug report, no stack
  }, 60_000);

  it("npm writing the package: a module read cut short keeps its profile failed until a restart, and says so", async () => {
    const pkg = install("half-written");
    const { child, log } = await startAgent(pkg);
    try {
      const daemon = join(pkg, "dist", "daemon");
      const chunk = join(daemon, readdirSync(daemon).find((f) => /^pkcs11-\w+\.mjs$/.test(f))!);
      const text = readFileSync(chunk, "latin1");
      writeFileSync(chunk, text.slice(0, text.length / 2));
      const line = await addTokenProfile(child, log);
      expect(line).toMatch(
        /^token: refresh failed \(FILE_NOT_FOUND\): the installation changed since this process started, or is incomplete: a module does not compile \(.+\) \(restart it once installed; reinstall if it repeats\); /, // V8's reason may hold a ')'
      );
      expect((await fetchFromAgent(socket, "device"))?.accessKeyId).toMatch(/^ASIA/);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  }, 60_000);

  it("npm writing the package: a module cut at a statement boundary (it compiles) or still empty says so too", async () => {
    // Before: the cut module loaded with no exports, and the profile failed with "internal error: at is not a
    // function", retried at each refresh.
    for (const cut of ["before its export statement", "empty"] as const) {
      const pkg = install(`cut-${cut.split(" ")[0]}`);
      const { child, log } = await startAgent(pkg);
      try {
        const daemon = join(pkg, "dist", "daemon");
        const chunk = join(daemon, readdirSync(daemon).find((f) => /^pkcs11-\w+\.mjs$/.test(f))!);
        const text = readFileSync(chunk, "latin1");
        writeFileSync(chunk, cut === "empty" ? "" : text.slice(0, text.lastIndexOf(";export{") + 1));
        const line = await addTokenProfile(child, log);
        expect(line, cut).toMatch(
          /^token: refresh failed \(FILE_NOT_FOUND\): the installation changed since this process started, or is incomplete: \.\/pkcs11-\w+\.mjs is cut short \(restart it once installed; reinstall if it repeats\); /,
        );
        expect((await fetchFromAgent(socket, "device"))?.accessKeyId).toMatch(/^ASIA/);
      } finally {
        expect(await stop(child)).toBe(0);
      }
    }
  }, 120_000);
});

describe("a daemon started while npm writes the package", () => {
  it("exits 1 with one line, so that its unit restarts it once the install is done", async () => {
    const pkg = install("starting");
    const daemon = join(pkg, "dist", "daemon");
    const entry = readFileSync(join(daemon, "cli.mjs"), "latin1");
    const chunk = /"\.\/(chunk-\w+\.mjs)"/.exec(entry)![1]!;
    rmSync(join(daemon, chunk));
    writeConfig({ device: fileProfile });
    const flags = ["serve", "--config", configPath, "--profile", "device", "--port", "0"];
    const run = await runCli(join(pkg, "dist", "cli.js"), flags, env(), 60_000);
    expect([run.code, run.stdout, run.stderr]).toEqual([
      1,
      "",
      "roles-anywhere-agent: the installation changed since this process started, or is incomplete: " +
        `${join(daemon, chunk)} is missing (restart it once installed; reinstall if it repeats)\n`,
    ]);
  }, 60_000);

  it("exits 1 with one line for a module cut where a statement ends (it compiles) or still empty, the entry too", async () => {
    // The entry cut before its last statement (the one that runs the command) ran nothing and exited 0.
    const pkg = install("starting-cut");
    const daemon = join(pkg, "dist", "daemon");
    const entryPath = join(daemon, "cli.mjs");
    const entry = readFileSync(entryPath, "latin1");
    const chunk = join(daemon, /"\.\/(chunk-\w+\.mjs)"/.exec(entry)![1]!);
    const chunkText = readFileSync(chunk, "latin1");
    writeConfig({ device: fileProfile });
    const flags = ["serve", "--config", configPath, "--profile", "device", "--port", "0"];
    const cuts: [string, string, string][] = [
      [entryPath, entry.slice(0, entry.lastIndexOf(";", entry.lastIndexOf("process.argv.slice(2)")) + 1), `the installation is incomplete: ${entryPath} is cut short; reinstall roles-anywhere-agent`],
      [chunk, chunkText.slice(0, chunkText.lastIndexOf(";export{") + 1), "the installation changed since this process started, or is incomplete: "],
      [chunk, "", "the installation changed since this process started, or is incomplete: "],
    ];
    for (const [file, text, line] of cuts) {
      writeFileSync(file, text);
      const run = await runCli(join(pkg, "dist", "cli.js"), flags, env(), 60_000);
      expect([run.code, run.stdout], `${file} (${text.length} bytes)`).toEqual([1, ""]);
      expect(run.stderr, `${file} (${text.length} bytes)`).toMatch(/^roles-anywhere-agent: [^\n]+\n$/);
      expect(run.stderr).toContain(line);
      writeFileSync(entryPath, entry);
      writeFileSync(chunk, chunkText);
    }
  }, 60_000);
});

describe("a Type=notify service started from an install cut short before dist/native/ (power lost during npm install)", () => {
  it.each([
    ["serve", ["--profile", "device", "--port", "0"], /^Local server started/],
    ["update", ["--config-profile", "device", "--credentials-file", join(dir, "credentials")], /^wrote profile/],
  ])("%s exits 1 with the reason, instead of never telling systemd it is ready", async (command, flags, serving) => {
    // Before: it served without the native helper, so no READY=1 ever: with TimeoutStartSec=infinity the unit stayed
    // "activating" for the life of the process, and every unit ordered After= it waited with it.
    const pkg = install(`no-native-${command}`);
    rmSync(join(pkg, "dist", "native"), { recursive: true });
    writeConfig({ device: fileProfile });
    const notifyEnv = { ...env(), NOTIFY_SOCKET: join(dir, "run", "notify") };
    const child = spawn(process.execPath, [join(pkg, "dist", "cli.js"), command, "--config", configPath, ...flags], { env: notifyEnv, stdio: ["ignore", "ignore", "pipe"] });
    const log: string[] = [];
    let servingSeen = false;
    createInterface({ input: child.stderr! }).on("line", (line) => {
      log.push(line);
      if (serving.test(line)) (servingSeen = true), child.kill("SIGTERM");
    });
    const exited = once(child, "exit") as Promise<[number | null]>;
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000); // one that neither exits nor serves: the log below
    const [code] = await exited;
    clearTimeout(timer);
    expect(servingSeen, log.join("\n")).toBe(false);
    expect(code, log.join("\n")).toBe(1);
    expect(log.at(-1)).toMatch(
      /^roles-anywhere-agent: cannot tell systemd that the service is ready \(native\/linux-\w+\/raa_native\.node is not part of this installation\): its Type=notify unit would wait for ever \(reinstall roles-anywhere-agent; /,
    );
  }, 60_000);
});
