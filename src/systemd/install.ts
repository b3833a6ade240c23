import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { InputError, UsageError } from "../errors.js";
import { loadNativeHelper } from "../os/native-helper.js";
import { checkTrustedFile, UntrustedPathError } from "../io/trusted-path.js";
import { makeDirectories, mkdirError, statIfAny, writeFileAtomic } from "../io/atomic-write.js";
import { SYSUSERS_FILE, TMPFILES_FILE, type GeneratedFile, type UnitContext } from "./unit-files.js";

const HOME_DIRS = ["/home/", "/root/", "/run/user/"];

/** The Node.js binary and dist/cli.js running now (symlinks resolved: an npm bin link, nvm's current). */
export function thisInstallation(cliPath: string | undefined) {
  if (cliPath === undefined || !existsSync(cliPath)) {
    throw new InputError("FILE_NOT_FOUND", "cannot tell where this installation's dist/cli.js is", { hint: "run install-systemd through the installed roles-anywhere-agent command" });
  }
  const real = { node: realpathSync(process.execPath), cli: realpathSync(cliPath) };
  // The services run this code with the PIN and the key: whoever else can change it (a user's nvm or npm prefix,
  // a group-writable /usr/local) would own them. The config file's rule: this user's or root's, from / down.
  const uid = process.geteuid?.();
  for (const [what, path] of [["Node.js", real.node], ["the CLI", real.cli]] as const) {
    try {
      if (uid !== undefined) checkTrustedFile(path, what, uid);
    } catch (cause) {
      if (!(cause instanceof UntrustedPathError)) throw cause;
      throw new InputError("FILE_UNSAFE", `no units written: their ExecStart= would run ${what} ${path}, but ${cause.reason}`, {
        hint: "install Node.js and roles-anywhere-agent where only root can change them (npm install -g as root), then run that one",
      });
    }
  }
  return {
    ...real,
    /** The native helper loads here, so that Type=notify units can report readiness. */
    notify: typeof loadNativeHelper().helper?.notify === "function",
    /** "read-only" when Node.js or the package lives where ProtectHome=yes would hide it. */
    protectHome: [real.node, real.cli].some((p) => HOME_DIRS.some((d) => p.startsWith(d))) ? ("read-only" as const) : ("yes" as const),
  };
}

/** Why the sandboxed system services cannot see `path` (PrivateTmp=, ProtectHome=yes), if they cannot. */
export function hiddenFromServices(given: string, protectHome: "yes" | "read-only"): string | undefined {
  const path = normalize(given); // "/etc/../tmp/x", "//tmp/x"
  const tmp = ["/tmp/", "/var/tmp/"].find((d) => path.startsWith(d));
  if (tmp) return `PrivateTmp=yes: they have a ${tmp.slice(0, -1)} of their own`;
  if (protectHome === "yes" && HOME_DIRS.some((d) => path.startsWith(d))) return "ProtectHome=yes";
  return undefined;
}

/** `mkdir -p`, each directory made 0755 whatever the umask: every user's systemd reads the user units' directory. */
function makeReadableDirectories(dir: string): Promise<void> {
  return makeDirectories(dir, 0o755).catch((cause: NodeJS.ErrnoException) => {
    throw mkdirError(dir, cause);
  });
}

/**
 * An image's directory may be a symbolic link, absolute (to this host's /etc/sudoers.d, say) or climbing out with
 * `..`: what it leads to, as far as it exists, must stay under `root`.
 */
async function staysInside(root: string, dir: string): Promise<void> {
  await makeReadableDirectories(root);
  let existing = dir;
  while (!existsSync(existing)) existing = dirname(existing);
  const [real, top] = [realpathSync(existing), realpathSync(root)];
  if (real !== top && !real.startsWith(`${top}/`)) {
    throw new InputError("FILE_UNSAFE", `${existing} leads outside --root (to ${real}); nothing was written there`, {
      hint: "the image's directory is a symbolic link: replace it by a directory, or install on the target system",
    });
  }
}

/** Writes `files` under `root`, on `/` applies them too, and tells `say` each file written, command run and next step. */
export async function installFiles(files: readonly GeneratedFile[], root: string, context: UnitContext, say: (line: string) => void) {
  for (const file of files) {
    const target = join(root, file.path);
    // A symbolic link there (a masked unit: -> /dev/null; an image's absolute link, read on this host) is left
    // alone: writing through it would replace its target. `replaces`: nor is one swapped in meanwhile followed.
    if (root !== "/") await staysInside(root, dirname(target));
    const found = statIfAny(target, lstatSync); // undefined when it cannot be seen: mkdir then says why
    if (found && !found.isFile()) {
      const what = found.isSymbolicLink() ? `a symbolic link (to ${readlinkSync(target)})` : "not a regular file";
      throw new InputError("FILE_UNSAFE", `${target} is ${what}; it was left as it is`, {
        hint: "remove it or, for a masked unit, systemctl unmask it; then run install-systemd again",
      });
    }
    try {
      await makeReadableDirectories(dirname(target));
      await writeFileAtomic(target, file.content, 0o644, { replaces: found ?? "absent" });
    } catch (cause) {
      if (cause instanceof InputError) throw cause; // from writeFileAtomic: its errno, path and hint
      const code = (cause as NodeJS.ErrnoException).code;
      throw new InputError("FILE_UNREADABLE", `cannot write ${target}: ${code ?? (cause as Error).message}`, {
        cause,
        hint: root === "/" ? "run it as root, or with --dry-run to see the files" : "check the --root directory",
      });
    }
    say(`wrote ${target}`);
  }
  const live = root === "/";
  const run = (command: string, ...args: string[]) => {
    try {
      execFileSync(command, args, { stdio: ["ignore", "ignore", "inherit"] });
    } catch (cause) {
      const line = [command, ...args].join(" ");
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
        const hint = "on a system without systemd, or to build an image, use --root DIR";
        throw new UsageError("UNSUPPORTED_ON_PLATFORM", `${command} is not installed: the files are written, not applied`, {
          hint,
        });
      }
      const status = (cause as { status?: number | null }).status;
      const how = status == null ? "killed" : `exit ${status}`;
      const hint = `see its message above, then run ${line} again`;
      throw new InputError("INPUT_INVALID", `${line} failed (${how}); the files are written`, { hint });
    }
    say(`ran ${[command, ...args].join(" ")}`);
  };
  if (live) {
    run("systemd-sysusers", SYSUSERS_FILE);
    run("systemd-tmpfiles", "--create", TMPFILES_FILE);
    if (existsSync("/run/systemd/system")) run("systemctl", "daemon-reload");
  }
  const nextSteps = [
    ...(live ? [] : [`on the target system: systemd-sysusers ${SYSUSERS_FILE} && systemd-tmpfiles --create ${TMPFILES_FILE} && systemctl daemon-reload`]),
    `put the config in ${context.configPath} (root:${context.user}, mode 0640) with profile "${context.profile}"`,
    "systemctl enable --now roles-anywhere-update.service      # and/or roles-anywhere-serve.service",
    "systemctl --user enable --now roles-anywhere-agent.socket  # per user, for the agent",
  ];
  for (const step of nextSteps) say(`next: ${step}`);
}
