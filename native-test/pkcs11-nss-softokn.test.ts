/**
 * NSS's softoken through the p11-kit proxy (a module file with `x-init-reserved: configdir='sql:…'`, seen
 * only inside a private mount namespace): the provisioning guide end to end for EC and RSA keys, the
 * generated keys' attributes as pkcs11-tool reads them, and a wrong PIN reported once.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { createNssSoftokn, type NssSoftokn } from "./helpers/nss-softokn.js";
import { SESSION_ARGS } from "./helpers/provisioning-support.js";
import { runCli } from "./helpers/run-cli.js";
import { describedByPkcs11Tool, expectCredentials, provisionOnToken, type TokenCli } from "./helpers/token-provisioning.js";

let nss: NssSoftokn;
let ca: CaHandle;
let endpoint: LocalEndpoint;
let cli: { cli: string; cleanup: () => void };
let tokenCli: TokenCli;
const tokenUri = () => `pkcs11:token=${encodeURIComponent(nss.token)}`;

beforeAll(async () => {
  nss = createNssSoftokn();
  ca = createCa(join(nss.dir, "ca"), { name: "NSS Device CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  cli = await bundleCli();
  const pinFile = nss.pinFile();
  tokenCli = { run: (args) => agent([...args, "--pkcs11-lib", nss.module, "--pkcs11-pin-file", pinFile]) };
});

const agent = (args: string[]) => runCli(cli.cli, args, nss.env, 90_000, nss.launcher);

afterAll(async () => {
  await endpoint?.close();
  cli?.cleanup();
  nss?.cleanup();
});

describe("NSS softokn via p11-kit: keygen → csr → CA → install-certificate → credential-process", () => {
  it.each([
    ["p256", "e5"],
    ["rsa2048", "a7"],
  ])("%s", async (keyType, id) => {
    const label = `device-${keyType}`;
    const { uri } = await provisionOnToken(tokenCli, { keyUri: `${tokenUri()};object=${label}`, keyType, id, ca, dir: nss.dir });

    const listing = await nss.run("pkcs11-tool", ["--module", nss.module, "--token-label", nss.token, "--login", "--pin", nss.pin, "--list-objects", "--type", "privkey"]);
    const described = describedByPkcs11Tool(listing, label);
    expect(described.usage).toBe("sign");
    expect(described.access).toMatch(/^sensitive, always sensitive, never extractable/);

    await expectCredentials(tokenCli, uri, endpoint);
  });
});

describe("NSS softokn via p11-kit: a wrong PIN", () => {
  it("is presented once and reported with exit 4", async () => {
    const bad = nss.pinFile("wrong-nss-pin");
    const r = await agent(["credential-process", "--certificate", `${tokenUri()};object=device-p256`, "--pkcs11-lib", nss.module, "--pkcs11-pin-file", bad, ...SESSION_ARGS, "--endpoint", endpoint.url]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain("CKR_PIN_INCORRECT");
    expect(r.stderr).not.toContain("wrong-nss-pin");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
