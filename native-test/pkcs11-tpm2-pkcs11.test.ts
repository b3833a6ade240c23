/**
 * tpm2-pkcs11 (Debian's libtpm2-pkcs11-1) on a private swtpm through tpm2-abrmd: the provisioning guide end
 * to end for EC and RSA keys, the generated keys' attributes as pkcs11-tool reads them, and a wrong PIN
 * presented once (the TPM's own lockout counter is the judge).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { SESSION_ARGS } from "./helpers/provisioning-support.js";
import { runCli } from "./helpers/run-cli.js";
import { describedByPkcs11Tool, expectCredentials, provisionOnToken, withoutModuleLog, type TokenCli } from "./helpers/token-provisioning.js";
import { startTpm2Pkcs11Token, type Tpm2Pkcs11Token } from "./helpers/tpm2-pkcs11-token.js";

let token: Tpm2Pkcs11Token;
let ca: CaHandle;
let endpoint: LocalEndpoint;
let cli: { cli: string; cleanup: () => void };
let tokenCli: TokenCli;

beforeAll(async () => {
  token = await startTpm2Pkcs11Token();
  ca = createCa(join(token.dir, "ca"), { name: "tpm2-pkcs11 Device CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  cli = await bundleCli();
  const pinFile = token.pinFile();
  tokenCli = { run: (args) => agent([...args, "--pkcs11-lib", token.module, "--pkcs11-pin-file", pinFile]) };
});

/** tpm2-pkcs11 logs refusals on stderr (`ERROR: …`, also when keygen's strictest template is refused). */
const agent = async (args: string[]) => withoutModuleLog(await runCli(cli.cli, args, token.env), /^(ERROR|WARNING):/);

afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  await token?.stop();
});

describe("tpm2-pkcs11: keygen → csr → CA → install-certificate → credential-process", () => {
  it.each([
    ["p256", "c1"],
    ["rsa2048", "a2"],
  ])("%s", async (keyType, id) => {
    const label = `device-${keyType}`;
    const { uri } = await provisionOnToken(tokenCli, { keyUri: `pkcs11:token=${token.label};object=${label}`, keyType, id, ca, dir: token.dir });

    // The module's own account of the key: sign-only, never extractable (tpm2-pkcs11 makes sign+decrypt keys
    // unless the template says otherwise).
    const listing = await token.run("pkcs11-tool", ["--module", token.module, "--token-label", token.label, "--login", "--pin", token.userPin, "--list-objects", "--type", "privkey"]);
    const described = describedByPkcs11Tool(listing, label);
    expect(described.usage).toBe("sign");
    expect(described.access).toMatch(/^sensitive, always sensitive, never extractable/);

    await expectCredentials(tokenCli, uri, endpoint);
  });
});

describe("tpm2-pkcs11: a wrong PIN", () => {
  it("is presented once and reported with exit 4; the TPM counts exactly one failed authorisation", async () => {
    const before = await token.lockoutCounter();
    const bad = token.pinFile("wrong-pin-9");
    const r = await agent(["credential-process", "--certificate", `pkcs11:token=${token.label};object=device-p256`, "--pkcs11-lib", token.module, "--pkcs11-pin-file", bad, ...SESSION_ARGS, "--endpoint", endpoint.url]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("CKR_PIN_INCORRECT");
    expect(r.stderr).not.toContain("wrong-pin-9");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(await token.lockoutCounter()).toBe(before + 1);
  });
});
