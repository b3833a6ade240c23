import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { createCa, issueLeaf, type CaHandle, type IssuedCertificate } from "../../test/helpers/pki.js";
import { createLocalUser, type LocalUser } from "./local-user.js";

/**
 * Whether this machine lets a process make a user namespace with `unshare --user MAP` (MAP: how ids are mapped; "no map":
 * `unshare --user` alone, where the process runs as the overflow uid).
 */
export function canUnshare(map: "--map-root-user" | "--map-current-user" | "no map" = "--map-root-user"): boolean {
  try {
    execFileSync("unshare", ["--user", ...(map === "no map" ? [] : [map]), "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh 0755 directory of root's on a path no other user can write to: under the checkout's tmp/, or under /var/lib
 * where the checkout is itself in a sticky, shared directory (a clone in /tmp, as CI makes one). Inside a user namespace
 * that does not map the host's root, everything of the unmapped owner in such a directory is another user's (rootsOwner).
 */
export function rootsTestDirectory(prefix: string): string {
  let shared = false;
  for (let at = process.cwd(); ; at = dirname(at)) {
    const { mode } = statSync(at);
    if ((mode & 0o1000) !== 0 && (mode & 0o002) !== 0) shared = true;
    if (at === dirname(at)) break;
  }
  const base = shared ? "/var/lib" : join(process.cwd(), "tmp");
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(base, prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** A config whose profile `p` signs with `certificate` and `key`; its endpoint (127.0.0.1:1) refuses, so a config that is used ends in "cannot connect", exit 7. */
export const unreachableConfig = (certificate: string, key: string): string => JSON.stringify({
  version: 1,
  profiles: {
    p: {
      certificate,
      "private-key": key,
      "trust-anchor-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/1f6ab2c3-0000-4000-8000-000000000001",
      "profile-arn": "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/5d2e8f10-0000-4000-8000-000000000002",
      "role-arn": "arn:aws:iam::123456789012:role/R",
      endpoint: "http://127.0.0.1:1",
    },
  },
});

/** The accounts of a user-namespace test file, and what it made for them; `users`' entries are usable once its tests run. */
export interface UserNamespaceAccounts<N extends string> {
  /** root's 0755 directory (rootsTestDirectory) holding their homes and `leaf`; removed after the file's tests. */
  readonly dir: string;
  readonly users: Readonly<Record<N, LocalUser>>;
  /** A CA and a leaf (certificate 0644) issued in `dir`, where asked for. */
  readonly ca: CaHandle;
  readonly leaf: IssuedCertificate;
  /** `path`, a name in /tmp, to be removed after the file's tests. */
  inTmp(path: string): string;
  /** The leaf's key written to `path` with `mode` (chmod: whatever the umask), of `owner` where given. */
  keyAt(path: string, owner?: LocalUser, mode?: number): string;
}

/**
 * Real accounts (useradd, `<prefix>-<random>`, their homes in `dir`) made before a test file's tests and removed after
 * them, also when they fail: the beforeAll and afterAll this registers, `dir` and the /tmp names given to `inTmp` with
 * them. `usable` false (no useradd, no unshare): none made. Registered before the file's own hooks, so those see them.
 */
export function userNamespaceAccounts<const N extends string>(
  dirPrefix: string, prefixes: Record<N, string>, options: { usable?: boolean; leaf?: { ca: string; name: string } } = {},
): UserNamespaceAccounts<N> {
  const dir = rootsTestDirectory(dirPrefix);
  const made = new Map<N, LocalUser>();
  const tmp: string[] = [];
  const issued: { ca?: CaHandle; leaf?: IssuedCertificate } = {};
  const madeNow = <T>(what: string, value: T | undefined): T => {
    if (value === undefined) throw new Error(`${what} is made in beforeAll: use it in a test or a later hook`);
    return value;
  };
  // Each entry stands for the account made in beforeAll (a test file names them before they exist).
  const users = Object.fromEntries(Object.keys(prefixes).map((key) => [key, new Proxy({} as LocalUser, {
    get: (_, field) => {
      const user = madeNow(`account ${key}`, made.get(key as N));
      const value = Reflect.get(user, field) as unknown;
      return typeof value === "function" ? value.bind(user) : value;
    },
  })])) as Record<N, LocalUser>;
  beforeAll(() => {
    if (options.usable === false) return;
    chmodSync(dir, 0o755);
    for (const [key, prefix] of Object.entries(prefixes) as [N, string][]) made.set(key, createLocalUser(prefix, dir));
    if (options.leaf !== undefined) {
      const ca = (issued.ca = createCa(join(dir, "ca"), { name: options.leaf.ca }));
      issued.leaf = issueLeaf(ca, join(dir, "leaf"), { name: options.leaf.name });
      chmodSync(issued.leaf.certPath, 0o644);
    }
  }, 120_000);
  afterAll(() => {
    for (const user of made.values()) user.remove();
    rmSync(dir, { recursive: true, force: true });
    for (const path of tmp) rmSync(path, { recursive: true, force: true });
  });
  return {
    dir,
    users,
    get ca() { return madeNow("the CA", issued.ca); },
    get leaf() { return madeNow("the leaf", issued.leaf); },
    inTmp: (path) => (tmp.push(path), path),
    keyAt: (path, owner, mode = 0o600) => {
      writeFileSync(path, readFileSync(madeNow("the leaf", issued.leaf).keyPath), { mode });
      chmodSync(path, mode);
      if (owner) chownSync(path, owner.uid, owner.gid);
      return path;
    },
  };
}

/** `user`'s command line prefix (runuser), in a new user namespace mapped as `map` where given. */
export const asUser = (user: LocalUser, map?: "--map-root-user" | "--map-current-user" | "no map"): string[] =>
  ["runuser", "-u", user.name, "--", ...(map === undefined ? [] : ["unshare", "--user", ...(map === "no map" ? [] : [map])])];
