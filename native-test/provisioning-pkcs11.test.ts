/**
 * From an empty SoftHSM token to credentials, as the provisioning guide does it: keygen on the token →
 * csr (checked by openssl req -verify) → openssl CA signs → install-certificate → credential-process with
 * one pkcs11: URI against the verifying local endpoint. The generated keys are then shown to be
 * non-extractable with raw pkcs11js calls (no code of ours involved in that check).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkcs11js from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { SOFTHSM_MODULE, WRONG_PIN } from "./helpers/softhsm-fixture.js";
import { expectCredentialJson, opensslSignCsr, opensslVerifyCsr, SESSION_ARGS } from "./helpers/provisioning-support.js";
import { runCli, type CliRun } from "./helpers/run-cli.js";

const TOKEN = "provisioning";
const PIN = "24680";
const tmp = makeTempDir("raa-prov-p11-");
const conf = join(tmp.dir, "softhsm2.conf");
let root: CaHandle;
let intermediate: CaHandle;
let endpoint: LocalEndpoint;
let cli: { cli: string; cleanup: () => void };
let pinFile: string;

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", TOKEN, "--so-pin", "12345678", "--pin", PIN], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    stdio: "ignore",
  });
  pinFile = join(tmp.dir, "pin");
  writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
  root = createCa(join(tmp.dir, "ca"), { name: "Provisioning Root CA" });
  intermediate = createCa(join(tmp.dir, "ca"), { name: "Provisioning Device CA", parent: root });
  endpoint = await startLocalEndpoint({ trustAnchors: [root.certPath], port: 0, region: "us-east-1" });
  cli = await bundleCli();
});

afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  tmp.cleanup();
});

const lib = ["--pkcs11-lib", SOFTHSM_MODULE];
const pin = () => ["--pkcs11-pin-file", pinFile];
const agent = (args: string[]): Promise<CliRun> => runCli(cli.cli, args, { ...process.env, SOFTHSM2_CONF: conf, NODE_EXTRA_CA_CERTS: "" });

interface Provisioned {
  uri: string;
  csrSubject: string;
}

/** The whole guide for one key type; the certificate comes from `ca` (with `ca`'s chain installed too). */
async function provision(keyType: string, label: string, id: string, ca: CaHandle): Promise<Provisioned> {
  const keygen = await agent(["keygen", "--private-key", `pkcs11:token=${TOKEN};object=${label}`, "--id", id, "--key-type", keyType, ...lib, ...pin()]);
  expect(keygen.stderr).toMatch(/^generating an? \w+ key on the token…\n$/); // one progress line when stderr is not a terminal
  expect(keygen.code).toBe(0);
  const uri = keygen.stdout.trim();
  expect(uri).toMatch(new RegExp(`^pkcs11:id=%${id};object=${label};serial=[0-9a-f]+;token=${TOKEN}$`, "i"));

  const csrPath = join(tmp.dir, `${label}.csr`);
  const csr = await agent(["csr", "--private-key", uri, "--subject", `/O=Example Corp/OU=Devices/CN=${label}`, "--san", `DNS:${label}.devices.example.com`, "--out", csrPath, ...lib, ...pin()]);
  expect(csr.stderr).toBe("");
  expect(csr.code).toBe(0);
  const csrSubject = opensslVerifyCsr(csrPath);

  const certPath = join(tmp.dir, `${label}.pem`);
  opensslSignCsr(ca, csrPath, certPath);
  const install = await agent([
    "install-certificate", "--private-key", uri, "--certificate", certPath,
    ...(ca === root ? [] : ["--intermediates", ca.certPath]), ...lib, ...pin(),
  ]);
  expect(install.stderr).toBe("");
  expect(install.code).toBe(0);
  expect(install.stdout.trim()).toBe(uri);
  return { uri, csrSubject };
}

async function expectCredentials(uri: string): Promise<void> {
  const before = endpoint.issued.length;
  // One URI names the certificate and the key; the chain (if any) comes from the token.
  const r = await agent(["credential-process", "--certificate", uri, ...lib, ...pin(), ...SESSION_ARGS, "--endpoint", endpoint.url]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expectCredentialJson(r.stdout);
  expect(endpoint.issued.length).toBe(before + 1);
}

describe("SoftHSM: keygen → csr → CA → install-certificate → credential-process", () => {
  it("RSA-2048, certificate from the root CA", async () => {
    const p = await provision("rsa2048", "device-rsa", "a1", root);
    expect(p.csrSubject).toBe("CN=device-rsa,OU=Devices,O=Example Corp");
    await expectCredentials(p.uri);
  });

  it("EC P-256, certificate from an intermediate CA installed on the token as its chain", async () => {
    const p = await provision("p256", "device-ec", "b2", intermediate);
    await expectCredentials(p.uri);
  });

  it("RSA-3072 and P-384 keys are generated as asked", async () => {
    for (const [keyType, label] of [["rsa3072", "device-rsa3072"], ["p384", "device-p384"]] as const) {
      const r = await agent(["keygen", "--private-key", `pkcs11:token=${TOKEN};object=${label}`, "--key-type", keyType, "--format", "json", ...lib, ...pin()]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { privateKey: string; publicKey: string };
      const text = execFileSync("openssl", ["pkey", "-pubin", "-noout", "-text"], { input: out.publicKey, encoding: "utf8" });
      expect(text).toContain(keyType === "rsa3072" ? "Public-Key: (3072 bit)" : "NIST CURVE: P-384");
      const csrPath = join(tmp.dir, `${label}.csr`);
      expect((await agent(["csr", "--private-key", out.privateKey, "--subject", `CN=${label}`, "--out", csrPath, ...lib, ...pin()])).code).toBe(0);
      opensslVerifyCsr(csrPath);
    }
  });
});

describe("principal-tags --certificate pkcs11:…", () => {
  it("reads the tags of the one certificate the URI names; none or several matching are refused", async () => {
    const tagsOf = (uri: string, ...more: string[]) => agent(["principal-tags", "--certificate", uri, ...more, ...lib]);
    const one = await tagsOf(`pkcs11:token=${TOKEN};object=device-rsa`, "--format", "json");
    expect(one.stderr).toBe("");
    expect(one.code).toBe(0);
    const report = JSON.parse(one.stdout) as { tags: Array<{ key: string; value: string }> };
    const tags = report.tags.map((t) => `${t.key}=${t.value}`);
    expect(tags).toEqual(expect.arrayContaining(["x509Subject/CN=device-rsa", "x509Issuer/CN=Provisioning Root CA"]));

    const none = await tagsOf(`pkcs11:token=${TOKEN};object=no-such-cert`);
    expect([none.code, none.stdout]).toEqual([3, ""]);
    const noMatch = `no certificate matches pkcs11:token=${TOKEN};object=no-such-cert`;
    expect(none.stderr).toBe(`roles-anywhere-agent: ${noMatch}\n`);

    // device-rsa's and device-ec's certificates, and device-ec's intermediate CA installed as its chain.
    const several = await tagsOf(`pkcs11:token=${TOKEN};type=cert`);
    expect([several.code, several.stdout]).toEqual([3, ""]);
    const hint = "make the URI more specific, e.g. pkcs11:id=";
    expect(several.stderr).toMatch(`: 3 certificates match pkcs11:token=${TOKEN};type=cert (${hint}`);
    expect(several.stderr).toMatch(/^roles-anywhere-agent: /);
  });
});

describe("refusals", () => {
  it("keygen will not reuse a label or an id", async () => {
    const label = await agent(["keygen", "--private-key", `pkcs11:token=${TOKEN};object=device-rsa`, "--id", "ff", ...lib, ...pin()]);
    expect(label.code).toBe(3);
    expect(label.stderr).toContain('already has objects with label "device-rsa"');
    const id = await agent(["keygen", "--private-key", `pkcs11:token=${TOKEN};object=fresh;id=%a1`, ...lib, ...pin()]);
    expect(id.code).toBe(3);
    expect(id.stderr).toContain("id a1");
  });

  it("keygen run several times at once with one label: at most one key pair, the others one line each", async () => {
    // Before: each process checked the label, then generated: two or three key pairs labelled alike, all "made".
    // SoftHSM itself, read by one process while another writes the token, may fail a run (no token, C_Login
    // CKR_GENERAL_ERROR): exit 5, one line.
    for (const round of [1, 2, 3, 4, 5]) {
      const label = `twin-${round}`;
      const runs = await Promise.all([1, 2, 3, 4].map(() => agent(["keygen", "--private-key", `pkcs11:token=${TOKEN};object=${label}`, ...lib, ...pin()])));
      const made = runs.filter((r) => r.code === 0).map((r) => r.stdout.trim());
      for (const r of runs.filter((r) => r.code !== 0)) {
        expect([3, 5], r.stderr).toContain(r.code);
        expect(r.stderr).toMatch(/^generating a p256 key on the token…\nroles-anywhere-agent: [^\n]+\n$/);
        if (r.code === 3) expect(r.stderr).toMatch(new RegExp(`(already has objects with|got other objects with) label "${label}"`));
      }
      const listing = execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", TOKEN, "--login", "--pin", PIN, "-O", "--type", "privkey"], {
        env: { ...process.env, SOFTHSM2_CONF: conf },
        encoding: "utf8",
      });
      const keys = listing.split("\n").filter((line) => new RegExp(`^\\s*label:\\s*${label}$`).test(line)).length;
      expect({ round, keys: Math.min(keys, 2), made: made.length }).toEqual({ round, keys: Math.min(keys, 1), made: Math.min(made.length, keys) });
    }
  });

  it("install-certificate run several times at once: the key keeps its certificate and stays usable", async () => {
    // Before: each process looked, found none and stored its own: three identical certificates with the key's id,
    // and credential-process then failed with "matches 3 certificates" whose URIs were all the same.
    const certs = (label: string) => {
      const listing = execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", TOKEN, "--login", "--pin", PIN, "-O", "--type", "cert"], {
        env: { ...process.env, SOFTHSM2_CONF: conf },
        encoding: "utf8",
      });
      return listing.split("\n").filter((line) => new RegExp(`^\\s*label:\\s*${label}$`).test(line)).length;
    };
    for (const round of [1, 2, 3, 4]) {
      const label = `shared-${round}`;
      const keygen = await agent(["keygen", "--private-key", `pkcs11:token=${TOKEN};object=${label}`, ...lib, ...pin()]);
      const uri = keygen.stdout.trim();
      const csrPath = join(tmp.dir, `${label}.csr`);
      expect((await agent(["csr", "--private-key", uri, "--subject", `/CN=${label}`, "--out", csrPath, ...lib, ...pin()])).code).toBe(0);
      const certPath = join(tmp.dir, `${label}.pem`);
      opensslSignCsr(root, csrPath, certPath);
      const runs = await Promise.all([1, 2, 3, 4].map(() => agent(["install-certificate", "--private-key", uri, "--certificate", certPath, ...lib, ...pin()])));
      for (const r of runs) {
        if (r.code === 0) expect(r.stdout.trim()).toBe(uri);
        else expect(r.stderr, `exit ${r.code}`).toMatch(/^roles-anywhere-agent: [^\n]+\n$/);
      }
      // Each process looks again after storing and removes its copy when it sees another; SoftHSM shows a process
      // another's new object late, so two copies may stay (about one round in eight). Copies of one certificate are one to
      // the signer: the key stays usable, which is what a user needs.
      const said = runs.map((r) => `exit ${r.code}: ${r.stderr.trim()}`).join("\n");
      expect(certs(label), said).toBeGreaterThanOrEqual(1);
      await expectCredentials(`pkcs11:token=${TOKEN};object=${label}`);
    }
    // A second copy written by another tool, with the key's id: still one certificate to the signer.
    const der = join(tmp.dir, "shared-4.der");
    execFileSync("openssl", ["x509", "-in", join(tmp.dir, "shared-4.pem"), "-outform", "DER", "-out", der]);
    const listing = execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", TOKEN, "--login", "--pin", PIN, "-O", "--type", "cert"], {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      encoding: "utf8",
    });
    // The listing holds every certificate (pkcs11-tool -O does not filter by label): the block of ours gives the id.
    const block = listing.split(/\n(?=\S)/).find((b) => /^\s*label:\s*shared-4$/m.test(b))!;
    const id = block.match(/^\s*ID:\s*([0-9a-f]+)$/m)![1]!;
    execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--token-label", TOKEN, "--login", "--pin", PIN, "--write-object", der, "--type", "cert", "--id", id, "--label", "shared-4"], {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      stdio: "ignore",
    });
    expect(certs("shared-4")).toBeGreaterThanOrEqual(2);
    await expectCredentials(`pkcs11:token=${TOKEN};object=shared-4`);
  });

  it("install-certificate refuses a certificate for another key, and a second certificate without --replace", async () => {
    const other = issueLeaf(root, join(tmp.dir, "other"), { name: "other-device" });
    const wrong = await agent(["install-certificate", "--private-key", `pkcs11:token=${TOKEN};object=device-ec`, "--certificate", other.certPath, ...lib, ...pin()]);
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain("is not for the key");

    const csrPath = join(tmp.dir, "renew.csr");
    expect((await agent(["csr", "--private-key", `pkcs11:token=${TOKEN};object=device-ec`, "--subject", "/CN=device-ec", "--out", csrPath, ...lib, ...pin()])).code).toBe(0);
    const renewed = join(tmp.dir, "renewed.pem");
    opensslSignCsr(intermediate, csrPath, renewed);
    const args = ["install-certificate", "--private-key", `pkcs11:token=${TOKEN};object=device-ec`, "--certificate", renewed, ...lib, ...pin()];
    const refused = await agent(args);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain("--replace");
    const replaced = await agent([...args, "--replace"]);
    expect(replaced.code).toBe(0);
    await expectCredentials(replaced.stdout.trim());
    const again = await agent([...args, "--replace"]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("already on the token");
  });

  it("a wrong PIN is presented once and reported (exit 4)", async () => {
    const bad = join(tmp.dir, "bad-pin");
    writeFileSync(bad, `${WRONG_PIN}\n`);
    const r = await agent(["keygen", "--private-key", `pkcs11:token=${TOKEN};object=never`, ...lib, "--pkcs11-pin-file", bad]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("CKR_PIN_INCORRECT");
    expect(r.stderr).not.toContain(WRONG_PIN);
  });
});

describe("the generated private keys cannot leave the token", () => {
  const CKA_CLASS = 0x0, CKA_LABEL = 0x3, CKA_VALUE = 0x11, CKA_PRIVATE_EXPONENT = 0x123;
  const CKA_SENSITIVE = 0x103, CKA_EXTRACTABLE = 0x162, CKA_ALWAYS_SENSITIVE = 0x165, CKA_NEVER_EXTRACTABLE = 0x164;
  const CKO_PRIVATE_KEY = 3;

  it.each([
    ["device-rsa", CKA_PRIVATE_EXPONENT],
    ["device-ec", CKA_VALUE],
    ["device-p384", CKA_VALUE],
    ["device-rsa3072", CKA_PRIVATE_EXPONENT],
  ])("%s: secret attribute refused with CKR_ATTRIBUTE_SENSITIVE", (label, secretAttribute) => {
    process.env["SOFTHSM2_CONF"] = conf;
    const p11 = new pkcs11js.PKCS11();
    p11.load(SOFTHSM_MODULE);
    p11.C_Initialize();
    try {
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === TOKEN)!;
      const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      p11.C_Login(session, pkcs11js.CKU_USER, PIN);
      p11.C_FindObjectsInit(session, [{ type: CKA_CLASS, value: CKO_PRIVATE_KEY }, { type: CKA_LABEL, value: label }]);
      const [key] = p11.C_FindObjects(session, 2);
      p11.C_FindObjectsFinal(session);
      expect(key).toBeDefined();
      const flags = p11.C_GetAttributeValue(session, key!, [
        { type: CKA_SENSITIVE }, { type: CKA_EXTRACTABLE }, { type: CKA_ALWAYS_SENSITIVE }, { type: CKA_NEVER_EXTRACTABLE },
      ]).map((a) => (a.value as Buffer)[0]);
      expect(flags).toEqual([1, 0, 1, 1]);
      let refused: unknown;
      try {
        p11.C_GetAttributeValue(session, key!, [{ type: secretAttribute }]);
      } catch (error) {
        refused = error;
      }
      expect(String(refused)).toMatch(/CKR_ATTRIBUTE_SENSITIVE/);
      p11.C_Logout(session);
      p11.C_CloseSession(session);
    } finally {
      p11.C_Finalize();
    }
  });
});
