/**
 * From an empty (simulated) TPM to credentials: keygen makes a TSS2 key file under the standard ECC SRK (or
 * a persistent key) → csr (openssl req -verify) → openssl CA signs → install-certificate writes it beside
 * the key → credential-process against the verifying local endpoint; with and without a key password, with
 * a PCR policy, and checked by tpm2-openssl (an independent implementation) loading and using our key files.
 * Every CLI run is its own process: swtpm serves one client at a time.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { createHash, createPublicKey } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, makeTempDir, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { expectCredentialJson, opensslSignCsr, opensslVerifyCsr, SESSION_ARGS } from "./helpers/provisioning-support.js";
import { runCli, type CliRun } from "./helpers/run-cli.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { persistSrk, transientHandles } from "./helpers/tpm-keys.js";

const PASSWORD = "dev1ce-Pässword";
const tmp = makeTempDir("raa-prov-tpm-");
let tpm: Swtpm;
let cli: { cli: string; cleanup: () => void };
let ca: CaHandle;
let endpoint: LocalEndpoint;

beforeAll(async () => {
  tpm = await startSwtpm();
  cli = await bundleCli();
  ca = createCa(join(tmp.dir, "ca"), { name: "TPM Provisioning CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
}, 120_000);

afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  await tpm?.stop();
  tmp.cleanup();
});

const agent = (args: string[]): Promise<CliRun> => {
  const env: NodeJS.ProcessEnv = { ...process.env, DEVICE_KEY_PW: PASSWORD, NODE_EXTRA_CA_CERTS: "" };
  delete env["TPM_DEVICE"];
  return runCli(cli.cli, [...args, "--tpm-device", tpm.device], env);
};
const password = ["--tpm-key-password-env", "DEVICE_KEY_PW"];

async function keygen(name: string, extra: string[]): Promise<{ keyPath: string; publicKeyPem: string }> {
  const keyPath = join(tmp.dir, `${name}.tss2`);
  const r = await agent(["keygen", "--private-key", keyPath, "--format", "json", ...extra]);
  expect(r.stderr).toMatch(/^generating an? \w+ key in the TPM( \(RSA can take a minute\))?…\n$/); // one progress line when stderr is not a terminal
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { privateKey: string; publicKey: string };
  expect(out.privateKey).toBe(keyPath);
  expect(readFileSync(keyPath, "utf8")).toMatch(/^-----BEGIN TSS2 PRIVATE KEY-----\n/);
  // Whoever can read the file can use the key on this TPM (without a password, with nothing more).
  expect(statSync(keyPath).mode & 0o777).toBe(0o600);
  return { keyPath, publicKeyPem: out.publicKey };
}

/** csr → openssl verifies → CA signs → install-certificate beside the key → credential-process. */
async function throughToCredentials(name: string, keyRef: string, keyArgs: string[]): Promise<void> {
  const csrPath = join(tmp.dir, `${name}.csr`);
  const csr = await agent(["csr", "--private-key", keyRef, ...keyArgs, "--subject", `/O=Example Corp/CN=${name}`, "--san", `URI:spiffe://example.com/device/${name}`, "--out", csrPath]);
  expect(csr.stderr).toBe("");
  expect(csr.code).toBe(0);
  expect(opensslVerifyCsr(csrPath)).toBe(`CN=${name},O=Example Corp`);
  const issued = join(tmp.dir, `${name}.issued.pem`);
  opensslSignCsr(ca, csrPath, issued);

  const certOut = keyRef.startsWith("handle:") ? ["--out", join(tmp.dir, `${name}.cert.pem`)] : [];
  // install-certificate reads the public key only (TPM2_ReadPublic for a handle): it needs no key password flag.
  const install = await agent(["install-certificate", "--private-key", keyRef, "--certificate", issued, ...certOut, ...(keyRef.startsWith("handle:") ? [] : keyArgs)]);
  expect(install.stderr).toBe("");
  expect(install.code).toBe(0);
  const certPath = install.stdout.trim();
  expect(certPath).toBe(join(tmp.dir, `${name}.cert.pem`));

  const before = endpoint.issued.length;
  const r = await agent(["credential-process", "--certificate", certPath, "--private-key", keyRef, ...keyArgs, ...SESSION_ARGS, "--endpoint", endpoint.url]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expectCredentialJson(r.stdout);
  expect(endpoint.issued.length).toBe(before + 1);
  expect(await transientHandles(tpm)).toEqual([]);
}

/** tpm2-openssl loads our key file and signs; the signature verifies with the public key keygen printed. */
async function tpm2OpensslSigns(keyPath: string, publicKeyPem: string, passin?: string): Promise<void> {
  const digest = createHash("sha256").update(`provisioning ${keyPath}`).digest();
  const dgst = join(tmp.dir, "dgst.bin");
  const sig = join(tmp.dir, "sig.bin");
  writeFileSync(dgst, digest);
  const rsa = createPublicKey(publicKeyPem).asymmetricKeyType === "rsa";
  const digestOption = rsa ? ["-pkeyopt", "digest:sha256"] : [];
  await tpm.run("openssl", [
    "pkeyutl", "-provider", "tpm2", "-provider", "default", "-sign", "-inkey", keyPath,
    ...(passin ? ["-passin", `pass:${passin}`] : []), ...digestOption, "-in", dgst, "-out", sig,
  ]);
  await tpm.flushAll();
  const pub = join(tmp.dir, "pub.pem");
  writeFileSync(pub, publicKeyPem);
  const verified = execFileSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", pub, ...digestOption, "-in", dgst, "-sigfile", sig], { encoding: "utf8" });
  expect(verified).toContain("Signature Verified Successfully");
}

describe("TSS2 key files under the standard ECC SRK", () => {
  it("EC P-256 without a password: loadable by tpm2-openssl, and through to credentials", async () => {
    const { keyPath, publicKeyPem } = await keygen("ec-nopw", ["--key-type", "p256"]);
    await tpm2OpensslSigns(keyPath, publicKeyPem);
    await throughToCredentials("ec-nopw", keyPath, []);
  });

  it("EC P-256 with a password: through to credentials; a wrong password is refused once (exit 4)", async () => {
    const { keyPath, publicKeyPem } = await keygen("ec-pw", ["--key-type", "p256", ...password]);
    expect(readFileSync(keyPath, "utf8")).not.toContain(PASSWORD);
    await throughToCredentials("ec-pw", keyPath, password);
    await tpm2OpensslSigns(keyPath, publicKeyPem, PASSWORD);
    const wrong = await runCli(cli.cli, ["sign-string", "--private-key", keyPath, "--tpm-key-password-env", "WRONG", "--tpm-device", tpm.device], { ...process.env, WRONG: "not-it" });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain("wrong TPM key password");
    expect(wrong.stderr).not.toContain("not-it");
  });

  it("RSA-2048: loadable by tpm2-openssl, and through to credentials", async () => {
    const { keyPath, publicKeyPem } = await keygen("rsa", ["--key-type", "rsa2048"]);
    expect(createPublicKey(publicKeyPem).asymmetricKeyDetails?.modulusLength).toBe(2048);
    await tpm2OpensslSigns(keyPath, publicKeyPem);
    await throughToCredentials("rsa", keyPath, []);
  });

  it("P-384 key file signs a CSR openssl accepts", async () => {
    const { keyPath, publicKeyPem } = await keygen("p384", ["--key-type", "p384"]);
    expect(createPublicKey(publicKeyPem).asymmetricKeyDetails?.namedCurve).toBe("secp384r1");
    const csr = await agent(["csr", "--private-key", keyPath, "--subject", "CN=p384", "--out", join(tmp.dir, "p384.csr")]);
    expect(csr.code).toBe(0);
    opensslVerifyCsr(join(tmp.dir, "p384.csr"));
  });

  it("will not replace an existing key file without --force", async () => {
    const keyPath = join(tmp.dir, "ec-nopw.tss2");
    const before = readFileSync(keyPath, "utf8");
    const r = await agent(["keygen", "--private-key", keyPath]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("already exists");
    expect(readFileSync(keyPath, "utf8")).toBe(before);
  });
});

describe("PCR policy", () => {
  const resetPcr = () => tpm.run("tpm2_pcrreset", ["16"]);

  it.each([
    ["without a password", [] as string[]],
    ["with a password", password],
  ])("a key bound to PCR 16 %s works until the PCR changes", async (_label, extra) => {
    await resetPcr();
    const name = `pcr-${extra.length ? "pw" : "nopw"}`;
    const { keyPath } = await keygen(name, ["--tpm-pcr", "sha256:16", ...extra]);
    await throughToCredentials(name, keyPath, extra);
    if (extra.length) {
      // The policy is PCR and password: matching PCRs alone must not open the key.
      const wrong = await runCli(cli.cli, ["sign-string", "--private-key", keyPath, "--tpm-key-password-env", "WRONG", "--tpm-device", tpm.device], { ...process.env, WRONG: "not-it" });
      expect(wrong.code).toBe(4);
      expect(wrong.stderr).toContain("wrong TPM key password");
    }

    await tpm.run("tpm2_pcrextend", [`16:sha256=${"ab".repeat(32)}`]);
    const refused = await agent(["sign-string", "--private-key", keyPath, ...extra]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/policy/i);

    await resetPcr();
    const again = await agent(["sign-string", "--private-key", keyPath, ...extra]);
    expect(again.code).toBe(0);
  });
});

describe("persistent handle", () => {
  it("keygen makes a persistent key, usable by handle; the handle is not reused", async () => {
    const handle = "handle:0x81000020";
    const r = await agent(["keygen", "--private-key", handle, "--key-type", "p256"]);
    expect(r.stderr).toBe("generating a p256 key in the TPM…\n"); // one progress line when stderr is not a terminal
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(handle);
    await throughToCredentials("persistent", handle, ["--no-tpm-key-password"]);
    const again = await agent(["keygen", "--private-key", handle]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("already has a persistent object at 0x81000020");
    const listed = await tpm.run("tpm2_getcap", ["handles-persistent"]);
    expect(listed).toContain("0x81000020");
    await tpm.flushAll();
  });
});

describe("persistent handle under a persistent parent, with an owner hierarchy password", () => {
  it("--tpm-owner-password authorizes TPM2_EvictControl; without it the TPM refuses once (exit 4)", async () => {
    await persistSrk(tpm, 0x81000002);
    const ownerFile = join(tmp.dir, "owner.pw");
    writeFileSync(ownerFile, "own3r-Pw\n", { mode: 0o600 });
    await tpm.run("tpm2_changeauth", ["-c", "owner", "own3r-Pw"]);
    try {
      const args = ["keygen", "--private-key", "handle:0x81000021", "--tpm-parent", "0x81000002"];
      const refused = await agent(args);
      expect(refused.code).toBe(4);
      expect(refused.stderr).toContain("making the key persistent at 0x81000021: the TPM refused the parent or owner password (TPM_RC_BAD_AUTH)");
      expect(refused.stderr).toContain("give it with --tpm-owner-password; it is not retried");
      const r = await agent([...args, "--tpm-owner-password", `file:${ownerFile}`]);
      expect(r.stderr).toBe("generating a p256 key in the TPM…\n");
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe("handle:0x81000021");
      expect(await tpm.run("tpm2_getcap", ["handles-persistent"])).toContain("0x81000021");
      expect(await transientHandles(tpm)).toEqual([]);
    } finally {
      await tpm.run("tpm2_changeauth", ["-c", "owner", "-p", "own3r-Pw"]);
      await tpm.flushAll();
    }
  });
});

describe("persistent handle when the TPM has no NV room left", () => {
  it("keygen says so and suggests a key file (exit 5); nothing is left loaded", async () => {
    // swtpm's NV fills after ~65 persistent copies of one primary key.
    const ctx = join(tmp.dir, "filler.ctx");
    await tpm.run("tpm2_createprimary", ["-C", "o", "-G", "ecc", "-c", ctx, "-Q"]);
    const filled: string[] = [];
    try {
      for (let i = 0; i < 256; i++) {
        const handle = `0x${(0x81000200 + i).toString(16)}`;
        const full = await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx, handle, "-Q"]).then(
          () => false,
          (e: Error) => (/insufficient space for NV allocation/.test(e.message) ? true : Promise.reject(e)),
        );
        if (full) break;
        filled.push(handle);
        await tpm.flushAll(); // each run loads the context again without a resource manager
      }
      await tpm.flushAll();
      expect(filled.length).toBeGreaterThan(0);
      const r = await agent(["keygen", "--private-key", "handle:0x81000300", "--key-type", "p256"]);
      expect(r.code).toBe(5);
      const noRoom = "the TPM has no room for another persistent object";
      expect(r.stderr).toContain(`making the key persistent at 0x81000300: ${noRoom}`);
      expect(r.stderr).toContain("use a TSS2 key file instead");
      expect(await transientHandles(tpm)).toEqual([]);
    } finally {
      for (const handle of filled) await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", handle, "-Q"]);
      await tpm.flushAll();
    }
  }, 120_000);
});

describe("a --tpm-parent that is no storage key", () => {
  it.each([
    ["a restricted signing key", "0x81000040", ["-G", "ecc256:ecdsa-sha256:null", "-a", "restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth"]],
    ["an unrestricted decryption key", "0x81000041", ["-G", "ecc256:null:null", "-a", "decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth"]],
  ])("%s is refused as a parent before anything is created under it (exit 3)", async (_, handle, template) => {
    const ctx = join(tmp.dir, `parent-${handle}.ctx`);
    await tpm.run("tpm2_createprimary", ["-C", "o", "-g", "sha256", ...template, "-c", ctx, "-Q"]);
    await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", ctx, handle, "-Q"]);
    await tpm.flushAll();
    try {
      const r = await agent(["keygen", "--private-key", join(tmp.dir, `under-${handle}.tss2`), "--tpm-parent", handle]);
      expect(r.stderr).toContain(`${handle} is not a storage key (restricted decrypt), so it cannot be a parent`);
      expect(r.code).toBe(3);
      expect(await transientHandles(tpm)).toEqual([]);
    } finally {
      await tpm.run("tpm2_evictcontrol", ["-C", "o", "-c", handle, "-Q"]);
      await tpm.flushAll();
    }
  });
});
