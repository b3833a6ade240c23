/**
 * The reload rule of the three daemons (`update`, `agent`, `serve`) as real processes against the verifying local
 * endpoint: a SIGHUP with nothing changed — files copied over with the same bytes included — calls no CreateSession
 * (a fleet reloaded by configuration management otherwise asks once per device within seconds); a key and
 * certificate replaced at the same paths are used at once. Sessions are counted at the endpoint, by certificate.
 * So are what a reload must not miss: the file AWS_CA_BUNDLE names, a PKCS#11 module replaced at its path, tpm-device.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli, createSoftHsmToken } from "./agent-support.js";
import { fetchFromAgent } from "../src/agent/client.js";
import { untilLogLine } from "./helpers/log-lines.js";
import { SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { persistSrk } from "./helpers/tpm-keys.js";

const { dir, cleanup } = makeTempDir("raa-native-reload-");
let cli: { cli: string; cleanup: () => void };
let endpoint: LocalEndpoint;
let ca: CaHandle;

const ARNS = {
  "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/reload",
  "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/reload",
  "role-arn": "arn:aws:iam::000000000000:role/reload",
};

beforeAll(async () => {
  cli = await bundleCli();
  ca = createCa(join(dir, "ca"), { name: "Reload Test CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
});
afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  cleanup();
});

/** The daemon's arguments, given its key and certificate paths and a directory of its own. */
const DAEMONS: Record<string, (key: string, cert: string, home: string, url?: string) => string[]> = {
  update: (key, cert, home, url = endpoint.url) => [
    "update", "--certificate", cert, "--private-key", key, ...Object.entries(ARNS).flatMap(([k, v]) => [`--${k}`, v]),
    "--endpoint", url, "--credentials-file", join(home, "credentials"),
  ],
  agent: (key, cert, home, url = endpoint.url) => {
    const config = join(home, "config.json");
    const profile = { certificate: cert, "private-key": key, ...ARNS, endpoint: url };
    writeFileSync(config, JSON.stringify({ version: 1, profiles: { device: profile } }), { mode: 0o600 });
    return ["agent", "--config", config, "--socket", join(home, "agent.sock")];
  },
  serve: (key, cert, _home, url = endpoint.url) => [
    "serve", "--certificate", cert, "--private-key", key, ...Object.entries(ARNS).flatMap(([k, v]) => [`--${k}`, v]),
    "--endpoint", url, "--port", "0", "--imds", "--allow-open-imds",
  ],
};

describe.each(Object.keys(DAEMONS))("%s reloaded (SIGHUP)", (name) => {
  it("nothing changed, files copied over with the same bytes: no CreateSession; a key replaced at its path: used at once", async () => {
    const home = join(dir, name);
    mkdirSync(home, { mode: 0o700 });
    const [first, second] = ["first", "second"].map((n) => issueLeaf(ca, join(home, n), { name: `${name}-${n}` }));
    const [key, cert] = [join(home, "device.key"), join(home, "device.pem")];
    copyFileSync(first!.keyPath, key);
    copyFileSync(first!.certPath, cert);
    const sessions = (leaf: typeof first) => endpoint.issued.filter((s) => s.certificateSerial === leaf!.serialDecimal).length;
    /** Resolves once `check` holds (the endpoint's log is polled), or fails with the daemon's log after 60 s. */
    const until = async (what: string, check: () => boolean) => {
      for (const started = Date.now(); !check(); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() - started > 60_000) throw new Error(`no ${what} within 60 s:\n${log.join("\n")}`);
      }
    };
    const child = spawn(process.execPath, [cli.cli, ...DAEMONS[name]!(key, cert, home)], { stdio: ["ignore", "ignore", "pipe"] });
    const log = await untilLogLine(child, /updating profile|agent listening on|Local server started/);
    const reloaded = async (n: number) => {
      child.kill("SIGHUP");
      await until(`reload #${n}`, () => log.filter((l) => /configuration reloaded/.test(l)).length === n);
    };
    try {
      await until("first CreateSession", () => sessions(first) === 1);
      await reloaded(1);
      for (const path of [key, cert]) {
        copyFileSync(path, `${path}.new`);
        renameSync(`${path}.new`, path);
      }
      await reloaded(2);
      // In place (same inode), as an editor or `cp` over it would.
      writeFileSync(key, readFileSync(second!.keyPath));
      writeFileSync(cert, readFileSync(second!.certPath));
      await reloaded(3);
      await until("CreateSession with the new key", () => sessions(second) === 1);
      expect(sessions(first), log.join("\n")).toBe(1); // before (update): 3, one per SIGHUP
      expect(log.filter((l) => /configuration reloaded/.test(l)).map((l) => /kept (\d)/.exec(l)?.[1])).toEqual(["1", "1", "0"]);
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code, log.join("\n")).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("agent reloaded (SIGHUP) with a token's PIN file", () => {
  it("a wrong PIN is presented once: copied over with the same bytes, it is not presented again; the right one in place is", async () => {
    const home = join(dir, "pin");
    mkdirSync(home, { mode: 0o700 });
    const leaf = issueLeaf(ca, join(home, "leaf"), { name: "pin-device" });
    const token = createSoftHsmToken(join(home, "softhsm"), leaf.keyPath, "reload-pin");
    writeFileSync(token.pinFile, "9999\n");
    const config = join(home, "config.json");
    const profile = { certificate: leaf.certPath, "private-key": token.keyUri, "pkcs11-pin": `file:${token.pinFile}`, ...ARNS, endpoint: endpoint.url };
    writeFileSync(config, JSON.stringify({ version: 1, profiles: { hsm: profile } }), { mode: 0o600 });
    const socket = join(home, "agent.sock");
    const child = spawn(process.execPath, [cli.cli, "agent", "--config", config, "--socket", socket], {
      env: { ...process.env, SOFTHSM2_CONF: token.conf },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const log = await untilLogLine(child, /agent listening on/);
    const reloaded = async (n: number) => {
      child.kill("SIGHUP");
      for (const started = Date.now(); log.filter((l) => /configuration reloaded/.test(l)).length < n; await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() - started > 60_000) throw new Error(`no reload #${n} within 60 s:\n${log.join("\n")}`);
      }
    };
    try {
      // The token's answer is in the line of the one presentation only (the open's; the refresh, which only threw its
      // error again, no longer adds a second).
      const presented = () => log.findLastIndex((l) => /\(CKR_PIN_INCORRECT\)/.test(l));
      expect(presented(), log.join("\n")).toBeGreaterThanOrEqual(0);
      copyFileSync(token.pinFile, `${token.pinFile}.new`);
      renameSync(`${token.pinFile}.new`, token.pinFile);
      await reloaded(1); // failed: rebuilt, and the same PIN refused without a try on the token
      expect(log.some((l) => /already rejected the PIN from file .*; it was not presented again/.test(l)), log.join("\n")).toBe(true);
      expect(presented()).toBeLessThan(log.findIndex((l) => /configuration reloaded/.test(l)));
      // One try, one line each time (before: two, the open's and the refresh's), which says it is not retried.
      const refused = log.filter((l) => /\(CKR_PIN_INCORRECT\)|already rejected the PIN/.test(l));
      expect(refused, log.join("\n")).toHaveLength(2);
      expect(refused.every((l) => l.endsWith("not retried (fix it, then reload with SIGHUP or restart)")), log.join("\n")).toBe(true);
      writeFileSync(token.pinFile, `${token.pin}\n`);
      await reloaded(2);
      expect((await fetchFromAgent(socket, "hsm"))?.accessKeyId).toMatch(/^ASIA/);
      copyFileSync(token.pinFile, `${token.pinFile}.new`);
      renameSync(`${token.pinFile}.new`, token.pinFile);
      await reloaded(3);
      expect(log.filter((l) => /configuration reloaded/.test(l)).map((l) => /kept (\d)/.exec(l)?.[1])).toEqual(["0", "0", "1"]);
      expect(endpoint.issued.filter((s) => s.certificateSerial === leaf.serialDecimal)).toHaveLength(1);
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code, log.join("\n")).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("reloaded (SIGHUP) after the file AWS_CA_BUNDLE names changed", () => {
  let secure: LocalEndpoint;
  let tlsCa: CaHandle;
  let otherCa: CaHandle;
  beforeAll(async () => {
    tlsCa = createCa(join(dir, "tls"), { name: "Reload TLS CA" });
    otherCa = createCa(join(dir, "tls-other"), { name: "Reload Other TLS CA" });
    const tls = issueLeaf(tlsCa, join(dir, "tls"), {
      name: "127.0.0.1",
      extensions: ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth", "subjectAltName=IP:127.0.0.1"],
    });
    secure = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1", tls: { cert: tls.certPem, key: readFileSync(tls.keyPath) } });
  });
  afterAll(() => secure?.close());

  it.each(Object.keys(DAEMONS))("%s: the new bundle is used at once, as --ca-bundle's is (before: kept, the old trust until the next refresh)", async (name) => {
    const home = join(dir, `${name}-ca-bundle`);
    mkdirSync(home, { mode: 0o700 });
    const leaf = issueLeaf(ca, join(home, "leaf"), { name: `${name}-ca-bundle` });
    const bundle = join(home, "ca-bundle.pem");
    copyFileSync(tlsCa.certPath, bundle);
    const env = { ...process.env, AWS_CA_BUNDLE: bundle, NODE_EXTRA_CA_CERTS: "" };
    const child = spawn(process.execPath, [cli.cli, ...DAEMONS[name]!(leaf.keyPath, leaf.certPath, home, secure.url)], { env, stdio: ["ignore", "ignore", "pipe"] });
    const log = await untilLogLine(child, /updating profile|agent listening on|Local server started/);
    const until = async (what: string, check: () => boolean) => {
      for (const started = Date.now(); !check(); await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() - started > 60_000) throw new Error(`no ${what} within 60 s:\n${log.join("\n")}`);
      }
    };
    try {
      await until("first CreateSession", () => secure.issued.some((s) => s.certificateSerial === leaf.serialDecimal));
      // In place, a CA that did not sign the endpoint's certificate: the next CreateSession must fail TLS.
      writeFileSync(bundle, readFileSync(otherCa.certPath));
      child.kill("SIGHUP");
      await until("reload", () => log.some((l) => /configuration reloaded/.test(l)));
      const reload = log.findIndex((l) => /configuration reloaded/.test(l));
      expect(/kept (\d)/.exec(log[reload]!)?.[1], log.join("\n")).toBe("0");
      await until("TLS refusal with the new bundle", () => log.slice(reload).some((l) => /TLS certificate of .* is not trusted/.test(l)));
      expect(secure.issued.filter((s) => s.certificateSerial === leaf.serialDecimal)).toHaveLength(1);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("agent reloaded (SIGHUP) after its PKCS#11 module was replaced at the same path (a package upgrade)", () => {
  it("loads the new module (as for another path); one still in use by another profile is kept, and a warning says a restart is needed", async () => {
    const home = join(dir, "module");
    mkdirSync(home, { mode: 0o700 });
    const leaf = issueLeaf(ca, join(home, "leaf"), { name: "module-device" });
    const token = createSoftHsmToken(join(home, "softhsm"), leaf.keyPath, "reload-module");
    const [first, module] = [join(home, "first.so"), join(home, "libsofthsm2.so")];
    copyFileSync(SOFTHSM_MODULE, first);
    copyFileSync(SOFTHSM_MODULE, module);
    /** Replaced as a package manager does: a new file (other bytes: n more at its end) renamed over the old one. */
    let upgrades = 0;
    const upgrade = () => {
      copyFileSync(SOFTHSM_MODULE, `${module}.new`);
      appendFileSync(`${module}.new`, Buffer.alloc(++upgrades));
      renameSync(`${module}.new`, module);
    };
    const config = join(home, "config.json");
    const profile = { certificate: leaf.certPath, "private-key": "pkcs11:token=reload-module;object=agent-key;type=private", "pkcs11-pin": `file:${token.pinFile}`, ...ARNS, endpoint: endpoint.url };
    const write = (names: string[], lib = module) =>
      writeFileSync(config, JSON.stringify({ version: 1, profiles: Object.fromEntries(names.map((n) => [n, { ...profile, "pkcs11-lib": lib }])) }), { mode: 0o600 });
    write(["one"], first);
    const socket = join(home, "agent.sock");
    const child = spawn(process.execPath, [cli.cli, "agent", "--config", config, "--socket", socket], {
      env: { ...process.env, SOFTHSM2_CONF: token.conf },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const log = await untilLogLine(child, /agent listening on/);
    /** The module's mappings in the agent: its inode, and whether that file was deleted (replaced). */
    const mapped = () => [...new Set(readFileSync(`/proc/${child.pid}/maps`, "utf8").split("\n").filter((l) => l.includes(home)).map((l) => l.split(/\s+/).slice(4).join(" ")))];
    const inode = () => `${statSync(module).ino} ${module}`;
    const reloads = () => log.filter((l) => /configuration reloaded/.test(l));
    const reloaded = async (n: number) => {
      child.kill("SIGHUP");
      for (const started = Date.now(); reloads().length < n; await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() - started > 60_000) throw new Error(`no reload #${n} within 60 s:\n${log.join("\n")}`);
      }
    };
    const warnings = () => log.filter((l) => /warning: the PKCS#11 module .* was replaced on disk, but this process still runs the copy it loaded before .*restart it/.test(l));
    try {
      expect((await fetchFromAgent(socket, "one"))?.accessKeyId).toMatch(/^ASIA/);
      expect(mapped()).toEqual([`${statSync(first).ino} ${first}`]);
      // Another module path in the config: the first module is unloaded, the one now named loaded.
      write(["one"]);
      await reloaded(1);
      expect(reloads()[0], log.join("\n")).toMatch(/kept 0, added 0, replaced 1/);
      expect((await fetchFromAgent(socket, "one"))?.accessKeyId).toMatch(/^ASIA/);
      expect(mapped()).toEqual([inode()]);
      upgrade();
      await reloaded(2);
      // Before: "kept 1", signing on with the deleted module, nothing said.
      expect(reloads()[1], log.join("\n")).toMatch(/kept 0, added 0, replaced 1/);
      expect((await fetchFromAgent(socket, "one"))?.accessKeyId).toMatch(/^ASIA/);
      expect(mapped(), log.join("\n")).toEqual([inode()]); // the new file, the old one unloaded
      expect(warnings()).toEqual([]);
      // Two profiles on the module: closing one leaves it loaded for the other, so a rebuilt one gets the old copy.
      write(["one", "two"]);
      await reloaded(3);
      expect((await fetchFromAgent(socket, "two"))?.accessKeyId).toMatch(/^ASIA/);
      const before = inode();
      upgrade();
      await reloaded(4);
      expect(reloads()[3], log.join("\n")).toMatch(/kept 0, added 0, replaced 2/);
      expect((await fetchFromAgent(socket, "two"))?.accessKeyId).toMatch(/^ASIA/);
      expect(mapped()).toEqual([`${before} (deleted)`]);
      expect(warnings(), log.join("\n")).toHaveLength(1);
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      expect(code, log.join("\n")).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("agent reloaded (SIGHUP) after the config's tpm-device changed", () => {
  it("signs with the TPM the config now names (the same key imported into both, the first TPM gone)", async () => {
    const home = join(dir, "tpm-device");
    mkdirSync(home, { mode: 0o700 });
    const leaf = issueLeaf(ca, join(home, "leaf"), { name: "tpm-device" });
    const tpms: Swtpm[] = [];
    try {
      for (const n of [0, 1]) {
        const tpm = await startSwtpm();
        tpms.push(tpm);
        await persistSrk(tpm, 0x81000001);
        const [pub, priv, ctx] = ["pub", "priv", "ctx"].map((x) => join(tpm.dir, `imported.${x}`));
        await tpm.run("tpm2_import", ["-C", "0x81000001", "-G", "ecc", "-i", leaf.keyPath, "-u", pub!, "-r", priv!, "-a", "userwithauth|sign", "-Q"]);
        await tpm.run("tpm2_load", ["-C", "0x81000001", "-u", pub!, "-r", priv!, "-c", ctx!, "-Q"]);
        await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx!, "0x81000010", "-Q"]);
        await tpm.flushAll();
        expect(n).toBeLessThan(2);
      }
      const config = join(home, "config.json");
      const write = (device: string) => writeFileSync(config, JSON.stringify({ version: 1, profiles: { tpm: {
        certificate: leaf.certPath, "private-key": "handle:0x81000010", "no-tpm-key-password": true, "tpm-device": device, ...ARNS, endpoint: endpoint.url,
      } } }), { mode: 0o600 });
      write(tpms[0]!.device);
      const socket = join(home, "agent.sock");
      const child = spawn(process.execPath, [cli.cli, "agent", "--config", config, "--socket", socket], { stdio: ["ignore", "ignore", "pipe"] });
      const log = await untilLogLine(child, /agent listening on/);
      const sessions = () => endpoint.issued.filter((s) => s.certificateSerial === leaf.serialDecimal).length;
      try {
        expect((await fetchFromAgent(socket, "tpm"))?.accessKeyId).toMatch(/^ASIA/);
        expect(sessions()).toBe(1);
        write(tpms[1]!.device);
        await tpms[0]!.kill(); // gone: only the second TPM can sign now
        child.kill("SIGHUP");
        for (const started = Date.now(); sessions() < 2; await new Promise((r) => setTimeout(r, 50))) {
          if (Date.now() - started > 60_000) throw new Error(`no CreateSession through the second TPM within 60 s:\n${log.join("\n")}`);
        }
        expect(log.find((l) => /configuration reloaded/.test(l))).toMatch(/kept 0, added 0, replaced 1/);
        expect(log.filter((l) => /TPM/.test(l)), log.join("\n")).toEqual([]);
        child.kill("SIGTERM");
        const [code] = (await once(child, "exit")) as [number | null];
        expect(code, log.join("\n")).toBe(0);
      } finally {
        child.kill("SIGKILL");
      }
    } finally {
      await Promise.all(tpms.map((tpm) => tpm.stop().catch(() => {})));
    }
  });
});
