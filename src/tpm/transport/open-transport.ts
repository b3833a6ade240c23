import { stat } from "node:fs/promises";
import { isIPv6 } from "node:net";
import { DeviceError, InputError, UsageError } from "../../errors.js";
import { fileKind } from "../../io/trusted-path.js";
import { DeviceTransport } from "./device-transport.js";
import { SocketTransport, type SocketAddress, type SocketFraming } from "./socket-transport.js";
import { deviceOption, type TpmTransport } from "./transport.js";

/** Where the TPM is, after parsing `--tpm-device` / `TPM_DEVICE`. */
type TpmDeviceSpec =
  | { kind: "default" }
  /** A path: a character device, or (as the Go helper does) a UNIX socket of a simulator; `device:` a device only. */
  | { kind: "path"; path: string; deviceOnly?: true }
  | { kind: "socket"; address: SocketAddress; framing: SocketFraming };

const DEFAULT_DEVICES = ["/dev/tpmrm0", "/dev/tpm0"] as const;

/**
 * Accepted forms:
 * - `/dev/tpmrm0`, `/path/to/swtpm.sock` (a path; its file type decides),
 * - `unix:/path/to/swtpm.sock`,
 * - `tcp:HOST:PORT` (raw TPM commands, what swtpm speaks), `mssim:HOST:PORT` (Microsoft simulator framing),
 * - tpm2-tss TCTI strings: `device:/dev/tpmrm0`, `swtpm:path=/x.sock`, `swtpm:host=H,port=P`, `mssim:host=H,port=P`.
 */
export function parseTpmDeviceSpec(text: string | undefined): TpmDeviceSpec {
  const value = text?.trim();
  if (!value) return { kind: "default" };
  // The OS reads a path or host name up to a NUL: "unix:/run/tpm.sock\0x" would reach /run/tpm.sock.
  if (/[\u0000-\u001f\u007f]/.test(value)) throw invalid(value);
  if (value.startsWith("/") || value.startsWith(".")) return { kind: "path", path: value };
  const colon = value.indexOf(":");
  if (colon < 0) throw invalid(value);
  const scheme = value.slice(0, colon).toLowerCase();
  const rest = value.slice(colon + 1);
  if ((scheme === "device" || scheme === "unix") && !rest) throw invalid(value);
  if (scheme === "device") return { kind: "path", path: rest, deviceOnly: true };
  if (scheme === "unix") return { kind: "socket", address: { kind: "unix", path: rest }, framing: "raw" };
  if (scheme === "tcp") return { kind: "socket", address: parseHostPort(rest, value), framing: "raw" };
  if (scheme === "swtpm") return { kind: "socket", address: tctiAddress(rest, value), framing: "raw" };
  if (scheme !== "mssim") throw invalid(value);
  return { kind: "socket", address: rest.includes("=") ? tctiAddress(rest, value) : parseHostPort(rest, value), framing: "mssim" };
}

function invalid(value: string): UsageError {
  return new UsageError("USAGE", `unsupported TPM device "${value}"`, {
    hint: "use a device path (/dev/tpmrm0), unix:/path/to/socket, tcp:HOST:PORT or mssim:HOST:PORT",
  });
}

function parsePort(text: string, value: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw invalid(value);
  return port;
}

function parseHostPort(text: string, value: string): SocketAddress {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) return tcpAddress(bracketed[1]!, bracketed[2]!, value);
  const colon = text.lastIndexOf(":");
  if (colon <= 0) throw invalid(value);
  return tcpAddress(text.slice(0, colon), text.slice(colon + 1), value);
}

/** A host with a colon must be an IPv6 address: `tcp:fe80::1` is not host "fe80:" port 1. */
function tcpAddress(host: string, port: string, value: string): SocketAddress {
  if (host.includes(":") && !isIPv6(host)) throw invalid(value);
  return { kind: "tcp", host, port: parsePort(port, value) };
}

/**
 * tpm2-tss TCTI configuration: `path=/x` or `host=H,port=P` (defaults localhost:2321). Unknown keys, empty
 * values and a path with host or port are refused, as tpm2-tss does: a typo must not mean localhost:2321.
 */
function tctiAddress(text: string, value: string): SocketAddress {
  const conf = new Map<string, string>();
  for (const part of text.split(",").filter(Boolean)) {
    const eq = part.indexOf("=");
    if (!["host", "port", "path"].includes(part.slice(0, eq)) || eq === part.length - 1) throw invalid(value);
    conf.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const path = conf.get("path");
  if (path && conf.size > 1) throw invalid(value);
  if (path) return { kind: "unix", path };
  return tcpAddress(conf.get("host") ?? "localhost", conf.get("port") ?? "2321", value);
}

/**
 * Opens the TPM named by `--tpm-device`, else `TPM_DEVICE`, else /dev/tpmrm0 (falling back to /dev/tpm0 only
 * when tpmrm0 does not exist), like the Go helper. `option`: how hints name `device` (see {@link deviceOption}).
 */
export async function openTpmTransport(device: string | undefined, env = process.env, option?: string)
  : Promise<TpmTransport> {
  const spec = parseTpmDeviceSpec(device ?? env["TPM_DEVICE"]);
  if (spec.kind === "socket") return new SocketTransport(spec.address, { framing: spec.framing, option });
  if (spec.kind === "path") return openPath(spec.path, spec.deviceOnly === true, option);
  for (const path of DEFAULT_DEVICES) {
    if (await stat(path).then(() => true, () => false)) return DeviceTransport.open(path, option);
  }
  throw new DeviceError("TPM_UNAVAILABLE", `no TPM found (${DEFAULT_DEVICES.join(", ")} do not exist)`, {
    hint: `enable the TPM 2.0 in the firmware, or point ${deviceOption(option)} at one (e.g. unix:/path/to/swtpm.sock)`,
  });
}

async function openPath(path: string, deviceOnly: boolean, option: string | undefined): Promise<TpmTransport> {
  const info = await stat(path).catch((cause: NodeJS.ErrnoException) => {
    const absent = cause.code === "ENOENT" || cause.code === "ENOTDIR";
    const message = absent ? `no TPM at ${path}` : `cannot access ${path}: ${cause.code ?? String(cause)}`;
    throw new DeviceError("TPM_UNAVAILABLE", message, { cause, hint: `check ${deviceOption(option)}` });
  });
  if (info.isSocket() && !deviceOnly) return new SocketTransport({ kind: "unix", path }, { option });
  if (info.isCharacterDevice()) return DeviceTransport.open(path, option);
  const expected = deviceOnly ? "a TPM character device" : "a TPM character device or a TPM simulator's socket";
  const hint = info.isSocket()
    ? `for a simulator's socket write unix:${path}`
    : `point ${deviceOption(option)} at the TPM: /dev/tpmrm0, unix:/path/to/swtpm.sock or tcp:HOST:PORT`;
  throw new InputError("TPM_DEVICE_INVALID", `the TPM device ${path} is ${fileKind(info)}, not ${expected}`, { hint });
}
