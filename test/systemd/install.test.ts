import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runMain } from "../helpers/run-main.js";
import { installFiles, thisInstallation } from "../../src/systemd/install.js";
import { generateFiles, type UnitContext } from "../../src/systemd/unit-files.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-systemd-install-");
afterAll(cleanup);
const context: UnitContext = {
  node: "/usr/bin/node",
  cli: "/usr/lib/node_modules/roles-anywhere-agent/dist/cli.js",
  configPath: "/etc/roles-anywhere-agent/config.json",
  profile: "default",
  port: 9911,
  user: "roles-anywhere",
  tpmDevice: "/dev/tpmrm0",
  notify: false,
  protectHome: "yes",
};

describe("install-systemd under a root", () => {
  it("says each file it wrote, then the next steps", async () => {
    const root = join(dir, "ok");
    const lines: string[] = [];
    await installFiles(generateFiles(context), root, context, (line) => lines.push(line));
    const files = generateFiles(context).map((f) => join(root, f.path));
    expect(lines.slice(0, files.length)).toEqual(files.map((f) => `wrote ${f}`));
    expect(lines.slice(files.length).every((l) => l.startsWith("next: "))).toBe(true);
    expect(files.every((f) => existsSync(f))).toBe(true);
  });

  it("creates missing directories 0755 and files 0644 whatever the umask (was 0700 under umask 077: users' systemd could not read the agent's units)", async () => {
    const root = join(dir, "umask-077");
    const before = process.umask(0o077);
    try {
      await installFiles(generateFiles(context), root, context, () => {});
    } finally {
      process.umask(before);
    }
    for (const d of [root, join(root, "etc"), join(root, "etc/systemd"), join(root, "etc/systemd/user"), join(root, "etc/tmpfiles.d")]) {
      expect(`${d} ${(statSync(d).mode & 0o777).toString(8)}`).toBe(`${d} 755`);
    }
    expect((statSync(join(root, "etc/systemd/user/roles-anywhere-agent.socket")).mode & 0o777).toString(8)).toBe("644");
  });

  it("a file that cannot be written still leaves the ones already written said", async () => {
    const root = join(dir, "blocked");
    mkdirSync(join(root, "etc/systemd"), { recursive: true });
    writeFileSync(join(root, "etc/systemd/user"), "not a directory");
    const lines: string[] = [];
    await expect(installFiles(generateFiles(context), root, context, (line) => lines.push(line))).rejects.toMatchObject({
      code: "FILE_WRITE_FAILED", // before: FILE_UNREADABLE, "cannot write …: ENOTDIR"
      message: `cannot create directory ${join(root, "etc/systemd/user")}: ${join(root, "etc/systemd/user")} is a file, not a directory`,
    });
    expect(lines).toEqual([
      `wrote ${join(root, "etc/systemd/system/roles-anywhere-serve.service")}`,
      `wrote ${join(root, "etc/systemd/system/roles-anywhere-update.service")}`,
      `wrote ${join(root, "etc/systemd/system/roles-anywhere-update-once.service")}`,
    ]);
  });
});

describe.skipIf(process.geteuid?.() !== 0)("install-systemd: code another user can change is never put in a unit", () => {
  /** A dist/cli.js under `prefix`, made by `setUp` (an owner or a mode); the file itself root's, 0644. */
  function installedUnder(prefix: string, setUp: (path: string) => void): string {
    mkdirSync(join(prefix, "dist"), { recursive: true, mode: 0o755 });
    setUp(prefix);
    writeFileSync(join(prefix, "dist", "cli.js"), "", { mode: 0o644 });
    return join(prefix, "dist", "cli.js");
  }

  it("refuses an installation in another user's directory, or in one the group can write (was: units written)", () => {
    const theirs = installedUnder(join(dir, "user-prefix"), (p) => chownSync(p, 65534, 65534));
    expect(() => thisInstallation(theirs)).toThrow(expect.objectContaining({
      code: "FILE_UNSAFE",
      message: `no units written: their ExecStart= would run the CLI ${theirs}, but directory ${join(dir, "user-prefix")} belongs to uid 65534, not to this user (0) or root`,
    }));
    const shared = installedUnder(join(dir, "group-prefix"), (p) => chmodSync(join(p, "dist"), 0o775));
    expect(() => thisInstallation(shared)).toThrow(expect.objectContaining({ code: "FILE_UNSAFE", message: expect.stringMatching(/can be written by other users \(mode 775\)/) }));
    const writable = installedUnder(join(dir, "writable-cli"), (p) => writeFileSync(join(p, "dist", "cli.js"), "", { mode: 0o666 }));
    chmodSync(writable, 0o666);
    expect(() => thisInstallation(writable)).toThrow(expect.objectContaining({ code: "FILE_UNSAFE" }));
  });

  it("control: root's own installation is used", () => {
    const ours = installedUnder(join(dir, "root-prefix"), () => {});
    expect(thisInstallation(ours).cli).toBe(ours);
  });
});

describe("install-systemd --port", () => {
  const unit = (port: number, name: string) => generateFiles({ ...context, port }).find((f) => f.path.endsWith(name))!.content;

  it("below 1024 (a port no other user can take first), serve gets CAP_NET_BIND_SERVICE to bind it, and nothing else (was: no capability, exit 2)", () => {
    const serve = unit(913, "roles-anywhere-serve.service");
    expect(serve).toMatch(/^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
    expect(serve).toMatch(/^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
    expect(serve).toContain("--port 913");
    for (const other of ["roles-anywhere-update.service", "roles-anywhere-update-once.service"]) {
      expect(unit(913, other)).toMatch(/^CapabilityBoundingSet=$/m);
      expect(unit(913, other)).toMatch(/^AmbientCapabilities=$/m);
    }
  });

  it("from 1024 up, no capability; the unit says that another user can take such a port while serve is down", () => {
    const serve = unit(9911, "roles-anywhere-serve.service");
    expect(serve).toMatch(/^CapabilityBoundingSet=$/m);
    expect(serve).toMatch(/^AmbientCapabilities=$/m);
    expect(serve).toMatch(/Any local user can listen on a port from 1024 up while serve does not/);
  });
});

describe("install-systemd: what the units are written over, and what goes into them", () => {
  it("leaves a symbolic link at a unit's name (a masked unit, an image's absolute link) and its target alone", async () => {
    // Before: the link was followed and its target, outside the root (on a live system: /dev/null), replaced.
    const root = join(dir, "linked");
    const unit = join(root, "etc/systemd/system/roles-anywhere-serve.service");
    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(dir, "outside"), "precious\n");
    symlinkSync(join(dir, "outside"), unit);
    const lines: string[] = [];
    await expect(installFiles(generateFiles(context), root, context, (line) => lines.push(line))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `${unit} is a symbolic link (to ${join(dir, "outside")}); it was left as it is`,
    });
    expect(readFileSync(join(dir, "outside"), "utf8")).toBe("precious\n");
    expect(lstatSync(unit).isSymbolicLink()).toBe(true);
    expect(lines).toEqual([]);
  });

  it("says why a unit cannot be written: not a regular file (a FIFO, a directory), or the errno (was 'FILE_WRITE_FAILED')", async () => {
    const root = join(dir, "odd");
    const unit = join(root, "etc/systemd/system/roles-anywhere-serve.service");
    mkdirSync(join(unit, "x"), { recursive: true });
    const say = () => {};
    await expect(installFiles(generateFiles(context), root, context, say)).rejects.toThrow(`${unit} is not a regular file; it was left as it is`);
    rmSync(unit, { recursive: true });
    execFileSync("mkfifo", [unit]);
    await expect(installFiles(generateFiles(context), root, context, say)).rejects.toThrow(`${unit} is not a regular file; it was left as it is`);
    rmSync(unit);
    writeFileSync(unit, "old");
    execFileSync("chattr", ["+i", unit]); // binds root too
    try {
      await expect(installFiles(generateFiles(context), root, context, say)).rejects.toMatchObject({
        code: "FILE_WRITE_FAILED",
        message: `${unit} is not writable: EPERM`,
      });
    } finally {
      execFileSync("chattr", ["-i", unit]);
    }
    expect(readFileSync(unit, "utf8")).toBe("old");
  });

  it("does not write outside --root through a directory of the image that is a symbolic link (to this host's /etc/…)", async () => {
    // Before: an image's etc/sysusers.d -> /etc/sudoers.d got the sysusers entry written into this host's sudoers.d.
    const root = join(dir, "escape");
    const outside = join(dir, "hosts-sudoers.d");
    mkdirSync(join(root, "etc"), { recursive: true });
    mkdirSync(outside);
    symlinkSync(outside, join(root, "etc/sysusers.d"));
    const lines: string[] = [];
    await expect(installFiles(generateFiles(context), root, context, (line) => lines.push(line))).rejects.toMatchObject({
      code: "FILE_UNSAFE",
      message: `${join(root, "etc/sysusers.d")} leads outside --root (to ${outside}); nothing was written there`,
    });
    expect(readdirSync(outside)).toEqual([]);
    expect(lines).toHaveLength(5); // the five units, under the root
    symlinkSync("../../../..", join(root, "etc/systemd/user/up")); // `..` out of the root: the same
    const up = generateFiles(context).map((f) => ({ ...f, path: f.path.replace("/etc/systemd/user/", "/etc/systemd/user/up/x/") }));
    await expect(installFiles(up.slice(3, 4), root, context, () => {})).rejects.toMatchObject({ code: "FILE_UNSAFE" });
  });

  it("a --root or a directory of the image that is a file: FILE_WRITE_FAILED saying so, not an internal error", async () => {
    // Before: a raw ENOTDIR from mkdir, which the CLI printed as "internal error: ENOTDIR: not a directory, mkdir …".
    const file = join(dir, "image-file");
    writeFileSync(file, "");
    await expect(installFiles(generateFiles(context), join(file, "root"), context, () => {})).rejects.toMatchObject({
      code: "FILE_WRITE_FAILED",
      message: `cannot create directory ${join(file, "root")}: ${file} is a file, not a directory`,
    });
  });

  // Never the default --root /: were --dry-run lost (a bug, a mutant), the units, sysusers.d (a user) and tmpfiles.d
  // entries would be installed on this host. Paths the command looks at under --root (--pin-file) are put in `image`.
  const image = join(dir, "image");
  mkdirSync(join(image, "tmp"), { recursive: true });
  symlinkSync("/dev", join(image, "dev"));
  const inImage = (path: string) => join(image, path);
  const dryRun = (...flags: string[]) =>
    runMain(["install-systemd", "--dry-run", ...(flags.includes("--root") ? [] : ["--root", image]), ...flags], { CI: "true" });

  /**
   * Runs `run` as if Node.js and the CLI were installed outside every home directory (as in a clone under /tmp):
   * ProtectHome= is then "yes". A checkout or a Node.js (nvm) under /home or /root makes it "read-only", which
   * shows home directories to the services, and the refusals of paths there turned into exit 0.
   */
  async function outsideHomes<T>(run: () => Promise<T>): Promise<T> {
    const [execPath, cli] = [process.execPath, process.argv[1]!];
    // Root's, on every Linux; only where it lies is read.
    process.execPath = "/bin/sh";
    process.argv[1] = "/bin/sh";
    try {
      return await run();
    } finally {
      [process.execPath, process.argv[1]] = [execPath, cli];
    }
  }

  it.each([
    ["--profile", "gw\nExecStartPre=/bin/touch /tmp/pwned"],
    ["--config", "/etc/raa/config.json\nExecStartPre=/bin/touch /tmp/pwned"],
    ["--pin-file", "/etc/raa/pin\rExecStartPre=/bin/touch /tmp/pwned"],
    ["--tpm-device", "/dev/tpmrm0\nDeviceAllow=/dev/mem"],
    ["--tpm-device", "/dev/tpmrm0 rwm"],
  ])("%s with a line break or an extra word cannot add a directive: exit 2, one line", async (flag, value) => {
    // Before: --profile "gw\nExecStartPre=…" put an ExecStartPre= line into every system unit (exit 0).
    const r = await dryRun(flag, value);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${flag} ${JSON.stringify(value)} cannot go into a unit file`);
    expect(r.stderr).not.toContain("    at ");
  });

  it.each(["--pin-file", "--user", "--config", "--profile", "--tpm-device", "--root"])(
    "%s \"\" (an unset \"$VAR\") is a usage error, not the default: exit 2, one line",
    async (flag) => {
      // Before: --pin-file "" wrote units without the PIN credential, --user "" ran them as roles-anywhere (exit 0).
      const r = await dryRun(flag, "");
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(`roles-anywhere-agent: ${flag} is empty (give a value, or leave the flag out for the default)\n`);
    },
  );

  it("a % in the PIN file, TPM device or config path stands for itself (not a specifier such as %h)", async () => {
    const r = await dryRun("--pin-file", "/etc/raa/pin%h", "--tpm-device", "/dev/tpm%n", "--profile", "my-gw.1", "--config", "/etc/r a/$HOME%i.json");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("LoadCredential=pkcs11-pin:/etc/raa/pin%%h\n");
    expect(r.stdout).toContain("DeviceAllow=/dev/tpm%%n rw\n");
    expect(r.stdout).toContain('--config "/etc/r a/$$HOME%%i.json" --config-profile my-gw.1 --pkcs11-pin-file %d/pkcs11-pin\n');
    expect(r.stdout).not.toMatch(/^ExecStartPre=/m);
  });

  it.each(["my gw %i", "gw x", "gw;x", "-gw", "x".repeat(65)])("--profile %j, no config-file profile name, is refused: exit 2, one line", async (profile) => {
    // Before: exit 0; the units named a profile no config file can define, and every service failed at each start.
    const r = await dryRun("--profile", profile);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      2,
      "",
      `roles-anywhere-agent: --profile ${JSON.stringify(profile)} is not a config-file profile name ` +
        "(use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit))\n",
    ]);
  });

  it.each([
    ["/tmp/config.json", "PrivateTmp=yes: they have a /tmp of their own"],
    ["/var/tmp/raa/config.json", "PrivateTmp=yes: they have a /var/tmp of their own"],
    ["/home/admin/config.json", "ProtectHome=yes"],
    ["/root/raa.json", "ProtectHome=yes"],
    ["/etc/roles-anywhere-agent/../../tmp/config.json", "PrivateTmp=yes: they have a /tmp of their own"],
  ])("--config %s, which the sandboxed services cannot see, is refused: exit 2, one line", async (path, why) => {
    // Before: the units were written (exit 0) and each service then failed at start: "config file … does not exist".
    const r = await outsideHomes(() => dryRun("--config", path));
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toContain(
      `roles-anywhere-agent: --config ${path} is hidden from the services (${why}) ` +
        "(put it in /etc/roles-anywhere-agent, owned by root, group roles-anywhere, mode 0640)\n",
    );
    expect((await dryRun("--config", "/etc/raa/tmp/config.json")).code).toBe(0);
  });

  it.each([
    [["--user", "Admin"], "--user Admin is not a valid system user name"],
    [["--user", "a:b"], "--user a:b is not a valid system user name"],
    [["--user", "x".repeat(32)], `--user ${"x".repeat(32)} is not a valid system user name`],
    [["--config", "etc/config.json"], "--config must be an absolute path"],
    [["--tpm-device", "tpmrm0"], "--tpm-device must be an absolute path"],
    [["--pin-file", "pin"], "--pin-file must be an absolute path"],
    [["--root", "image"], "--root must be an absolute path"],
    [["--port", "0"], "--port must be a whole number from 1 to 65535 (got 0)"],
  ])("%j is refused: exit 2, one line", async (flags, message) => {
    // A relative path in a unit file is systemd's to resolve (against /, or refused), not the operator's working directory.
    const r = await dryRun(...flags);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, "", `roles-anywhere-agent: ${message}\n`]);
  });

  it.each(["nobody", "nfsnobody"])("--user %s (shared by other daemons) is refused: exit 2, one line", async (user) => {
    // Before: exit 0; every service running as nobody could read the credentials file and open the TPM (the
    // sysusers.d entry put nobody in group tss); systemd itself says "Special user nobody configured, this is not safe!".
    const r = await dryRun("--user", user);
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(
      `roles-anywhere-agent: --user ${user} is shared by other services: they could read the credentials and use the key ` +
        "(leave --user out for roles-anywhere, a user of its own)\n",
    );
  });

  it("--user root is refused: exit 2, one line", async () => {
    // Before: exit 0; every service ran with all privileges (a flaw in serve, which answers requests, was root's),
    // and the sysusers.d entry added root to group tss.
    const r = await dryRun("--user", "root");
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(
      "roles-anywhere-agent: --user root would give the services every privilege: a flaw in serve, which answers " +
        "requests, would be root's (leave --user out for roles-anywhere, a user of its own)\n",
    );
  });

  it("--user naming a uid-0 alias (toor) in the passwd file under --root is refused: exit 2, one line", async () => {
    // Before: exit 0; the services ran as root under another name.
    const { dir: root, cleanup } = makeTempDir("raa-install-toor-");
    try {
      mkdirSync(join(root, "etc"));
      writeFileSync(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nsvc:x:990:990::/:/usr/sbin/nologin\n");
      const r = await dryRun("--root", root, "--user", "toor");
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toBe(
        "roles-anywhere-agent: --user toor has uid 0: it would give the services every privilege: a flaw in serve, " +
          "which answers requests, would be root's (leave --user out for roles-anywhere, a user of its own)\n",
      );
      expect((await dryRun("--root", root, "--user", "svc")).code).toBe(0); // control: a user of its own
    } finally {
      cleanup();
    }
  });

  it.each(["00", " 0", "+0", "-0", " -00"])("--user whose uid field is %j (uid 0 to glibc's getpwnam, so to systemd's User=) is refused", async (uid) => {
    // Before: exit 0, only the uid field "0" was taken for root's; the services ran as root. "-0" (strtoul takes a
    // sign; `getent passwd` shows uid 0): exit 0 until the sign "-" was read too.
    const { dir: root, cleanup } = makeTempDir("raa-install-uid0-");
    try {
      mkdirSync(join(root, "etc"));
      writeFileSync(join(root, "etc/passwd"), `root:x:0:0::/root:/bin/sh\nadmin:x:${uid}:0::/root:/bin/sh\n`);
      const r = await dryRun("--root", root, "--user", "admin");
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(/^roles-anywhere-agent: --user admin has uid 0: it would give the services every privilege/);
    } finally {
      cleanup();
    }
  });

  it("--user whose name begins another's (roo, root's), or a passwd file that is a FIFO under --root: a user of its own", async () => {
    const { dir: root, cleanup } = makeTempDir("raa-install-uid-");
    try {
      mkdirSync(join(root, "etc"));
      writeFileSync(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\nroo:x:991:991::/:/usr/sbin/nologin\n");
      expect((await dryRun("--root", root, "--user", "roo")).code).toBe(0);
      expect((await dryRun("--root", root, "--user", "ro")).code).toBe(0); // not there: made by sysusers.d
      writeFileSync(join(root, "etc/passwd"), "roo:x:0990:990::/:/usr/sbin/nologin\n"); // uid 990
      expect((await dryRun("--root", root, "--user", "roo")).code).toBe(0);
      rmSync(join(root, "etc/passwd"));
      execFileSync("mkfifo", [join(root, "etc/passwd")]); // read, it would block for ever
      expect((await dryRun("--root", root, "--user", "roo")).code).toBe(0);
    } finally {
      cleanup();
    }
  });

  it("--user root under a --root with no passwd file (an image being built): refused all the same", async () => {
    const { dir: root, cleanup } = makeTempDir("raa-install-nopasswd-");
    try {
      const r = await dryRun("--root", root, "--user", "root");
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(/^roles-anywhere-agent: --user root would give the services every privilege/);
    } finally {
      cleanup();
    }
  });

  it("--port goes into serve's unit; --pin-file is looked at under --root (the image's, not this host's)", async () => {
    expect((await dryRun("--port", "8443")).stdout).toMatch(/^ExecStart=.* --port 8443\b/m);
    const defaults = (await dryRun()).stdout; // each default of the command's options reaches the units
    expect(defaults).toMatch(/^ExecStart=\S+ .* serve --config \/etc\/roles-anywhere-agent\/config\.json --profile default --port 9911$/m);
    expect(defaults).toMatch(/^User=roles-anywhere\nGroup=roles-anywhere$/m);
    expect(defaults).toMatch(/^DeviceAllow=\/dev\/tpmrm0 rw$/m);
    expect(defaults).not.toMatch(/^LoadCredential=/m);
    const { dir: root, cleanup } = makeTempDir("raa-install-pin-root-");
    try {
      mkdirSync(join(root, "raa-pin-dir"));
      const r = await dryRun("--root", root, "--pin-file", "/raa-pin-dir");
      expect([r.code, r.stdout]).toEqual([3, ""]);
      expect(r.stderr).toMatch(/^roles-anywhere-agent: --pin-file \/raa-pin-dir is a directory, not a PIN file/);
    } finally {
      cleanup();
    }
  });

  it.each(["/etc/raa//pin", "/etc/raa/./pin", "/etc/x/../raa/pin"])("--pin-file %s reaches LoadCredential= as /etc/raa/pin, a path systemd takes", async (path) => {
    // Before: written as given; systemd-analyze verify: 'Credential source "/etc/raa//pin" not valid, ignoring.',
    // so every service started without the PIN file and failed (exit 3: %d/pkcs11-pin missing), after exit 0 here.
    const r = await dryRun("--pin-file", path);
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^LoadCredential=.*$/gm)).toEqual(Array(3).fill("LoadCredential=pkcs11-pin:/etc/raa/pin"));
  });

  it("--tpm-device /dev/x/../tpmrm0 reaches DeviceAllow= as /dev/tpmrm0, a path systemd takes", async () => {
    // Before: written as given; systemd-analyze verify: "DeviceAllow= path is not normalized, ignoring", so
    // DevicePolicy=closed left the services no TPM at all, after exit 0 here.
    const r = await dryRun("--tpm-device", "/dev/x/../tpmrm0");
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^DeviceAllow=.*$/gm)).toEqual(Array(3).fill("DeviceAllow=/dev/tpmrm0 rw"));
  });

  it.each([
    ["--tpm-device", "/dev/tpmrm0 rwm", "a space or control character"],
    ["--profile", "gw\nUser=root", "a control character (a line break)"],
  ])("%s %j: the line says what it holds", async (flag, value, what) => {
    const r = await dryRun(flag, value);
    expect(r.stderr).toBe(`roles-anywhere-agent: ${flag} ${JSON.stringify(value)} cannot go into a unit file: it holds ${what}\n`);
  });

  it.skipIf(process.geteuid?.() !== 0)("warns when the units must show home directories (ProtectHome=read-only), or cannot report readiness", async () => {
    const outside = await outsideHomes(() => dryRun());
    expect(outside.code).toBe(0);
    expect(outside.stderr).not.toContain("ProtectHome=read-only");
    expect(outside.stderr.includes("warning: the native helper does not load here")).toBe(/^Type=exec$/m.test(outside.stdout));
    const home = mkdtempSync("/root/raa-install-home-"); // root's home: the sandbox would hide a CLI there
    const [execPath, cli] = [process.execPath, process.argv[1]!];
    try {
      writeFileSync(join(home, "cli.js"), "");
      process.execPath = "/bin/sh";
      process.argv[1] = join(home, "cli.js");
      const inHome = await dryRun();
      expect(inHome.code).toBe(0);
      expect(inHome.stderr).toContain(`roles-anywhere-agent: warning: ${realpathSync("/bin/sh")} or ${realpathSync(join(home, "cli.js"))} is under a home directory: `
        + "the units use ProtectHome=read-only, and user roles-anywhere must be able to read it");
      expect(inHome.stdout).toMatch(/^ProtectHome=read-only$/m);
    } finally {
      [process.execPath, process.argv[1]] = [execPath, cli];
      rmSync(home, { recursive: true, force: true });
    }
  });

  it.each(["/dev/zero", "/tmp"])("--pin-file %s (a device, a directory: no PIN file) is refused: exit 3, one line", async (path) => {
    // Before: exit 0 with "run chmod 600 /dev/zero"; systemd would then hand the service 1 MiB of zeros as the PIN
    // (one wrong PIN presented), or a directory's files under other names (the PIN file missing at every start).
    const r = await dryRun("--pin-file", path);
    expect([r.code, r.stdout]).toEqual([3, ""]);
    const kind = path === "/tmp" ? "a directory" : "a character device";
    expect(r.stderr).toMatch(new RegExp(`^roles-anywhere-agent: --pin-file ${path} is ${kind}, not a PIN file \\(`));
    expect(r.stderr.split("\n")).toHaveLength(2);
  });

  it("a --pin-file other users can read or change is warned about (mode, chmod), never its content", async () => {
    // Before: no word about it; another user could read the token PIN, or change it and make the services
    // present a wrong one (a token locks after a few).
    const pin = join(dir, "exposed-pin");
    mkdirSync(inImage(dir), { recursive: true });
    writeFileSync(inImage(pin), "731946\n", { mode: 0o644 });
    chmodSync(inImage(pin), 0o644);
    const r = await dryRun("--pin-file", pin);
    expect(r.code).toBe(0);
    // The file on this host (in the image), which chmod must be given; the units keep the image's path.
    expect(r.stderr).toContain(
      `roles-anywhere-agent: warning: PIN file ${inImage(pin)} can be read or changed by other users (mode 644): run chmod 600 ${inImage(pin)}\n`,
    );
    expect(r.stdout).toContain(`LoadCredential=pkcs11-pin:${pin}\n`);
    expect(`${r.stdout}${r.stderr}`).not.toContain("731946");
    chmodSync(inImage(pin), 0o600);
    expect((await dryRun("--pin-file", pin)).stderr).not.toContain("PIN file");
    for (const later of ["not-yet", "exposed-pin/x"]) {
      const r2 = await dryRun("--pin-file", join(dir, later)); // put there later (was: "internal error: ENOTDIR")
      expect([r2.code, r2.stderr.includes("PIN file") || r2.stderr.includes("internal")]).toEqual([0, false]);
    }
  });

  it("a --pin-file of another user (not root), even mode 0600, is warned about (owner, chown), never its content", async () => {
    // Before: no word about it; that user can change the PIN to a wrong one, a token strike at every service start.
    const pin = join(dir, "pin-of-nobody");
    mkdirSync(inImage(dir), { recursive: true });
    writeFileSync(inImage(pin), "731946\n", { mode: 0o600 });
    chownSync(inImage(pin), 65534, 65534);
    const r = await dryRun("--pin-file", pin);
    expect(r.code).toBe(0);
    const uid = process.getuid?.();
    expect(r.stderr).toContain(
      `roles-anywhere-agent: warning: PIN file ${inImage(pin)} belongs to another user (uid 65534), who can change it: run chown ${uid} ${inImage(pin)}\n`,
    );
    expect(r.stderr).not.toContain("mode 600");
    expect(`${r.stdout}${r.stderr}`).not.toContain("731946");
    chownSync(inImage(pin), 0, 0); // root's: nothing to say
    expect((await dryRun("--pin-file", pin)).stderr).not.toContain("PIN file");
  });
});

describe("install-systemd --pin-file: every unit that loads the PIN file reads it", () => {
  it("each system service is given its own credential path (%d); no unit tells the config to name a %n path", () => {
    // Before: only LoadCredential= and a comment saying to write "file:/run/credentials/%n/pkcs11-pin" into the
    // config. JSON has no specifiers (a literal %n: file not found), and the three services share one config and
    // profile while each has its own /run/credentials/UNIT/: whichever unit the config named, the others failed.
    const files = generateFiles({ ...context, pinFile: "/etc/roles-anywhere-agent/pkcs11-pin" });
    const system = files.filter((f) => f.path.startsWith("/etc/systemd/system/"));
    expect(system).toHaveLength(3);
    for (const file of system) {
      expect(file.content).toContain("LoadCredential=pkcs11-pin:/etc/roles-anywhere-agent/pkcs11-pin\n");
      expect(file.content).toMatch(/^ExecStart=\S+ .* --pkcs11-pin-file %d\/pkcs11-pin$/m);
      expect(file.content).not.toContain("/run/credentials/%n");
    }
    const agent = files.find((f) => f.path.endsWith("roles-anywhere-agent.service"))!;
    expect(agent.content).not.toContain("--pkcs11-pin-file"); // a user unit: no credential is loaded for it
    const without = generateFiles(context).filter((f) => f.path.startsWith("/etc/systemd/system/"));
    for (const file of without) expect(file.content).not.toContain("--pkcs11-pin-file");
  });
});

describe("install-systemd: what the sandbox hides, and where this installation is", () => {
  it("hiddenFromServices: /tmp and /var/tmp always; home directories only under ProtectHome=yes; /etc never", async () => {
    const { hiddenFromServices } = await import("../../src/systemd/install.js");
    expect(hiddenFromServices("/home/a/config.json", "read-only")).toBeUndefined();
    expect(hiddenFromServices("/run/user/1000/c.json", "yes")).toBe("ProtectHome=yes");
    expect(hiddenFromServices("/etc/roles-anywhere-agent/config.json", "yes")).toBeUndefined();
    expect(hiddenFromServices("/etc/home/config.json", "yes")).toBeUndefined();
    expect(hiddenFromServices("/var/tmp/c.json", "read-only")).toBe("PrivateTmp=yes: they have a /var/tmp of their own");
  });

  it("no dist/cli.js to point at: FILE_NOT_FOUND, no units", () => {
    for (const cli of [undefined, join(dir, "no-such-cli.js")]) {
      expect(() => thisInstallation(cli)).toThrow(expect.objectContaining({ code: "FILE_NOT_FOUND", hint: "run install-systemd through the installed roles-anywhere-agent command" }));
    }
  });

  it.runIf(process.geteuid?.() === 0 && !realpathSync(process.execPath).startsWith("/root/"))(
    "ProtectHome=read-only when the CLI lives under a home directory (yes when neither it nor Node.js does)",
    () => {
      const home = mkdtempSync("/root/raa-install-home-");
      try {
        const cli = join(home, "cli.js");
        writeFileSync(cli, "", { mode: 0o644 });
        expect(thisInstallation(cli).protectHome).toBe("read-only");
        const outside = join(dir, "cli-outside.js");
        writeFileSync(outside, "", { mode: 0o644 });
        expect(thisInstallation(outside).protectHome).toBe(/^\/(home|root|run\/user)\//.test(realpathSync(process.execPath)) ? "read-only" : "yes");
      } finally {
        rmSync(home, { recursive: true, force: true });
      }
    },
  );

  it("under --root, the next steps say to apply the sysusers.d and tmpfiles.d entries on the target, then where the config goes", async () => {
    const lines: string[] = [];
    await installFiles(generateFiles(context), join(dir, "steps"), context, (line) => lines.push(line));
    expect(lines.filter((l) => l.startsWith("next: "))).toEqual([
      "next: on the target system: systemd-sysusers /etc/sysusers.d/roles-anywhere-agent.conf && systemd-tmpfiles --create /etc/tmpfiles.d/roles-anywhere-agent.conf && systemctl daemon-reload",
      'next: put the config in /etc/roles-anywhere-agent/config.json (root:roles-anywhere, mode 0640) with profile "default"',
      "next: systemctl enable --now roles-anywhere-update.service      # and/or roles-anywhere-serve.service",
      "next: systemctl --user enable --now roles-anywhere-agent.socket  # per user, for the agent",
    ]);
  });
});
