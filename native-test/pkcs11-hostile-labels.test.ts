/**
 * A token is a device anyone can plug in: its labels are its maker's bytes. A real SoftHSM token labelled with URI
 * delimiters and a trailing tab holds a certificate whose label spells `pin-value=` and `pin-source=`: the URI the
 * agent prints for it must name that object, for the agent and for p11-kit (p11tool), and the URI p11tool prints must
 * name it for the agent (round 30, scripts/fuzz-pkcs11-uri.mjs). Before: the agent refused its own URI (`object holds
 * pin-value=`), and found no token by p11tool's (`token=…%09`: it had trimmed the tab).
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCa, makeTempDir } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { SOFTHSM_MODULE } from "./helpers/softhsm-fixture.js";
import { runCli } from "./helpers/run-cli.js";

const TOKEN = "a;b?c=d&e%f/g\t";
const LABEL = "x?pin-value=1234;pin-source=file:/etc/shadow";
const tmp = makeTempDir("raa-hostile-labels-");
const conf = join(tmp.dir, "softhsm2.conf");
const env = { ...process.env, SOFTHSM2_CONF: conf };
let cli: { cli: string; cleanup: () => void };

beforeAll(async () => {
  mkdirSync(join(tmp.dir, "tokens"));
  writeFileSync(conf, `directories.tokendir = ${join(tmp.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  execFileSync("softhsm2-util", ["--init-token", "--free", "--label", TOKEN, "--so-pin", "12345678", "--pin", "1234"], { env, stdio: "ignore" });
  const ca = createCa(join(tmp.dir, "ca"), { name: "Hostile Labels CA" });
  const der = join(tmp.dir, "cert.der");
  writeFileSync(der, new X509Certificate(readFileSync(ca.certPath)).raw);
  execFileSync("pkcs11-tool", ["--module", SOFTHSM_MODULE, "--login", "--pin", "1234", "--write-object", der, "--type", "cert", "--label", LABEL, "--id", "3d3b"], { env, stdio: "ignore" });
  cli = await bundleCli();
});

afterAll(() => {
  cli?.cleanup();
  tmp.cleanup();
});

const listed = async (uri: string) => {
  const run = await runCli(cli.cli, ["read-certificate-data", "--certificate", uri, "--pkcs11-lib", SOFTHSM_MODULE], env);
  return { ...run, uris: [...run.stdout.matchAll(/^URI: (.*)$/gm)].map((m) => m[1]!) };
};
const p11tool = (uri: string) =>
  execFileSync("p11tool", ["--provider", SOFTHSM_MODULE, "--list-all-certs", "--only-urls", uri], { env, encoding: "utf8" }).trim().split("\n").filter(Boolean);

describe("a token whose labels spell URI delimiters and attributes", () => {
  it("is printed as a URI that names the object for the agent and for p11-kit, with nothing the labels hold as an attribute", async () => {
    const { code, uris } = await listed("pkcs11:id=%3d%3b");
    expect(code).toBe(0);
    expect(uris).toHaveLength(1);
    const printed = uris[0]!;
    expect(printed).toMatch(/^pkcs11:id=%3D%3B;manufacturer=SoftHSM%20project;model=SoftHSM%20v2;object=x%3Fpin-value%3D1234%3Bpin-source%3Dfile:%2Fetc%2Fshadow;serial=[0-9a-f]+;token=a%3Bb%3Fc%3Dd%26e%25f%2Fg%09;type=cert$/);
    expect((await listed(printed)).uris).toEqual([printed]);
    const [found, ...more] = p11tool(printed);
    expect(more).toEqual([]);
    expect(found).toContain("object=x%3Fpin-value%3D1234%3Bpin-source%3Dfile%3A%2Fetc%2Fshadow");
  });

  it("is found by the URI p11tool prints for it (its label's trailing tab kept)", async () => {
    const [fromP11tool, ...more] = p11tool("pkcs11:token=a%3Bb%3Fc%3Dd%26e%25f%2Fg%09");
    expect(more).toEqual([]);
    expect(fromP11tool).toContain("token=a%3Bb%3Fc%3Dd%26e%25f%2Fg%09");
    const { code, uris } = await listed(fromP11tool!);
    expect([code, uris.length]).toEqual([0, 1]);
  });
});
