/** The CLI program's process (src/cli/bin.ts) around main(), bundled with a stand-in main(). */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/pki.js";

const tmp = makeTempDir("raa-bin-");
afterAll(() => tmp.cleanup());

/** The credential-process bundle's entry, run as the launcher runs it. */
const CREDENTIAL_PROCESS_ENTRY = `
import { runCredentialProcess } from "./src/cli/launcher/credential-process-entry.ts";
runCredentialProcess(process.argv.slice(2), process.env).then((code) => code !== undefined && process.exit(code));
`;

/** src/cli/bin.ts (or the credential-process entry) as one ES module whose main() is `body` (undefined: the real one). */
async function binWithMain(name: string, body: string | undefined, entry?: string): Promise<string> {
  const outfile = join(tmp.dir, `${name}.mjs`);
  await build({
    ...(entry ? { stdin: { contents: entry, resolveDir: resolve("."), loader: "ts" } } : { entryPoints: [resolve("src/cli/bin.ts")] }),
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "silent",
    plugins: body === undefined ? [] : [
      {
        name: "stand-in-main",
        setup(b) {
          b.onResolve({ filter: /^\.\.?\/main\.js$/ }, () => ({ path: "main", namespace: "stand-in" }));
          b.onLoad({ filter: /.*/, namespace: "stand-in" }, () => ({ contents: `export function main(argv, io) { ${body} }`, loader: "js" }));
        },
      },
    ],
  });
  return outfile;
}

describe("bin", () => {
  it("a main() that never settles, with nothing left to wait for: exit 1 and one line, not a silent exit 0", async () => {
    const r = spawnSync(process.execPath, [await binWithMain("never", "return new Promise(() => {});"), "version"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("roles-anywhere-agent: internal error: the command stopped before it finished (please report)\n");
  }, 60_000);

  it("the credential-process bundle's entry too: exit 1 and one line when main() never settles", async () => {
    const never = await binWithMain("never-cp", "return new Promise(() => {});", CREDENTIAL_PROCESS_ENTRY);
    const r = spawnSync(process.execPath, [never, "credential-process"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("roles-anywhere-agent: internal error: the command stopped before it finished (please report)\n");
    const settles = await binWithMain("settles-cp", "return new Promise((done) => setTimeout(() => done(0), 50));", CREDENTIAL_PROCESS_ENTRY);
    expect(spawnSync(process.execPath, [settles, "credential-process"], { encoding: "utf8", timeout: 30_000 })).toMatchObject({ status: 0, stderr: "" });
  }, 60_000);

  it("stdout or stderr on a full disk (/dev/full): one line and exit 3 for the answer, a log line dropped", async () => {
    const full = openSync("/dev/full", "w");
    try {
      const run = (file: string, args: string[], fds: ["pipe" | number, "pipe" | number]) =>
        spawnSync(process.execPath, [file, ...args], { encoding: "utf8", timeout: 30_000, stdio: ["ignore", ...fds] });
      // The command's answer cannot be written: before, "internal error: ENOSPC … report it" and exit 1.
      const answer = "^roles-anywhere-agent: cannot write to standard output: ENOSPC \\(check where standard output goes[^\\n]*\\)\\n$";
      const real = run(await binWithMain("real", undefined), ["version"], [full, "pipe"]);
      expect([real.status, real.stderr]).toEqual([3, expect.stringMatching(new RegExp(answer))]);
      const writes = "io.stdout.write('{}'); return Promise.resolve(0);";
      const entry = run(await binWithMain("full-cp", writes, CREDENTIAL_PROCESS_ENTRY), ["credential-process"], [full, "pipe"]);
      expect([entry.status, entry.stderr]).toEqual([3, expect.stringMatching(new RegExp(answer))]);
      // A daemon's log lines on a full disk: dropped, it goes on (before: the first line killed it, exit 1).
      const logs = "for (let i = 0; i < 3; i++) io.stderr.write('a log line\\n'); io.stdout.write('served\\n'); return Promise.resolve(0);";
      const daemon = run(await binWithMain("full-log", logs), ["agent"], ["pipe", full]);
      expect([daemon.status, daemon.stdout]).toEqual([0, "served\n"]);
    } finally {
      closeSync(full);
    }
  }, 60_000);

  it("stderr a non-blocking pipe that fills up, then its reader gone: the lines dropped, the daemon goes on", async () => {
    // A parent (here python3) whose pipe is O_NONBLOCK: FdOutput takes the stream on EAGAIN. Before, once the reader
    // left, that stream's EPIPE was an uncaught error: exit 1, no "done".
    const body = `const line = "x".repeat(999) + "\\n"; const tick = () => new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 100; i++) io.stderr.write(line);
      io.stdout.write("full\\n");
      for (let i = 0; i < 50; i++) { io.stderr.write(line); await tick(); }
      io.stdout.write("done\\n"); return 0;`;
    const parent = [
      "import os, subprocess, sys",
      "r, w = os.pipe2(os.O_NONBLOCK)",
      "p = subprocess.Popen([sys.argv[1], sys.argv[2], 'agent'], stderr=w, stdout=subprocess.PIPE)",
      "os.close(w)",
      "first = p.stdout.readline()",
      "os.close(r)",
      "print(p.wait(), repr(first + p.stdout.read()))",
    ].join("\n");
    const bundle = await binWithMain("full-pipe", `return (async () => { ${body} })();`);
    const r = spawnSync("python3", ["-c", parent, process.execPath, bundle], { encoding: "utf8", timeout: 30_000 });
    expect([r.stdout, r.stderr]).toEqual(["0 b'full\\ndone\\n'\n", ""]);
  }, 60_000);

  it("stdout a non-blocking pipe that fills up: the whole answer on stdout, in order, once the reader reads", async () => {
    // FdOutput takes process.stdout on EAGAIN; the rest must go there (not to stderr), and be out before the exit.
    const body = `const line = "y".repeat(999) + "\\n";
      for (let i = 0; i < 300; i++) io.stdout.write(line);
      io.stderr.write("full\\n");
      io.stdout.write("done\\n"); return 0;`;
    const parent = [
      "import os, subprocess, sys",
      "r, w = os.pipe2(os.O_NONBLOCK)",
      "p = subprocess.Popen([sys.argv[1], sys.argv[2], 'version'], stdout=w, stderr=subprocess.PIPE)",
      "os.close(w)",
      "os.set_blocking(r, True)",
      "first = p.stderr.readline()",
      "data = b''",
      "while chunk := os.read(r, 65536): data += chunk",
      "print(p.wait(), len(data), data == (b'y' * 999 + b'\\n') * 300 + b'done\\n', repr(first + p.stderr.read()))",
    ].join("\n");
    const bundle = await binWithMain("full-stdout", `return (async () => { ${body} })();`);
    const r = spawnSync("python3", ["-c", parent, process.execPath, bundle], { encoding: "utf8", timeout: 30_000 });
    expect([r.stdout, r.stderr]).toEqual([`0 ${300 * 1000 + 5} True b'full\\n'\n`, ""]);
  }, 60_000);

  it("a working directory removed under it (cron, a deleted checkout): one line, not an internal error", async () => {
    // Before: "internal error: ENOENT: no such file or directory, uv_cwd … report it", exit 1.
    const bin = await binWithMain("real-cwd", undefined);
    const script = 'mkdir "$1/gone" && cd "$1/gone" && rmdir "$1/gone" && exec "$2" "$3" credential-process --profile p --config c.json';
    const r = spawnSync("bash", ["-c", script, "bash", tmp.dir, process.execPath, bin], { encoding: "utf8", timeout: 30_000 });
    expect([r.status, r.stdout]).toEqual([3, ""]);
    expect(r.stderr).toBe(
      "roles-anywhere-agent: the working directory no longer exists (ENOENT), so a relative path cannot be found " +
        "(run it from a directory that exists, or give absolute paths)\n",
    );
  }, 60_000);

  it("exits with main()'s code once it settles, after a wait", async () => {
    const main = "return new Promise((done) => setTimeout(() => done(0), 50));";
    const r = spawnSync(process.execPath, [await binWithMain("settles", main), "version"], { encoding: "utf8", timeout: 30_000 });
    expect([r.status, r.stderr]).toEqual([0, ""]);
  }, 60_000);
});

describe("the launcher (dist/cli.js) run while npm installs or replaces the package", () => {
  it("a bundle cut short, or no dist/daemon/: one line saying the installation is incomplete, not an internal error", async () => {
    // Before: "internal error: Unexpected end of input (rerun with --debug … report it)", and "internal error: Cannot
    // find module '…/dist/daemon/cli.mjs' imported from …/dist/cli.js (… report it)": a run or a service restart
    // while `npm i -g` writes the package's files, which land one by one.
    const dist = join(tmp.dir, "installing");
    mkdirSync(dist);
    const launcher = { bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "silent" } as const;
    await build({ ...launcher, entryPoints: [resolve("src/cli/launcher/main.ts")], outfile: join(dist, "cli.js") });
    await build({ ...launcher, entryPoints: [resolve("src/cli/launcher/launcher-error.ts")], outfile: join(dist, "launcher-error.cjs") });
    writeFileSync(join(dist, "package.json"), '{"type":"commonjs"}\n');
    writeFileSync(join(dist, "cli-bundle.cjs"), "(function (exports, require, module, __filename, __dirname) {var written = [");
    // Built without the build's ids, it runs as under another Node: the reader of the user's code cache first.
    const noReader = spawnSync(process.execPath, [join(dist, "cli.js"), "version"], { encoding: "utf8", timeout: 30_000 });
    expect([noReader.status, noReader.stdout, noReader.stderr]).toEqual([
      1,
      "",
      `roles-anywhere-agent: the installation is incomplete: cannot read ${join(dist, "user-code-cache.cjs")} (ENOENT); ` +
        "reinstall roles-anywhere-agent\n",
    ]);
    await build({ ...launcher, entryPoints: [resolve("src/cli/launcher/code-cache-reader.ts")], outfile: join(dist, "user-code-cache.cjs") });
    const cut = spawnSync(process.execPath, [join(dist, "cli.js"), "version"], { encoding: "utf8", timeout: 30_000 });
    expect([cut.status, cut.stdout, cut.stderr]).toEqual([
      1,
      "",
      `roles-anywhere-agent: the installation is incomplete: ${join(dist, "cli-bundle.cjs")} does not compile (Unexpected end of ` +
        "input); reinstall roles-anywhere-agent\n",
    ]);
    const env = { ...process.env, HOME: tmp.dir, XDG_RUNTIME_DIR: tmp.dir };
    const daemon = spawnSync(process.execPath, [join(dist, "cli.js"), "agent"], { encoding: "utf8", timeout: 30_000, env });
    expect([daemon.status, daemon.stdout, daemon.stderr]).toEqual([
      1, // as above: the units restart it (3 is in their RestartPreventExitStatus), and then it finds the package whole
      "",
      "roles-anywhere-agent: the installation changed since this process started, or is incomplete: " +
        `${join(dist, "daemon", "cli.mjs")} is missing (restart it once installed; reinstall if it repeats)\n`,
    ]);
  }, 60_000);

  it("a bundle created but not yet written, or the cache reader cut after a statement: incomplete too", async () => {
    // Before: "internal error: (b(...) ?? q(...)).runInThisContext(...) is not a function (… report it)" for an empty
    // bundle (npm creates a file, then writes it), and "internal error: M is not defined" for a reader cut short.
    const dist = join(tmp.dir, "created");
    mkdirSync(dist);
    const launcher = { bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "silent" } as const;
    await build({ ...launcher, entryPoints: [resolve("src/cli/launcher/main.ts")], outfile: join(dist, "cli.js") });
    await build({ ...launcher, entryPoints: [resolve("src/cli/launcher/launcher-error.ts")], outfile: join(dist, "launcher-error.cjs") });
    const reader = join(dist, "user-code-cache.cjs");
    await build({ ...launcher, entryPoints: [resolve("src/cli/launcher/code-cache-reader.ts")], outfile: reader });
    writeFileSync(join(dist, "package.json"), '{"type":"commonjs"}\n');
    const run = () => spawnSync(process.execPath, [join(dist, "cli.js"), "version"], { encoding: "utf8", timeout: 30_000 });
    for (const text of ["", "//raa-build 0123456789abcdef\n"]) {
      writeFileSync(join(dist, "cli-bundle.cjs"), text);
      const empty = run();
      expect([empty.status, empty.stdout, empty.stderr]).toEqual([
        1,
        "",
        `roles-anywhere-agent: the installation is incomplete: ${join(dist, "cli-bundle.cjs")} is cut short; ` +
          "reinstall roles-anywhere-agent\n",
      ]);
    }
    const readerText = readFileSync(reader, "latin1");
    writeFileSync(reader, readerText.slice(0, readerText.indexOf(";\n", readerText.indexOf("module.exports = ")) + 2));
    const cut = run();
    expect([cut.status, cut.stdout, cut.stderr]).toEqual([
      1,
      "",
      `roles-anywhere-agent: the installation is incomplete: ${reader} is cut short; reinstall roles-anywhere-agent\n`,
    ]);
  }, 60_000);
});

describe("the launcher (dist/cli.js) of a daemon started while npm writes dist/daemon/", () => {
  it("without dist/launcher-error.cjs yet, or cut short: one line, exit 1 (its unit restarts it), no stack", async () => {
    // npm writes the package's files in name order: dist/cli.js, then the ~170 files of dist/daemon/, then
    // dist/launcher-error.cjs. Before: a daemon started meanwhile printed Node's 15-line "Cannot find module
    // '…/dist/launcher-error.cjs'" stack (the journal's view of it), from the handler meant to report one line.
    const dist = join(tmp.dir, "writing-daemon");
    mkdirSync(dist);
    const launcher = { bundle: true, platform: "node", target: "node20", format: "cjs", logLevel: "silent" } as const;
    await build({ ...launcher, entryPoints: [resolve("src/cli/launcher/main.ts")], outfile: join(dist, "cli.js") });
    writeFileSync(join(dist, "package.json"), '{"type":"commonjs"}\n');
    const reporter = join(dist, "launcher-error.cjs");
    for (const text of [undefined, "", "module.exports = { reportLauncherErrorAndExit"]) {
      if (text !== undefined) writeFileSync(reporter, text);
      const env = { ...process.env, HOME: tmp.dir, XDG_RUNTIME_DIR: tmp.dir };
      const daemon = spawnSync(process.execPath, [join(dist, "cli.js"), "agent"], { encoding: "utf8", timeout: 30_000, env });
      expect([daemon.status, daemon.stdout, daemon.stderr], String(text)).toEqual([
        1,
        "",
        `roles-anywhere-agent: the installation is incomplete: ${reporter} cannot be loaded; reinstall roles-anywhere-agent\n`,
      ]);
    }
  }, 60_000);
});
