import { boolArg, defaultedInteger, defaultedString, stringArg, type CommandSpec } from "../command.js";
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { InputError, UsageError } from "../../errors.js";
import { statIfAny } from "../../io/atomic-write.js";
import { exposedFileWarnings } from "../../os/exposed-file.js";
import { fileKind } from "../../io/trusted-path.js";

const command: CommandSpec = {
  name: "install-systemd",
  describe: "Install systemd units (serve, update, update-once; the per-user agent) for this installation, with their sysusers.d and tmpfiles.d entries",
  options: [
    { name: "dry-run", type: "boolean", description: "Print the files instead of installing them" },
    { name: "root", type: "string", refuseEmpty: true, default: "/", description: "Install under this directory (an image being built); only / also runs systemd-sysusers, systemd-tmpfiles and daemon-reload" },
    { name: "config", type: "string", refuseEmpty: true, default: "/etc/roles-anywhere-agent/config.json", description: "Config file the system services read" },
    { name: "profile", type: "string", refuseEmpty: true, default: "default", description: "Config-file profile that serve serves and update writes" },
    { name: "port", type: "number", default: 9911, description: "serve's port" },
    { name: "user", type: "string", refuseEmpty: true, default: "roles-anywhere", description: "System user (and group) the services run as; created by the sysusers.d entry" },
    { name: "tpm-device", type: "string", refuseEmpty: true, default: "/dev/tpmrm0", description: "TPM device the services may open" },
    { name: "pin-file", type: "string", refuseEmpty: true, description: "PIN file systemd hands to the services (LoadCredential=pkcs11-pin:FILE)" },
  ],
  async run(args, io) {
    const [{ generateFiles }, { hiddenFromServices, installFiles, thisInstallation }, { isConfigProfileName, PROFILE_NAME_RULE }] = await Promise.all([
      import("../../systemd/unit-files.js"), import("../../systemd/install.js"), import("../../config/parse-config.js"),
    ]);
    const root = defaultedString(args, "root");
    const user = defaultedString(args, "user");
    if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(user)) throw new UsageError("USAGE", `--user ${user} is not a valid system user name`);
    // A uid-0 alias (toor) is root by another name; a user not there yet is made by sysusers.d with a uid of its own.
    // glibc reads the uid field with strtoul: "00", " 0", "+0" and "-0" are uid 0 too.
    const isRoot = user === "root" || /^\s*[+-]?0+$/.test(uidInPasswd(root, user) ?? "");
    if (user === "nobody" || user === "nfsnobody" || isRoot) {
      const what = isRoot
        ? `${user === "root" ? "" : "has uid 0: it "}would give the services every privilege: a flaw in serve, which answers requests, would be root's`
        : "is shared by other services: they could read the credentials and use the key";
      throw new UsageError("USAGE", `--user ${user} ${what}`, { hint: "leave --user out for roles-anywhere, a user of its own" });
    }
    const port = defaultedInteger(args, "port", 1, 65535);
    for (const [flag, path] of [["config", stringArg(args, "config")], ["tpm-device", stringArg(args, "tpm-device")], ["pin-file", stringArg(args, "pin-file")], ["root", stringArg(args, "root")]] as const) {
      if (path !== undefined && !path.startsWith("/")) throw new UsageError("USAGE", `--${flag} must be an absolute path`);
    }
    // Each value goes into the unit files: a line break there would start a directive of its own.
    for (const flag of ["config", "profile", "tpm-device", "pin-file"]) {
      const value = stringArg(args, flag) ?? "";
      if (/[\p{Cc}\u2028\u2029]/u.test(value) || (flag === "tpm-device" && /\s/.test(value))) {
        const what = flag === "tpm-device" ? "a space or control character" : "a control character (a line break)";
        throw new UsageError("USAGE", `--${flag} ${JSON.stringify(value)} cannot go into a unit file: it holds ${what}`);
      }
    }
    const profile = defaultedString(args, "profile");
    if (!isConfigProfileName(profile)) throw new UsageError("USAGE", `--profile ${JSON.stringify(profile)} is not a config-file profile name`, { hint: PROFILE_NAME_RULE });
    const installation = thisInstallation(process.argv[1]);
    const hidden = hiddenFromServices(defaultedString(args, "config"), installation.protectHome);
    if (hidden) {
      throw new UsageError("USAGE", `--config ${stringArg(args, "config")} is hidden from the services (${hidden})`, {
        hint: `put it in /etc/roles-anywhere-agent, owned by root, group ${user}, mode 0640`,
      });
    }
    const context = {
      ...installation,
      configPath: defaultedString(args, "config"),
      profile,
      port,
      user,
      // systemd ignores a DeviceAllow= path with /../, a LoadCredential= one with //, /./ or /../: no TPM, no PIN.
      tpmDevice: normalize(defaultedString(args, "tpm-device")),
      pinFile: args.explicit.has("pin-file") ? normalize(stringArg(args, "pin-file")!) : undefined,
    };
    const warn = (line: string) => io.stderr.write(`roles-anywhere-agent: warning: ${line}\n`);
    // Read by PID 1 (LoadCredential=): nobody else needs it; who can change it can make the services use a wrong PIN.
    const pinPath = context.pinFile && join(root, context.pinFile); // this host's, under --root
    const pinFile = pinPath ? statIfAny(pinPath) : undefined;
    if (pinFile && !pinFile.isFile() && !pinFile.isSocket()) { // a socket: systemd asks it for the PIN
      const what = `--pin-file ${context.pinFile} is ${fileKind(pinFile)}, not a PIN file`;
      throw new InputError("FILE_NOT_REGULAR", what, {
        hint: "give the file that holds the token PIN (root's, mode 0600)",
      });
    }
    // Warnings only once the input is known good: a refusal is one line.
    if (installation.protectHome === "read-only") warn(`${installation.node} or ${installation.cli} is under a home directory: the units use ProtectHome=read-only, and user ${user} must be able to read it (a system-wide Node.js install is better)`);
    if (!installation.notify) warn("the native helper does not load here: the units use Type=exec and cannot report readiness (After= then means started, not ready)");
    if (pinFile?.isFile() && pinPath) {
      const facts = { mode: pinFile.mode, owner: pinFile.uid };
      for (const line of exposedFileWarnings(facts, pinPath, "PIN file")) warn(line);
    }
    const files = generateFiles(context);
    if (boolArg(args, "dry-run")) {
      for (const file of files) io.stdout.write(`# ${file.path}\n${file.content}\n`);
      return 0;
    }
    await installFiles(files, root, context, (line) => io.stdout.write(`${line}\n`));
    return 0;
  },
};

export default command;

/** The uid `user` has in the passwd file under `root`, if it is there (a regular file: a FIFO would block the read). */
function uidInPasswd(root: string, user: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(join(root, "etc/passwd"), constants.O_RDONLY | constants.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return undefined;
    return readFileSync(fd, "utf8").split("\n").find((line) => line.startsWith(`${user}:`))?.split(":")[2];
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
