import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { withFileLock } from "../src/io/file-lock.js";

/**
 * Several real processes rewrite the same credentials file at once, each its own profile, many times.
 * Without the lock, read-modify-write races lose profiles; with it, every profile ends up with its last
 * value and the hand-written part of the file is untouched.
 */
describe("update: concurrent writers in separate processes", () => {
  let dir: string;
  let worker: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "raa-update-procs-"));
    worker = join(dir, "worker.mjs");
    const entry = join(dir, "worker-entry.ts");
    writeFileSync(
      entry,
      `import { writeProfileCredentials } from ${JSON.stringify(resolve("src/update/write-credentials.ts"))};
const [path, profile, rounds] = process.argv.slice(2);
for (let i = 0; i < Number(rounds); i++) {
  await writeProfileCredentials(path, profile, {
    accessKeyId: profile + "-" + i, secretAccessKey: "s" + i, sessionToken: "t" + i,
    expiration: new Date(Date.now() + 3600_000),
  }, { pollMs: 1 });
}
`,
    );
    await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", outfile: worker, logLevel: "silent" });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A script that takes the lock named by its argument, says "held" and keeps it for 10 minutes. */
  async function holderScript(): Promise<string> {
    const holder = join(dir, "holder.mjs");
    if (existsSync(holder)) return holder;
    const entry = join(dir, "holder-entry.ts");
    writeFileSync(
      entry,
      `import { withFileLock } from ${JSON.stringify(resolve("src/io/file-lock.ts"))};
await withFileLock(process.argv[2], async () => { console.log("held", process.pid); await new Promise((r) => setTimeout(r, 600_000)); });
`,
    );
    await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", outfile: holder, logLevel: "silent" });
    return holder;
  }

  it("leaves alone the live lock of a writer in another pid namespace with the same hostname (a pod's containers)", async () => {
    // Before: its pid did not exist here, so its lock was taken for a dead process's, broken, and both wrote.
    const holder = await holderScript();
    const lock = join(dir, "shared.lock");
    // Its pid there (999991) is above the default pid_max (32768), not systemd's (4194304): checked that no process
    // here has it (its lock would be live for that reason, whatever the namespace).
    expect(existsSync("/proc/999991"), "a process of this host has pid 999991").toBe(false);
    const inside = `echo 999990 > /proc/sys/kernel/ns_last_pid && "$0" "$@"`;
    const argv = ["--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", inside, process.execPath, holder, lock];
    const child = spawn("unshare", argv, { stdio: ["ignore", "pipe", "inherit"] });
    try {
      // Held until killed below, however slow this machine; unshare ending first (ns_last_pid refused: above an
      // older kernel's pid_max) fails here at once, not at the test's timeout.
      const held = await Promise.race([
        once(child.stdout!, "data").then(() => "held"),
        once(child, "exit").then(([code, signal]) => `unshare ended (${code ?? signal}) before the lock was held`),
      ]);
      expect(held).toBe("held");
      const error = await withFileLock(lock, async () => "ran", { timeoutMs: 1_000, pollMs: 10 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "FILE_LOCKED" });
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("leaves alone the lock of a holder stopped for over a minute (SIGSTOP), its name full of spaces and parentheses", async () => {
    // Before: a lock over 60 s old was broken whoever held it, so a second serve took a frozen one's --ecs-env-dir.
    // The name (/proc/PID/comm, from the link run) makes a start time read from the wrong field of /proc/PID/stat.
    const node = join(dir, "held) S 1 (x");
    symlinkSync(process.execPath, node);
    const lock = join(dir, "stopped.lock");
    const child = spawn(node, [await holderScript(), lock], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const held = await Promise.race([
        once(child.stdout!, "data").then(() => "held"),
        once(child, "exit").then(([code, signal]) => `the holder ended (${code ?? signal}) before the lock was held`),
      ]);
      expect(held).toBe("held");
      expect(readFileSync(`/proc/${child.pid}/comm`, "utf8")).toBe("held) S 1 (x\n");
      // The lock names the holder by its start time: field 22 of /proc/PID/stat, counted after the name's last ")";
      // and this boot's id.
      const started = /^.*\) (?:\S+ ){19}(\d+) /s.exec(readFileSync(`/proc/${child.pid}/stat`, "latin1"))?.[1];
      const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      expect(readFileSync(lock, "utf8").trimEnd().split(" ")[4]).toBe(`${started}@${boot}`);
      child.kill("SIGSTOP");
      const old = new Date(Date.now() - 120_000);
      utimesSync(lock, old, old);
      const error = await withFileLock(lock, async () => "ran", { timeoutMs: 1_000, pollMs: 10 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "FILE_LOCKED", message: expect.stringContaining(`held by process ${child.pid}`) });
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a host name with spaces (the kernel takes any bytes): a dead holder's lock broken at once, a stopped one's kept", async () => {
    // Before: the token was split at every space, so its host never matched this one's: a crashed holder's lock held
    // for a minute, a stopped live holder's broken by age.
    const entry = join(dir, "spaced-host.ts");
    writeFileSync(entry, `import { readlinkSync, utimesSync, writeFileSync } from "node:fs";
      import { spawnSync } from "node:child_process";
      import { hostname } from "node:os";
      import { holdFileLock, withFileLock } from ${JSON.stringify(resolve("src/io/file-lock.ts"))};
      const [dead, stopped] = process.argv.slice(2);
      const scope = hostname() + "/" + readlinkSync("/proc/self/ns/pid");
      writeFileSync(dead, spawnSync("true").pid + " " + scope + " " + Date.now() + " dead -\\n");
      const say = (e) => console.log(e.code ?? e);
      await withFileLock(dead, async () => "ran", { timeoutMs: 1_000, pollMs: 10 }).then(say, say);
      await holdFileLock(stopped);
      const old = new Date(Date.now() - 120_000);
      utimesSync(stopped, old, old);
      await withFileLock(stopped, async () => "ran", { timeoutMs: 100, pollMs: 10 }).then(say, say);
      process.exit(0);`);
    const bundle = join(dir, "spaced-host.mjs");
    await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", outfile: bundle, logLevel: "silent" });
    const locks = [join(dir, "dead-spaced.lock"), join(dir, "stopped-spaced.lock")];
    const inside = `printf 'host with spaces' > /proc/sys/kernel/hostname && exec "$0" "$@"`;
    const child = spawn("unshare", ["--uts", "sh", "-c", inside, process.execPath, bundle, ...locks], { stdio: ["ignore", "pipe", "inherit"] });
    let said = "";
    child.stdout!.on("data", (d: Buffer) => void (said += d.toString()));
    const [code] = await once(child, "close"); // stdout read to its end
    expect([code, said]).toEqual([0, "ran\nFILE_LOCKED\n"]);
  });

  it("never loses a profile or corrupts the file", async () => {
    const path = join(dir, "credentials");
    const handWritten = "# hand-written, keep me\n[default]\naws_access_key_id = AKIAKEEP\naws_secret_access_key = keep\nregion = eu-west-1\n";
    writeFileSync(path, handWritten, { mode: 0o600 });
    const writers = ["gw-a", "gw-b", "gw-c", "gw-d"];
    const rounds = 40;
    const exits = await Promise.all(
      writers.map(
        (profile) =>
          new Promise<{ code: number | null; stderr: string }>((done) => {
            const child = spawn(process.execPath, [worker, path, profile, String(rounds)], { stdio: ["ignore", "ignore", "pipe"] });
            let stderr = "";
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            child.on("close", (code) => done({ code, stderr }));
          }),
      ),
    );
    for (const e of exits) expect(e).toEqual({ code: 0, stderr: "" });

    const text = readFileSync(path, "utf8");
    expect(text.startsWith(handWritten)).toBe(true);
    for (const profile of writers) {
      const section = new RegExp(`\\n\\[${profile}\\]\\naws_access_key_id = ${profile}-${rounds - 1}\\naws_secret_access_key = s${rounds - 1}\\naws_session_token = t${rounds - 1}\\n`);
      expect(text).toMatch(section);
      expect(text.split(`[${profile}]`)).toHaveLength(2);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith("credentials") || f.startsWith(".credentials")).sort()).toEqual(["credentials"]);
  });
});
