/**
 * A config profile's `"tpm-parent-password": "prompt"` asks on the terminal, as `--tpm-parent-password prompt` does
 * (script(1), real swtpm, a key file under a persistent parent with a password, the verifying local endpoint): asked
 * once, and the key loads. Before round 31 the config read `prompt` as no parent password: nothing was asked and the
 * TPM refused the empty one (TPM_AUTH_FAILED). Without a terminal: the one-line "no terminal to ask on" error, and
 * nothing presented to the TPM.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir, type CaHandle } from "../test/helpers/pki.js";
import { bundleCli } from "./agent-support.js";
import { runCli } from "./helpers/run-cli.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";
import { encodeObject, persistSrk } from "./helpers/tpm-keys.js";

const PROMPT = "TPM parent password: ";
const PARENT_PASSWORD = "parent-typed-pw";
const PARENT = 0x81000002;
const { dir, cleanup } = makeTempDir("raa-native-config-parent-");
let cli: { cli: string; cleanup: () => void };
let endpoint: LocalEndpoint;
let tpm: Swtpm;
let ca: CaHandle;
let config: string;

beforeAll(async () => {
  cli = await bundleCli();
  ca = createCa(join(dir, "ca"), { name: "Parent Prompt CA" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0, region: "us-east-1" });
  tpm = await startSwtpm();
  await persistSrk(tpm, PARENT, { password: PARENT_PASSWORD });
  // The leaf's own key imported under that parent (no key password), written as a TSS2 key file.
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "parent-prompt" });
  const [pub, priv] = ["tpub", "tpriv"].map((x) => join(tpm.dir, `leaf.${x}`));
  await tpm.run("tpm2_import", ["-C", `0x${PARENT.toString(16)}`, "-P", PARENT_PASSWORD, "-G", "ecc", "-i", leaf.keyPath, "-u", pub!, "-r", priv!, "-a", "userwithauth|sign", "-Q"]);
  await tpm.flushAll();
  const keyFile = join(dir, "leaf.tss2.pem");
  writeFileSync(keyFile, await encodeObject(tpm, "leaf", { pub: pub!, priv: priv! }, PARENT, false));
  config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ version: 1, profiles: { tpm: {
    certificate: leaf.certPath, "private-key": keyFile, "tpm-device": tpm.device, endpoint: endpoint.url,
    "no-tpm-key-password": true, "tpm-parent-password": "prompt",
    "trust-anchor-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/parent",
    "profile-arn": "arn:aws:rolesanywhere:us-east-1:000000000000:profile/parent",
    "role-arn": "arn:aws:iam::000000000000:role/parent",
  } } }), { mode: 0o600 });
}, 120_000);
afterAll(async () => {
  await tpm?.stop();
  await endpoint?.close();
  cli?.cleanup();
  cleanup();
});

const args = () => ["credential-process", "--config", config, "--profile", "tpm"];
const env = () => ({ ...process.env, CI: "", TERM: "dumb", HOME: dir, XDG_RUNTIME_DIR: "/nonexistent" });

describe('a config\'s "tpm-parent-password": "prompt"', () => {
  it("on a terminal: asked once, and the key under that parent signs", async () => {
    const command = [process.execPath, cli.cli, ...args()].map((a) => `'${a}'`).join(" ");
    const child = spawn("script", ["-qec", command, "/dev/null"], { env: env(), stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let answered = 0;
    const prompts = () => out.split(PROMPT).length - 1;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      for (; answered < prompts(); answered++) child.stdin.write(`${PARENT_PASSWORD}\n`);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    clearTimeout(timer);
    expect(code, out).toBe(0); // before: 4, TPM_AUTH_FAILED on the empty parent password
    expect(prompts(), out).toBe(1); // before: 0
    expect(out).toContain('"AccessKeyId"');
    expect(out).not.toContain(PARENT_PASSWORD);
  }, 90_000);

  it("without a terminal: the one-line 'no terminal to ask on' error, never an empty password", async () => {
    const run = await runCli(cli.cli, args(), env());
    expect(run.code, run.stderr).toBe(3);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("TPM parent password is needed but there is no terminal to ask on");
  }, 90_000);
});
