/**
 * A PKCS#11 module replaced by a file of another filesystem with the same inode number (a tmpfs mounted over its
 * directory: the first file of each new tmpfs gets inode 2) is said to be replaced (module-loader.ts warnIfReplaced
 * compares device and inode; the inode alone on overlayfs and btrfs, whose stat and maps name different devices). Before
 * round 29 the inode alone was compared: nothing was said. Run in a private mount
 * namespace (unshare -m, root), the loader bundled from src/ with esbuild, around a real module (p11-kit-trust.so).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";

const MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-trust.so";
const tmp = makeTempDir("raa-module-other-fs-");
// Under node_modules/, so that the bundle's `import "pkcs11js"` resolves.
const bundle = resolve("node_modules", `.raa-module-other-fs-${process.pid}.mjs`);
afterAll(() => {
  tmp.cleanup();
  rmSync(bundle, { force: true });
});

const ENTRY = `
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { acquireModule } from ${JSON.stringify(resolve("src/pkcs11/module-loader.ts"))};
const [dir, source] = process.argv.slice(2);
const mountNew = () => {
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", dir]);
  execFileSync("cp", [source, dir + "/m.so"]);
  const { dev, ino } = statSync(dir + "/m.so");
  return { dev, ino };
};
const warned = [];
process.emitWarning = (_, options) => { warned.push(options?.code); };
const choice = { path: dir + "/m.so", origin: "test", option: "--pkcs11-lib" };
const first = mountNew();
await acquireModule(choice);
const second = mountNew();
await acquireModule(choice);
console.log(JSON.stringify({ first, second, warned }));
`;

/** A module in an overlayfs' lower layer, the upper on a tmpfs: loaded twice, not replaced. */
const OVERLAY_ENTRY = `
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { acquireModule } from ${JSON.stringify(resolve("src/pkcs11/module-loader.ts"))};
const [dir, source] = process.argv.slice(2);
for (const d of ["lower", "t", "merged"]) mkdirSync(dir + "/" + d);
copyFileSync(source, dir + "/lower/m.so");
execFileSync("mount", ["-t", "tmpfs", "tmpfs", dir + "/t"]);
for (const d of ["upper", "work"]) mkdirSync(dir + "/t/" + d);
execFileSync("mount", ["-t", "overlay", "overlay", "-o", \`lowerdir=\${dir}/lower,upperdir=\${dir}/t/upper,workdir=\${dir}/t/work\`, dir + "/merged"]);
const warned = [];
process.emitWarning = (_, options) => { warned.push(options?.code); };
const choice = { path: dir + "/merged/m.so", origin: "test", option: "--pkcs11-lib" };
await acquireModule(choice);
await acquireModule(choice);
const maps = (await import("node:fs")).readFileSync("/proc/self/maps", "latin1").split("\\n").find((l) => l.endsWith("/merged/m.so"));
console.log(JSON.stringify({ dev: statSync(dir + "/merged/m.so").dev, maps, warned }));
`;

/** A module on btrfs, in a subvolume and at the top: each loaded (and found in maps) once, never replaced. */
const BTRFS_ENTRY = `
import { execFileSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { acquireModule } from ${JSON.stringify(resolve("src/pkcs11/module-loader.ts"))};
const [dir, source] = process.argv.slice(2);
execFileSync("truncate", ["-s", "128M", dir + "/fs.img"]);
execFileSync("mkfs.btrfs", ["-q", dir + "/fs.img"]);
execFileSync("mount", ["-o", "loop", dir + "/fs.img", dir + "/mnt"]);
execFileSync("btrfs", ["-q", "subvolume", "create", dir + "/mnt/sub"]);
const warned = [];
process.emitWarning = (_, options) => { warned.push(options?.code); };
for (const path of [dir + "/mnt/top.so", dir + "/mnt/sub/m.so"]) {
  copyFileSync(source, path);
  await acquireModule({ path, origin: "test", option: "--pkcs11-lib" });
}
console.log(JSON.stringify({ warned }));
`;

describe.skipIf(process.getuid?.() !== 0 || !existsSync(MODULE))("a module replaced by a file of another filesystem with the same inode", () => {
  it("is said to be replaced (RAA_MODULE_REPLACED)", () => {
    const entry = join(tmp.dir, "entry.ts");
    writeFileSync(entry, ENTRY);
    execFileSync(resolve("node_modules/.bin/esbuild"), [entry, "--bundle", "--platform=node", "--format=esm", "--external:pkcs11js", `--outfile=${bundle}`, "--log-level=warning"]);
    const mountPoint = join(tmp.dir, "lib");
    mkdirSync(mountPoint);
    const out = execFileSync("unshare", ["-m", "--propagation", "private", process.execPath, bundle, mountPoint, MODULE], { encoding: "utf8" });
    const { first, second, warned } = JSON.parse(out) as { first: { dev: number; ino: number }; second: { dev: number; ino: number }; warned: string[] };
    expect(second.ino).toBe(first.ino); // the case: the same inode number
    expect(second.dev).not.toBe(first.dev); // on another filesystem
    expect(warned).toEqual(["RAA_MODULE_REPLACED"]); // before: []
  });

  // stat gives the lower layer's device here, /proc/self/maps the overlay's (seen on Linux 6.18): compared by device,
  // a module never replaced was said to be (the overlayfs branch off).
  it("a module on an overlayfs with layers on two filesystems, not replaced, is not said to be", () => {
    const entry = join(tmp.dir, "overlay-entry.ts");
    writeFileSync(entry, OVERLAY_ENTRY);
    const overlayBundle = bundle.replace(/\.mjs$/, "-overlay.mjs");
    try {
      execFileSync(resolve("node_modules/.bin/esbuild"), [entry, "--bundle", "--platform=node", "--format=esm", "--external:pkcs11js", `--outfile=${overlayBundle}`, "--log-level=warning"]);
      const dir = join(tmp.dir, "overlay");
      mkdirSync(dir);
      const out = execFileSync("unshare", ["-m", "--propagation", "private", process.execPath, overlayBundle, dir, MODULE], { encoding: "utf8" });
      const { dev, maps, warned } = JSON.parse(out) as { dev: number; maps: string; warned: string[] };
      const [major, minor] = maps.split(" ")[3]!.split(":").map((h) => Number.parseInt(h, 16));
      expect((major! << 8) | minor!, "the case: maps and stat name different devices").not.toBe(dev);
      expect(warned).toEqual([]);
    } finally {
      rmSync(overlayBundle, { force: true });
    }
  });

  // btrfs: stat gives the subvolume's device (the top level's too: 0:41, 0:42), maps the filesystem's (0:40; Linux
  // 6.18). Compared by device, every module on btrfs (Fedora's and openSUSE's root) was said to be replaced when loaded.
  it.skipIf(!existsSync("/usr/sbin/mkfs.btrfs") && !existsSync("/usr/bin/mkfs.btrfs"))("a module on btrfs, loaded once, is not said to be replaced", () => {
    const entry = join(tmp.dir, "btrfs-entry.ts");
    writeFileSync(entry, BTRFS_ENTRY);
    const btrfsBundle = bundle.replace(/\.mjs$/, "-btrfs.mjs");
    try {
      execFileSync(resolve("node_modules/.bin/esbuild"), [entry, "--bundle", "--platform=node", "--format=esm", "--external:pkcs11js", `--outfile=${btrfsBundle}`, "--log-level=warning"]);
      const dir = join(tmp.dir, "btrfs");
      mkdirSync(join(dir, "mnt"), { recursive: true });
      const out = execFileSync("unshare", ["-m", "--propagation", "private", process.execPath, btrfsBundle, dir, MODULE], { encoding: "utf8" });
      expect((JSON.parse(out) as { warned: string[] }).warned).toEqual([]); // before: two RAA_MODULE_REPLACED
    } finally {
      rmSync(btrfsBundle, { force: true });
    }
  });
});
