import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { eccSigningPublic } from "../helpers/tpm-public.js";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf } from "../helpers/pki.js";
import { runChecks } from "../../src/doctor/checks.js";
import { AgentError } from "../../src/errors.js";
import { MAX_INPUT_BYTES } from "../../src/io/read-opened-file.js";
import { encodeTss2KeyFile, type Tss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { encode } from "../../src/tpm/wire/codec.js";
import { TPMT_PUBLIC } from "../../src/tpm/wire/structures.js";

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-checks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const checksFor = (signer: Parameters<typeof signerChecks>[1]) => signerChecks(dir, signer);

describe("runChecks on a hostile private key", () => {
  it("reads the key as the signer does: a FIFO pouring out more than 16 MiB is one failed row, read once", async () => {
    const fifo = join(dir, "key-fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    // One writer, bounded: a doctor that read it all once and then again (as the signer) would wait for a second one.
    const writer = spawn("sh", ["-c", `head -c ${MAX_INPUT_BYTES + 4096} /dev/zero > ${fifo}`]);
    try {
      // A certificate that reads: the signer, which now reads a FIFO key alone, gets as far as the key.
      const { certPath } = issueLeaf(createCa(join(dir, "big-fifo-ca"), { name: "Big FIFO CA" }), join(dir, "big-fifo-leaf"), { name: "big-fifo" });
      const rows = await checksFor({ privateKey: fifo, certificate: certPath });
      const key = rows.find((r) => r.name === "key and certificate");
      expect(key).toMatchObject({ outcome: "fail", detail: `private key file ${fifo} holds more than 16 MiB` });
    } finally {
      writer.kill("SIGKILL");
    }
  }, 10_000);

  it("a regular key file of more than 16 MiB: the key row fails, once; doctor does not pass", async () => {
    // Read by doctor first (to spot a TPM key): a refusal there is the key's row, or the key is not checked at all.
    const big = join(dir, "big-key.pem");
    writeFileSync(big, "", { mode: 0o600 });
    execFileSync("truncate", ["-s", String(MAX_INPUT_BYTES + 1), big]);
    const { certPath } = issueLeaf(createCa(join(dir, "big-file-ca"), { name: "Big File CA" }), join(dir, "big-file-leaf"), { name: "big-file" });
    const rows = await checksFor({ privateKey: big, certificate: certPath });
    expect(rows.filter((r) => r.name === "key and certificate")).toMatchObject([{ outcome: "fail", detail: `private key file ${big} holds more than 16 MiB` }]);
  });
});

describe("runChecks on a key given through a FIFO", () => {
  it("reads it once, as credential-process does: the key opens (a FIFO or `<(…)` gives its bytes once)", async () => {
    // Before: doctor read the FIFO itself to spot a TPM key, then the signer waited 30 s for a second writer
    // ("✘ key and certificate … gave nothing to read, or not all of it, within 30 s").
    const { certPath, keyPath } = issueLeaf(createCa(join(dir, "fifo-ca"), { name: "FIFO CA" }), join(dir, "fifo-leaf"), { name: "fifo-device", keyType: "p256" });
    const fifo = join(dir, "good-key-fifo");
    execFileSync("mkfifo", ["-m", "600", fifo]);
    const writer = spawn("sh", ["-c", `cat ${keyPath} > ${fifo}`]);
    try {
      const rows = await checksFor({ privateKey: fifo, certificate: certPath });
      expect(rows.find((r) => r.name === "key and certificate")).toBeUndefined();
      expect(rows.find((r) => r.name === "key opens")).toMatchObject({ outcome: "pass", detail: "EC key in the file" });
      expect(rows.find((r) => r.name === "key matches certificate")).toMatchObject({ outcome: "pass" });
    } finally {
      writer.kill("SIGKILL");
    }
  }, 60_000);
});

describe("runChecks run by root", () => {
  it.runIf(process.geteuid?.() === 0)("says the files were checked as root, who reads what a service's user cannot", async () => {
    // Before: a root-only key (0600) and PIN file passed ("✔ private key file … (mode 0600)") while the service,
    // running as roles-anywhere, then could not read them (exit 3 at start, not restarted).
    const key = join(dir, "root-only-key.pem");
    writeFileSync(key, "not a key", { mode: 0o600 });
    const rows = await checksFor({ privateKey: key });
    expect(rows[0]).toMatchObject({
      name: "checked as",
      outcome: "skip",
      detail: "root, which can read files the service's user cannot",
      hint: "to check a service's setup, run doctor as its user: sudo -u roles-anywhere roles-anywhere-agent doctor …",
    });
    expect(rows.filter((r) => r.name === "checked as")).toHaveLength(1);
  });
});

describe("runChecks with a TPM device path that is no TPM", () => {
  it("a FIFO given as the TPM is a failed 'TPM reachable' row, not a reachable TPM whose key does not load", async () => {
    const fifo = join(dir, "tpm-fifo");
    execFileSync("mkfifo", [fifo]);
    const rows = await checksFor({ privateKey: "handle:0x81000101", tpm: { device: fifo, noKeyPassword: true } });
    expect(rows.find((r) => r.name === "TPM reachable")).toMatchObject({ outcome: "fail", detail: expect.stringMatching(/is a FIFO, not a TPM/) });
    expect(rows.find((r) => r.name === "TPM key loads")).toBeUndefined();
  });
});

describe("runChecks: 'TPM reachable' only when the TPM answered", () => {
  const area = encode(TPMT_PUBLIC, eccSigningPublic());
  const check = (privateKey: string, device: string) => checksFor({ privateKey, tpm: { device, noKeyPassword: true } });

  it("a key file refused before the TPM is contacted (a transient parent) says the TPM was not reached, not ok", async () => {
    // Before: "✔ TPM reachable ok" although the device, unix:/nonexistent, was never opened.
    const key = join(dir, "bad-parent.tss2");
    const pem = encodeTss2KeyFile({ parent: 0x80000001, public: { bytes: area } as Tss2KeyFile["public"], privateBlob: Buffer.from("0004deadbeef", "hex"), emptyAuth: true, policy: [] });
    writeFileSync(key, pem, { mode: 0o600 });
    const rows = await check(key, "unix:/nonexistent");
    expect(rows.find((r) => r.name === "TPM reachable")).toMatchObject({ outcome: "skip", detail: "not reached: the key was refused first" });
    expect(rows.find((r) => r.name === "TPM key loads")).toMatchObject({ outcome: "fail", detail: expect.stringMatching(/invalid parent 0x80000001/) });
  });

  it("a TPM that answers with an error code is reachable; its refusal is the key's row", async () => {
    const path = join(dir, "fake-tpm.sock");
    // Every command answered TPM_RC_HANDLE (0x8b) for handle 1: a TPM that is there but has no such object.
    const tpm = createServer((socket) => socket.on("data", () => socket.write(Buffer.from("80010000000a0000018b", "hex"))));
    await new Promise<void>((r) => tpm.listen(path, r));
    try {
      const rows = await check("handle:0x81000999", `unix:${path}`);
      expect(rows.find((r) => r.name === "TPM reachable")).toMatchObject({ outcome: "pass" });
      expect(rows.find((r) => r.name === "TPM key loads")).toMatchObject({ outcome: "fail" });
    } finally {
      await new Promise<void>((r) => tpm.close(() => r()));
    }
  });
});

describe("runChecks on a pkcs11: key whose URI gives the PIN", () => {
  it("tries the login: '&pin-source=' after another query attribute is a PIN source too", async () => {
    // Before: "– token login  not tried: no PIN source given", the URI's own PIN unseen after module-path=…&.
    const uri = `pkcs11:token=t;object=k?module-path=${join(dir, "no-module.so")}&pin-source=${join(dir, "pin")}`;
    const rows = await checksFor({ privateKey: uri });
    expect(rows.find((r) => r.name === "token login")).not.toMatchObject({ detail: "not tried: no PIN source given" });
    expect(rows.find((r) => r.name === "PKCS#11 module")).toMatchObject({ outcome: "fail" });
  });
});

describe("runChecks: an intermediates file that cannot be read", () => {
  it("fails on the intermediates row, and the PKCS#11 rows say the module's own outcome (was: its error on 'PKCS#11 module')", async () => {
    const garbage = join(dir, "garbage-chain.pem");
    writeFileSync(garbage, "not a certificate\n", { mode: 0o644 });
    const module = join(dir, "no-module.so");
    const uri = `pkcs11:token=t;object=k?module-path=${module}&pin-source=${join(dir, "pin")}`;
    for (const intermediates of [garbage, join(dir, "missing-chain.pem")]) {
      const rows = await checksFor({ privateKey: uri, intermediates });
      const named = (name: string) => rows.filter((r) => r.name === name);
      expect(named("intermediates file")).toEqual([expect.objectContaining({ outcome: "fail", detail: expect.stringContaining(intermediates) })]);
      expect(named("PKCS#11 module")).toEqual([expect.objectContaining({ outcome: "fail", detail: expect.stringContaining(module) })]);
    }
  });
});

describe("runChecks: an intermediates file that can be read", () => {
  it("its certificates complete the chain, also when another row failed (only a failed intermediates row leaves them out)", async () => {
    const root = createCa(join(dir, "chain-root"), { name: "Chain Root" });
    const issuing = createCa(join(dir, "chain-issuing"), { name: "Chain Issuing", parent: root });
    const leaf = issueLeaf(issuing, join(dir, "chain-leaf"), { name: "chain-leaf" });
    const key = (mode: number) => {
      const path = join(dir, `chain-leaf-key-${mode.toString(8)}.pem`);
      copyFileSync(leaf.keyPath, path);
      chmodSync(path, mode);
      return path;
    };
    chmodSync(leaf.certPath, 0o644);
    chmodSync(issuing.certPath, 0o644);
    for (const [mode, keyRow] of [[0o600, "pass"], [0o644, "fail"]] as const) {
      const rows = await signerChecks(dir, { privateKey: key(mode), certificate: leaf.certPath, intermediates: issuing.certPath }, root.certPath);
      const outcome = (name: string) => rows.find((r) => r.name === name)?.outcome;
      expect([outcome("private key file"), outcome("intermediates file"), outcome("certificate chain")]).toEqual([keyRow, "pass", "pass"]);
    }
  }, 30_000);
});

describe("runChecks on a pkcs11: key without a PIN source", () => {
  it("no login: a module that does not load is its row, the token not reached", async () => {
    const library = join(dir, "no-such-module.so");
    const rows = await checksFor({ privateKey: "pkcs11:token=t;object=k", pkcs11: { library } });
    const shown = rows.filter((r) => ["PKCS#11 module", "token present", "token login"].includes(r.name));
    expect(shown.map((r) => [r.name, r.outcome])).toEqual([
      ["PKCS#11 module", "fail"],
      ["token present", "skip"],
      ["token login", "skip"],
    ]);
    expect(shown[0]!.detail).toContain(library);
    expect(shown[1]!.detail).toBe("not reached");
  });
});

describe("doctor without a default agent socket", () => {
  it("shows HOME='' (and no XDG_RUNTIME_DIR) as the agent socket's failed row and goes on", async () => {
    const { main } = await import("../../src/cli/main.js");
    let stdout = "";
    let stderr = "";
    const io = {
      stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) },
      stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) },
      env: { HOME: "" },
    };
    // The home directory node:os reports comes from the process's HOME.
    vi.stubEnv("HOME", "");
    try {
      const code = await main(["doctor", "--private-key", join(dir, "missing-key.pem")], io);
      expect(stderr).toBe("");
      expect(stdout).toMatch(/^✘ agent socket +no default agent socket: HOME \(''\) is not an absolute path/m);
      expect(stdout).toMatch(/^✘ ARNs and region/m);
      // No key or certificate given is said so, not as a file named "" that does not exist.
      const none = await main(["doctor"], io);
      expect(stdout).toMatch(/^✘ key and certificate +no private key given/m);
      expect(stdout).not.toMatch(/file {2}does not exist/);
      expect(none).toBe(2);
      expect(stdout).toMatch(/\d+ passed, \d+ failed, \d+ skipped/);
      expect(code).not.toBe(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("doctor's rows", () => {
  it("are one printable line each: a line break or ESC in a path forges no row and drives no terminal", async () => {
    // Before: "✔ certificate file  …/ce" then "rt\u001b[31m.pem" on a line of its own, the terminal turned red.
    const { main } = await import("../../src/cli/main.js");
    let stdout = "";
    const io = { stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) }, stderr: { write: () => true }, env: {} };
    const certificate = join(dir, "ce\nrt\u001b[31m.pem");
    writeFileSync(certificate, "not a certificate");
    await main(["doctor", "--certificate", certificate, "--private-key", join(dir, "k.pem"), "--agent-socket", join(dir, "s\nFAKE")], io);
    expect(stdout).not.toMatch(/\u001b/);
    expect(stdout.split("\n").filter((line) => /^(rt|FAKE)/.test(line))).toEqual([]);
    expect(stdout).toContain(`${join(dir, "s FAKE")}`);
  });

  it("name where the endpoint came from: a config profile's field is not --endpoint", async () => {
    // Before: "(from --endpoint, …)" for an endpoint written in the profile, where no --endpoint was given.
    const { main } = await import("../../src/cli/main.js");
    const arns = {
      "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
      "profile-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
      "role-arn": "arn:aws:iam::111122223333:role/device",
    };
    const config = join(dir, "endpoint-config.json");
    const profile = { ...arns, "private-key": join(dir, "missing.pem"), endpoint: "http://127.0.0.1:9" };
    writeFileSync(config, JSON.stringify({ profiles: { p: profile } }), { mode: 0o600 });
    const endpointRow = async (...flags: string[]) => {
      let stdout = "";
      const io = { stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) }, stderr: { write: () => true }, env: {} };
      await main(["doctor", "--config", config, "--profile", "p", "--agent-socket", join(dir, "no.sock"), ...flags], io);
      return stdout.split("\n").find((line) => line.startsWith("✔ endpoint"));
    };
    expect(await endpointRow()).toMatch(`http://127.0.0.1:9 (from config ${config}: profile "p": field "endpoint", no proxy)`);
    expect(await endpointRow("--endpoint", "http://127.0.0.1:7")).toMatch("http://127.0.0.1:7 (from --endpoint, no proxy)");
  }, 30_000);

  // Before: doctor --profile "" checked the flags alone and said nothing of the profile.
  it.each(["--agent-socket", "--config", "--trust-anchors", "--profile"])("refuses an empty %s (an unset \"$VAR\") instead of the default", async (flag) => {
    const { main } = await import("../../src/cli/main.js");
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} };
    expect(await main(["doctor", flag, ""], io)).toBe(2);
    expect(stderr).toBe(`roles-anywhere-agent: ${flag} is empty (give a value, or leave the flag out for the default)\n`);
  });

  it("checks the agent socket the config's agent listens on for this profile, as credential-process asks it", async () => {
    // Before: "no agent socket at $XDG_RUNTIME_DIR/roles-anywhere-agent.sock" while the config's agent ran elsewhere.
    const { main } = await import("../../src/cli/main.js");
    const arns = {
      "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
      "profile-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
      "role-arn": "arn:aws:iam::111122223333:role/device",
    };
    const socket = join(dir, "config-agent", "agent.sock");
    const config = join(dir, "agent-socket-config.json");
    const profile = { ...arns, "private-key": join(dir, "missing.pem"), endpoint: "http://127.0.0.1:9" };
    writeFileSync(config, JSON.stringify({ profiles: { p: profile, q: profile }, agent: { socket, profiles: ["p"] } }), { mode: 0o600 });
    const agentRow = async (name: string) => {
      let stdout = "";
      const io = { stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) }, stderr: { write: () => true }, env: { XDG_RUNTIME_DIR: dir } };
      await main(["doctor", "--config", config, "--profile", name], io);
      return stdout.split("\n").find((line) => line.includes("agent socket"));
    };
    expect(await agentRow("p")).toMatch(`no agent socket at ${socket}`);
    expect(await agentRow("q")).toMatch(`no agent socket at ${join(dir, "roles-anywhere-agent.sock")}`);
  }, 30_000);

  // Round 31: the CLI warned (load-config.ts) while doctor's config row was a ✔ "owner and mode checked".
  it("a config whose URI holds a pin-value, readable by others: the config row is a ✘ with the warning's fix; 0600 a ✔", async () => {
    const { main } = await import("../../src/cli/main.js");
    const arns = {
      "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
      "profile-arn": "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
      "role-arn": "arn:aws:iam::111122223333:role/device",
    };
    const configRow = async (mode: number, certificate: string) => {
      const config = join(dir, `pin-value-${mode.toString(8)}-${certificate.length}.json`);
      const profile = { ...arns, certificate, "pkcs11-lib": join(dir, "no-module.so"), endpoint: "http://127.0.0.1:9" };
      writeFileSync(config, JSON.stringify({ profiles: { p: profile } }));
      chmodSync(config, mode);
      let stdout = "";
      const io = { stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) }, stderr: { write: () => true }, env: {} };
      await main(["doctor", "--config", config, "--profile", "p", "--agent-socket", join(dir, "no.sock")], io);
      const lines = stdout.split("\n");
      const at = lines.findIndex((line) => line.includes(" config file "));
      return { config, row: lines.slice(at, at + 2).join("\n").replace(/ +/g, " ") };
    };
    const withPin = "pkcs11:token=t;object=k?pin-value=1234";
    let { config, row } = await configRow(0o644, withPin);
    expect(row).toBe(`✘ config file ${config} can be read or changed by other users (mode 644): it holds a pin-value\n → run: chmod 600 ${config}`);
    ({ config, row } = await configRow(0o600, withPin));
    expect(row).toMatch(`✔ config file ${config} (owner and mode checked)`);
    ({ config, row } = await configRow(0o644, "pkcs11:token=t;object=k"));
    expect(row).toMatch(`✔ config file ${config} (owner and mode checked)`);
  }, 30_000);

  it("refuses a relative --agent-socket as credential-process and agent do (usage, one line)", async () => {
    // Before: "no agent socket at rel.sock" and exit 0, while the agent and its clients refuse that path.
    const { main } = await import("../../src/cli/main.js");
    let [stdout, stderr] = ["", ""];
    const io = {
      stdout: { write: (t: string | Uint8Array) => ((stdout += String(t)), true) },
      stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) },
      env: {},
    };
    expect(await main(["doctor", "--agent-socket", "rel.sock"], io)).toBe(2);
    expect(stderr).toBe("roles-anywhere-agent: the agent socket path rel.sock is relative: from another working directory it names "
      + "another file (give the absolute path of the socket file, e.g. $XDG_RUNTIME_DIR/agent.sock)\n");
    expect(stdout).toBe("");
  });
});

describe("runChecks on a certificate out of its dates by this machine's clock", () => {
  it("the chain row names the clock too, not only the certificate", async () => {
    // Before: "✘ certificate chain  Signing certificate is not yet valid (valid from …)" with no hint at all.
    const ca = createCa(join(dir, "dates-ca"), { name: "Dates CA" });
    const leaf = issueLeaf(ca, dir, { name: "dates-leaf", notBefore: new Date(Date.now() + 3 * 86_400_000) });
    const rows = await runChecks(
      {
        signer: { certificate: leaf.certPath, privateKey: leaf.keyPath },
        session: new AgentError("INPUT_MISSING", "no ARNs in this test"),
        endpoint: {},
        trustAnchors: ca.certPath,
        agentSocket: join(dir, "no-agent.sock"),
        createSession: false,
        warningDays: 30,
        env: {},
      },
      () => undefined,
    );
    expect(rows.find((r) => r.name === "certificate chain")).toMatchObject({
      outcome: "fail",
      detail: expect.stringMatching(/^Signing certificate is not yet valid/),
      hint: expect.stringMatching(/^by this machine's clock \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): check it \(date -u, NTP\)/),
    });
  }, 30_000);
});
