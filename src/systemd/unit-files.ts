/**
 * The systemd units, sysusers.d and tmpfiles.d entries for one installation of roles-anywhere-agent: the Node.js
 * binary and dist/cli.js of the installation that generates them (any npm prefix, nvm, /usr/local), so that
 * `ExecStart=` is right wherever the package lives. Pure text: src/systemd/install.ts writes it.
 *
 * The safety rules every unit keeps (native-test/systemd-units.test.ts checks them on the generated files):
 * - exit 2 (usage), 3 (input) and 4 (authentication: wrong PIN or password) are never restarted — a wrong PIN
 *   presented every few seconds locks the token (a YubiKey PIV blocks its PIN after 3 tries);
 * - the start limit triggers: StartLimitBurst × (RestartSec + the longest a failing start takes) < StartLimitIntervalSec;
 * - LimitCORE=0: a core dump would hold the PIN or key password and the issued credentials;
 * - V8 flags go on node's command line, never into NODE_OPTIONS (inherited by every Node child, and a flag
 *   there makes V8 reject the CLI's code cache).
 * The system services are sandboxed to an exposure of ≤ 4.0 in `systemd-analyze security` (about 1.5).
 */

export interface UnitContext {
  /** Absolute path of the Node.js binary that runs the CLI. */
  readonly node: string;
  /** Absolute path of this installation's dist/cli.js. */
  readonly cli: string;
  /** The config file the system services read. */
  readonly configPath: string;
  /** The config-file profile `serve` serves and `update` writes. */
  readonly profile: string;
  /** `serve`'s port. */
  readonly port: number;
  /** System user and group the services run as (created by the sysusers.d entry). */
  readonly user: string;
  /** TPM device the services may open (DeviceAllow=), also reachable through the `tss` group. */
  readonly tpmDevice: string;
  /** Type=notify (the native helper sends READY=1) or Type=exec where this installation cannot notify. */
  readonly notify: boolean;
  /** ProtectHome=yes, or read-only when Node.js or the package lives under /home, /root or /run/user. */
  readonly protectHome: "yes" | "read-only";
  /** A PIN file systemd hands to the services as a credential (LoadCredential=), if any. */
  readonly pinFile?: string | undefined;
}

export interface GeneratedFile {
  /** Where it goes, relative to the root (`/` on a live system). */
  readonly path: string;
  readonly content: string;
}

export const STATE_DIR = "/var/lib/roles-anywhere-agent";
export const CONFIG_DIR = "/etc/roles-anywhere-agent";
export const SYSTEM_UNIT_DIR = "/etc/systemd/system";
export const USER_UNIT_DIR = "/etc/systemd/user";
export const SYSUSERS_FILE = "/etc/sysusers.d/roles-anywhere-agent.conf";
export const TMPFILES_FILE = "/etc/tmpfiles.d/roles-anywhere-agent.conf";
/** Keeps the daemons' RSS flat (~65 MB instead of ~95 MB after 20,000 requests): a small young generation. */
const V8_FLAGS = "--max-semi-space-size=1";
const CREDENTIALS_FILE = `${STATE_DIR}/credentials`;

export function generateFiles(ctx: UnitContext): GeneratedFile[] {
  return [
    { path: `${SYSTEM_UNIT_DIR}/roles-anywhere-serve.service`, content: serveUnit(ctx) },
    { path: `${SYSTEM_UNIT_DIR}/roles-anywhere-update.service`, content: updateUnit(ctx) },
    { path: `${SYSTEM_UNIT_DIR}/roles-anywhere-update-once.service`, content: updateOnceUnit(ctx) },
    { path: `${USER_UNIT_DIR}/roles-anywhere-agent.socket`, content: agentSocket() },
    { path: `${USER_UNIT_DIR}/roles-anywhere-agent.service`, content: agentService(ctx) },
    { path: SYSUSERS_FILE, content: sysusers(ctx) },
    { path: TMPFILES_FILE, content: tmpfiles(ctx) },
  ];
}

/** systemd's quoting for one ExecStart= word: plain when it can be, else double-quoted with escapes. */
export function execWord(word: string): string {
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(word)) return word;
  return `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

function execStart(ctx: UnitContext, args: readonly string[]): string {
  return [ctx.node, V8_FLAGS, ctx.cli, ...args].map(execWord).join(" ");
}

const NO_RESTART_AFTER = `# Exit 2 (usage), 3 (input: config, key, certificate) and 4 (authentication: wrong PIN or password) are not
# restarted: no restart can fix them, and a wrong PIN presented every few seconds locks the token (a YubiKey
# PIV blocks its PIN after 3 tries). Fix the cause, then: systemctl reset-failed UNIT && systemctl start UNIT
RestartPreventExitStatus=2 3 4
# Never write a core dump: it would hold the key password or PIN and the issued credentials.
LimitCORE=0`;

function identity(ctx: UnitContext): string {
  const credential = ctx.pinFile
    ? `# The PIN file is handed over by systemd, readable only by this service; reference it in the config as
#   "pkcs11-pin": "file:/run/credentials/%n/pkcs11-pin"
LoadCredential=pkcs11-pin:${ctx.pinFile}`
    : `# A PIN file can be handed over by systemd, readable only by this service (install-systemd --pin-file):
#LoadCredential=pkcs11-pin:${CONFIG_DIR}/pkcs11-pin`;
  return `User=${ctx.user}
Group=${ctx.user}
# /dev/tpmrm0 belongs to group tss (tpm-udev); the sysusers.d entry creates the group if it is missing.
SupplementaryGroups=tss
${credential}`;
}

/**
 * The sandbox of the system services: `systemd-analyze security` rates it about 1.5 ("OK"). What stays open is
 * what the job needs: the network (CreateSession; serve's endpoint), UNIX sockets (pcscd, the journal), the
 * TPM device, and writable executable memory (V8's JIT: no MemoryDenyWriteExecute=).
 */
function sandbox(ctx: UnitContext): string {
  return `NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
UMask=0077
ProtectSystem=strict
ProtectHome=${ctx.protectHome}
PrivateTmp=yes
PrivateMounts=yes
PrivateIPC=yes
RemoveIPC=yes
KeyringMode=private
# Devices: only the TPM (PKCS#11 tokens are reached through pcscd's UNIX socket or a module's own daemon).
DevicePolicy=closed
DeviceAllow=${ctx.tpmDevice} rw
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
# AF_NETLINK: glibc's getaddrinfo(AI_ADDRCONFIG), which Node.js uses, asks the kernel for the host's addresses.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM`;
}

function readiness(ctx: UnitContext, what: string): string {
  if (!ctx.notify) {
    return `# This installation cannot report readiness (its native helper does not load here): the unit counts as
# started once the process runs, not once ${what}.
Type=exec`;
  }
  return `# Ready (READY=1 over $NOTIFY_SOCKET) once ${what}:
# units ordered After= this one find them. Without a network that takes as long as the network is away: the
# service keeps retrying, and systemctl start waits with it (use --no-block).
Type=notify
NotifyAccess=main
TimeoutStartSec=infinity`;
}

function serveUnit(ctx: UnitContext): string {
  return `# Generated by: roles-anywhere-agent install-systemd
# System unit: the IMDSv2-compatible endpoint on 127.0.0.1:${ctx.port} for local services.
# Consumers: Environment=AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:${ctx.port}/
#            Wants=roles-anywhere-serve.service  After=roles-anywhere-serve.service
# IMDS answers every local user and process (it has no consumer identity). Where other users or untrusted
# programs share the host, use the ECS variant below: only consumers holding their token get credentials.
[Unit]
Description=IAM Roles Anywhere credential endpoint (IMDSv2 / ECS)
Wants=network-online.target
After=network-online.target
# Bounded restarts: more than 5 starts within 300 s stop the unit (RestartSec=10 x 5 < 300, so a unit that keeps
# failing at start-up does reach the limit; systemd's default of 5 in 10 s never triggers with a 5 s delay).
StartLimitBurst=5
StartLimitIntervalSec=300

[Service]
${readiness(ctx, "the endpoint listens and holds credentials for every role")}
${identity(ctx)}
ExecStart=${execStart(ctx, ["serve", "--config", ctx.configPath, "--profile", ctx.profile, "--port", String(ctx.port)])}
# ECS variant (per-consumer tokens, env files written 0600 into the runtime directory):
#ExecStart=${execStart(ctx, ["serve", "--config", ctx.configPath, "--profile", ctx.profile, "--ecs", "--port", "0", "--ecs-env-dir", "/run/roles-anywhere-agent"])}
RuntimeDirectory=roles-anywhere-agent
RuntimeDirectoryMode=0750
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=10
${NO_RESTART_AFTER}
TimeoutStopSec=40
${sandbox(ctx)}

[Install]
WantedBy=multi-user.target
`;
}

function updateUnit(ctx: UnitContext): string {
  return `# Generated by: roles-anywhere-agent install-systemd
# System unit: keeps profile [${ctx.profile}] of ${CREDENTIALS_FILE} fresh (rewritten ~5 minutes before
# expiry), and keeps running through network outages (retries with backoff) and write errors.
# Consumers: Environment=AWS_SHARED_CREDENTIALS_FILE=${CREDENTIALS_FILE}
#            Wants=roles-anywhere-update.service  After=roles-anywhere-update.service
[Unit]
Description=Keep IAM Roles Anywhere credentials fresh in a credentials file
Wants=network-online.target
After=network-online.target roles-anywhere-update-once.service
# Bounded restarts: more than 5 starts within 300 s stop the unit (RestartSec=10 x 5 < 300, so a unit that keeps
# failing at start-up does reach the limit; systemd's default of 5 in 10 s never triggers with a 5 s delay).
StartLimitBurst=5
StartLimitIntervalSec=300

[Service]
${readiness(ctx, "the credentials file holds credentials")}
${identity(ctx)}
Environment=AWS_SHARED_CREDENTIALS_FILE=${CREDENTIALS_FILE}
StateDirectory=roles-anywhere-agent
StateDirectoryMode=0750
ExecStart=${execStart(ctx, ["update", "--config", ctx.configPath, "--config-profile", ctx.profile])}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=10
${NO_RESTART_AFTER}
TimeoutStopSec=40
${sandbox(ctx)}

[Install]
WantedBy=multi-user.target
`;
}

function updateOnceUnit(ctx: UnitContext): string {
  return `# Generated by: roles-anywhere-agent install-systemd
# System unit: writes profile [${ctx.profile}] into ${CREDENTIALS_FILE} once at boot, before the services
# that need it. In each consumer unit add:   Wants=roles-anywhere-update-once.service
#                                            After=roles-anywhere-update-once.service
# The write is atomic (temp file + rename, 0600) and locked, so it can run next to roles-anywhere-update.service.
[Unit]
Description=Write IAM Roles Anywhere credentials once (boot)
Wants=network-online.target
After=network-online.target time-sync.target
# Bounded retries: at most three starts within ten minutes (see Restart= below). Each attempt lasts at most
# TimeoutStartSec=120 plus RestartSec=10, and 3 x 130 s < 600 s, so the limit triggers even when every attempt
# runs into its timeout.
StartLimitBurst=3
StartLimitIntervalSec=600

[Service]
Type=oneshot
RemainAfterExit=yes
${identity(ctx)}
Environment=AWS_SHARED_CREDENTIALS_FILE=${CREDENTIALS_FILE}
StateDirectory=roles-anywhere-agent
StateDirectoryMode=0750
# The network may come up late on a gateway: a failed attempt is retried 10 s later (Restart=, StartLimit*).
ExecStart=${[ctx.node, ctx.cli, "update", "--once", "--config", ctx.configPath, "--config-profile", ctx.profile].map(execWord).join(" ")}
Restart=on-failure
RestartSec=10
${NO_RESTART_AFTER}
TimeoutStartSec=120
${sandbox(ctx)}

[Install]
WantedBy=multi-user.target
`;
}

function agentSocket(): string {
  return `# Generated by: roles-anywhere-agent install-systemd
# User unit: systemd creates the agent's socket at login and starts the agent on the first request.
#   enable (per user):  systemctl --user enable --now roles-anywhere-agent.socket
#   use:                credential_process = curl -sf --unix-socket /run/user/<UID>/roles-anywhere-agent.sock http://agent/v1/credentials/<profile>
[Unit]
Description=IAM Roles Anywhere credential agent socket

[Socket]
# %t is $XDG_RUNTIME_DIR (/run/user/UID, mode 0700, owned by the user): only this user can connect.
ListenStream=%t/roles-anywhere-agent.sock
SocketMode=0600
DirectoryMode=0700
RemoveOnStop=yes
# No process of ours runs here; set anyway so that an ExecStartPre= added later cannot dump core.
LimitCORE=0

[Install]
WantedBy=sockets.target
`;
}

function agentService(ctx: UnitContext): string {
  return `# Generated by: roles-anywhere-agent install-systemd
# User unit started by roles-anywhere-agent.socket (socket activation: the agent receives the socket as fd 3).
# Profiles come from ~/.config/roles-anywhere-agent/config.json. PINs must come from files or environment
# variables (file:/env: in the config): there is no terminal to prompt on.
#   reload the config:  systemctl --user reload roles-anywhere-agent     (SIGHUP)
#   stop:               systemctl --user stop roles-anywhere-agent       (SIGTERM: token sessions closed, TPM objects flushed)
[Unit]
Description=IAM Roles Anywhere credential agent
Requires=roles-anywhere-agent.socket
After=roles-anywhere-agent.socket
# Bounded restarts: more than 5 starts within 120 s stop the unit (RestartSec=5 x 5 < 120, so a unit that keeps
# failing at start-up does reach the limit; systemd's default of 5 in 10 s never triggers with a 5 s delay).
StartLimitBurst=5
StartLimitIntervalSec=120

[Service]
Type=simple
ExecStart=${execStart(ctx, ["agent"])}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
${NO_RESTART_AFTER}
# Give an in-flight CreateSession time to finish before the signer is closed.
TimeoutStopSec=40
NoNewPrivileges=yes
PrivateTmp=yes
UMask=0077

[Install]
Also=roles-anywhere-agent.socket
`;
}

function sysusers(ctx: UnitContext): string {
  return `# Generated by: roles-anywhere-agent install-systemd (read by systemd-sysusers at boot and on install)
# The system user of roles-anywhere-serve/-update, in group tss to open the TPM (${ctx.tpmDevice}).
g tss -
u ${ctx.user} - "IAM Roles Anywhere agent" ${STATE_DIR} /usr/sbin/nologin
m ${ctx.user} tss
`;
}

function tmpfiles(ctx: UnitContext): string {
  return `# Generated by: roles-anywhere-agent install-systemd (read by systemd-tmpfiles at boot and on install)
# The config directory: root writes it, the services read it. Put config.json (and key or PIN files) here,
# owned by root, group ${ctx.user}, mode 0640.
d ${CONFIG_DIR} 0750 root ${ctx.user} -
`;
}
