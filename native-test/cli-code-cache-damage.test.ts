/**
 * A V8 code cache damaged in place (a disk error, an upgrade writing over it, a bit flip: same length, same first
 * line) is no cache: the launcher compiles from source and answers as usual. V8 checks a cache's header, not its
 * data: such a cache made it abort (SIGTRAP, SIGSEGV, "Invalid bytecode") before the caches had a checksum.
 * Every kind the launcher reads: the shipped one (dist/<bundle>.cache), the user's, and another Node's next to
 * the bundle. Needs `npm run build`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalEndpoint, type LocalEndpoint } from "../src/local-endpoint/server.js";
import { AGENT_FAST_PATH_FILE, CLI_BUNDLE_FILE, codeCacheFile, CREDENTIAL_PROCESS_BUNDLE_FILE } from "../src/cli/launcher/bundle-files.js";
import { createCa, issueLeaf, makeTempDir } from "../test/helpers/pki.js";

const DIST = join(process.cwd(), "dist");
const { dir, cleanup } = makeTempDir("raa-native-cache-damage-");
let endpoint: LocalEndpoint;
let credentialArgs: string[];

beforeAll(async () => {
  const ca = createCa(dir, { name: "Cache Damage CA" });
  const leaf = issueLeaf(ca, join(dir, "leaf"), { name: "cache-damage", keyType: "p256" });
  endpoint = await startLocalEndpoint({ trustAnchors: [ca.certPath], port: 0 });
  credentialArgs = [
    "credential-process", "--certificate", leaf.certPath, "--private-key", leaf.keyPath, "--endpoint", endpoint.url, "--no-agent",
    "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:trust-anchor/damage",
    "--profile-arn", "arn:aws:rolesanywhere:us-east-1:000000000000:profile/damage",
    "--role-arn", "arn:aws:iam::000000000000:role/damage",
  ];
});

afterAll(async () => {
  await endpoint?.close();
  cleanup();
});

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** `node cli.cjs args` in `install`, whatever its end (a signal too). */
function launch(install: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const fullEnv = { ...process.env, XDG_CACHE_HOME: join(install, "xdg"), XDG_RUNTIME_DIR: join(install, "no-agent"), NODE_OPTIONS: "", NODE_EXTRA_CA_CERTS: "", ...env };
  return new Promise((resolve) => {
    execFile(process.execPath, [join(install, "cli.cjs"), ...args], { env: fullEnv }, (error, stdout, stderr) => {
      const failed = error as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: failed ? (failed.code ?? null) : 0, signal: failed?.signal ?? null, stdout, stderr });
    });
  });
}

/** A copy of dist/'s launcher files, bundles and shipped caches (`launcher`: cli.cjs's text, when given). */
function install(name: string, launcher?: string): string {
  const copy = join(dir, name);
  mkdirSync(copy, { mode: 0o755 });
  for (const file of readdirSync(DIST)) if (file.endsWith(".cjs") || file.endsWith(".cache") || file === "cli.cjs" || file === "package.json") copyFileSync(join(DIST, file), join(copy, file));
  if (launcher !== undefined) writeFileSync(join(copy, "cli.cjs"), launcher);
  return copy;
}

/**
 * Damages `file` in place as a disk error would: 4 KB of it turned over, a tenth into it (past the header lines),
 * the length and the inode unchanged. Returns the inode.
 */
function damage(file: string): number {
  const data = readFileSync(file);
  const start = Math.floor(data.length / 10);
  for (let i = start; i < start + 4096; i++) data[i]! ^= 0xff;
  const before = statSync(file);
  writeFileSync(file, data);
  expect(statSync(file)).toMatchObject({ size: before.size, ino: before.ino });
  return before.ino;
}

function credentials(outcome: Outcome): { AccessKeyId: string } {
  expect({ code: outcome.code, signal: outcome.signal, stderr: outcome.stderr }).toEqual({ code: 0, signal: null, stderr: "" });
  const parsed = JSON.parse(outcome.stdout) as { Version: number; AccessKeyId: string };
  expect(parsed).toMatchObject({ Version: 1, AccessKeyId: expect.stringMatching(/^ASIA/) });
  return parsed;
}

describe("a code cache damaged in place", () => {
  it("shipped: credential-process, version and the agent fast path answer from source", async () => {
    const copy = install("shipped");
    for (const file of [CREDENTIAL_PROCESS_BUNDLE_FILE, CLI_BUNDLE_FILE, AGENT_FAST_PATH_FILE]) damage(join(copy, codeCacheFile(file)));
    credentials(await launch(copy, credentialArgs));
    const version = JSON.parse(readFileSync("package.json", "utf8")).version as string;
    expect(await launch(copy, ["version"])).toEqual({ code: 0, signal: null, stdout: `${version}\n`, stderr: "" });
    // No agent serves the profile: the fast path's documented answer, one line, exit code 7.
    const noAgent = await launch(copy, ["credential-process", "--profile", "gw", "--agent", "--agent-socket", join(dir, "none.sock")]);
    expect({ code: noAgent.code, signal: noAgent.signal }).toEqual({ code: 7, signal: null });
    expect(noAgent.stderr).toMatch(/^roles-anywhere-agent: no agent at .*none\.sock serves this role[^\n]*\n$/);
  });

  it("the user's (for a V8 flag): answers from source and writes it anew, which the next run takes", async () => {
    const copy = install("user");
    const flagged = { NODE_OPTIONS: "--max-old-space-size=1000" };
    credentials(await launch(copy, credentialArgs, flagged));
    const cacheDir = join(copy, "xdg", "roles-anywhere-agent", "code-cache");
    const [file] = readdirSync(cacheDir);
    expect(readdirSync(cacheDir)).toEqual([file]);
    const cache = join(cacheDir, file!);
    const damaged = damage(cache);
    credentials(await launch(copy, credentialArgs, flagged));
    const rewritten = statSync(cache).ino;
    expect(rewritten).not.toBe(damaged); // a new file renamed over it
    credentials(await launch(copy, credentialArgs, flagged));
    expect(statSync(cache).ino).toBe(rewritten); // taken, not written again
  });

  it("another Node's, next to the bundle: answers from source and writes it anew", async () => {
    // A launcher that takes this Node for another one than the build's (as Node 22 or 24 are for a package built
    // by Node 20): it writes and reads the cache next to the bundle.
    const launcher = readFileSync(join(DIST, "cli.cjs"), "utf8").replace(JSON.stringify(`${process.version}-${process.arch}`), JSON.stringify(`v0.0.0-${process.arch}`));
    const copy = install("other-node", launcher);
    credentials(await launch(copy, credentialArgs));
    const name = new RegExp(`^${CREDENTIAL_PROCESS_BUNDLE_FILE.replaceAll(".", "\\.")}\\.[0-9a-f]{16}\\.${process.version.replaceAll(".", "\\.")}-${process.arch}\\.cache$`);
    const [file] = readdirSync(copy).filter((f) => name.test(f));
    expect(file).toBeDefined();
    const cache = join(copy, file!);
    const damaged = damage(cache);
    credentials(await launch(copy, credentialArgs));
    const rewritten = statSync(cache).ino;
    expect(rewritten).not.toBe(damaged);
    credentials(await launch(copy, credentialArgs));
    expect(statSync(cache).ino).toBe(rewritten);
  });
});
