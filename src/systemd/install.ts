/**
 * Installs the generated systemd files (unit-files.ts) for this installation: writes them under a root (`/` on
 * a live system), then lets systemd create the user and the config directory and re-read its units. With
 * `dryRun`, prints them and changes nothing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { InputError } from "../errors.js";
import { loadNativeHelper } from "../os/native-helper.js";
import { writeFileAtomic } from "../io/atomic-write.js";
import { SYSUSERS_FILE, TMPFILES_FILE, type GeneratedFile, type UnitContext } from "./unit-files.js";

export interface Installation {
  readonly node: string;
  readonly cli: string;
  /** Whether the native helper loads here, so that Type=notify units can report readiness. */
  readonly canNotify: boolean;
  /** Node.js or the package lives where ProtectHome=yes would hide it. */
  readonly underHome: boolean;
}

const HOME_DIRS = ["/home/", "/root/", "/run/user/"];

/** The Node.js binary and dist/cli.js running now (symlinks resolved: an npm bin link, nvm's current). */
export function thisInstallation(cliPath: string | undefined, node: string = process.execPath): Installation {
  if (cliPath === undefined || !existsSync(cliPath)) {
    throw new InputError("FILE_NOT_FOUND", "cannot tell where this installation's dist/cli.js is", { hint: "run install-systemd through the installed roles-anywhere-agent command" });
  }
  const real = { node: realpathSync(node), cli: realpathSync(cliPath) };
  const helper = loadNativeHelper().helper;
  return {
    ...real,
    canNotify: typeof helper?.notify === "function",
    underHome: [real.node, real.cli].some((p) => HOME_DIRS.some((d) => p.startsWith(d))),
  };
}

export interface InstallReport {
  readonly written: string[];
  readonly ran: string[];
  readonly nextSteps: string[];
}

/** Writes `files` under `root`; on the live system (root `/`) also runs systemd-sysusers, systemd-tmpfiles and daemon-reload. */
export async function installFiles(files: readonly GeneratedFile[], root: string, context: UnitContext): Promise<InstallReport> {
  const written: string[] = [];
  for (const file of files) {
    const target = join(root, file.path);
    try {
      mkdirSync(dirname(target), { recursive: true, mode: 0o755 });
      await writeFileAtomic(target, file.content, 0o644);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? (cause as { cause?: NodeJS.ErrnoException }).cause?.code;
      throw new InputError("FILE_UNREADABLE", `cannot write ${target}: ${code ?? (cause as Error).message}`, {
        cause,
        hint: root === "/" ? "run it as root, or with --dry-run to see the files" : "check the --root directory",
      });
    }
    written.push(target);
  }
  const ran: string[] = [];
  const live = root === "/";
  if (live) {
    for (const [command, ...args] of [["systemd-sysusers", SYSUSERS_FILE], ["systemd-tmpfiles", "--create", TMPFILES_FILE]] as const) {
      execFileSync(command, args, { stdio: ["ignore", "ignore", "inherit"] });
      ran.push([command, ...args].join(" "));
    }
    if (existsSync("/run/systemd/system")) {
      execFileSync("systemctl", ["daemon-reload"], { stdio: ["ignore", "ignore", "inherit"] });
      ran.push("systemctl daemon-reload");
    }
  }
  const nextSteps = [
    ...(live ? [] : [`on the target system: systemd-sysusers ${SYSUSERS_FILE} && systemd-tmpfiles --create ${TMPFILES_FILE} && systemctl daemon-reload`]),
    `put the config in ${context.configPath} (root:${context.user}, mode 0640) with profile "${context.profile}"`,
    "systemctl enable --now roles-anywhere-update.service      # and/or roles-anywhere-serve.service",
    "systemctl --user enable --now roles-anywhere-agent.socket  # per user, for the agent",
  ];
  return { written, ran, nextSteps };
}
