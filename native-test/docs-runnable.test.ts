/**
 * The shell blocks of README.md and docs/*.md marked runnable (an info string of `sh runnable`) run as
 * written, in a sandbox: `roles-anywhere-agent` on PATH (the built CLI), AWS_ENDPOINT_URL_ROLESANYWHERE at
 * the verifying local endpoint, and in the working directory a CA (ca.pem), a device certificate and key
 * (cert.pem, key.pem), the SoftHSM test token (SOFTHSM2_CONF) and its PIN in token-pin. Blocks of one file
 * run in order in the same directory, so a later block may use what an earlier one made. A block fails the
 * test when it exits non-zero, so the docs cannot drift from what the CLI does.
 */
import { execFile } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";
import { DIST_CLI } from "./helpers/run-cli.js";
import { createSoftHsmFixture, type SoftHsmFixture } from "./helpers/softhsm-fixture.js";

const execFileAsync = promisify(execFile);

interface RunnableBlock {
  readonly file: string;
  readonly line: number;
  readonly script: string;
}

/** Every ```sh runnable (or ```bash runnable) block, with the line it starts on. */
function runnableBlocks(file: string, text: string): RunnableBlock[] {
  const blocks: RunnableBlock[] = [];
  const re = /^```(?:sh|bash) runnable\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    blocks.push({ file, line: text.slice(0, m.index).split("\n").length, script: m[1]! });
  }
  return blocks;
}

const files = ["README.md", ...readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
const byFile = files.map((file) => ({ file, blocks: runnableBlocks(file, readFileSync(file, "utf8")) })).filter((f) => f.blocks.length > 0);

const { dir, cleanup } = makeTempDir("raa-docs-");
let endpoint: LocalEndpoint;
let hsm: SoftHsmFixture;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  hsm = createSoftHsmFixture("raa-docs-hsm-");
  const ca = createCa(join(dir, "pki"), { name: "Docs Example CA" });
  const device = issueLeaf(ca, join(dir, "pki"), { name: "gateway-0042", keyType: "p256" });
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "roles-anywhere-agent"), `#!/bin/sh\nexec "${process.execPath}" "${DIST_CLI}" "$@"\n`, { mode: 0o755 });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath, hsm.file("ca.pem")], port: 0, region: "us-east-1" });
  env = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: join(dir, "home"),
    XDG_RUNTIME_DIR: join(dir, "run"),
    LANG: "C.UTF-8",
    CI: "true",
    SOFTHSM2_CONF: hsm.conf,
    AWS_ENDPOINT_URL_ROLESANYWHERE: endpoint.url,
    SOFTHSM_CA: hsm.file("ca.pem"),
    CA_KEY: ca.keyPath,
  };
  mkdirSync(env.HOME!, { mode: 0o700 });
  mkdirSync(env.XDG_RUNTIME_DIR!, { mode: 0o700 });
  for (const { file } of byFile) {
    const work = workDir(file);
    mkdirSync(work, { recursive: true });
    copyFileSync(ca.certPath, join(work, "ca.pem"));
    copyFileSync(device.certPath, join(work, "cert.pem"));
    copyFileSync(device.keyPath, join(work, "key.pem"));
    chmodSync(join(work, "key.pem"), 0o600);
    writeFileSync(join(work, "token-pin"), `${hsm.pin}\n`, { mode: 0o600 });
  }
}, 60_000);

afterAll(async () => {
  await endpoint?.close();
  hsm?.cleanup();
  cleanup();
});

function workDir(file: string): string {
  return join(dir, "work", file.replace(/[^A-Za-z0-9.]/g, "_"));
}

describe("runnable shell blocks in the docs", () => {
  it("exist (the marker cannot silently disappear)", () => {
    expect(byFile.map((f) => f.file).sort()).toEqual(expect.arrayContaining(["README.md", "docs/provisioning.md", "docs/troubleshooting.md"]));
    expect(byFile.flatMap((f) => f.blocks).length).toBeGreaterThanOrEqual(5);
  });

  for (const { file, blocks } of byFile) {
    it(`${file}: ${blocks.length} block(s) run as written`, async () => {
      for (const block of blocks) {
        const where = `${block.file}:${block.line}`;
        const run = await execFileAsync("bash", ["-euo", "pipefail", "-c", block.script], { cwd: workDir(file), env, encoding: "utf8", timeout: 120_000 }).then(
          (r) => ({ code: 0, ...r }),
          (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" }),
        );
        expect(run.code, `${where} failed:\n${block.script}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`).toBe(0);
      }
    }, 300_000);
  }
});
