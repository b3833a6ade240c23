import { stat } from "node:fs/promises";
import { DeviceError } from "../../errors.js";
import { DeviceTransport } from "./device-transport.js";
import { DEFAULT_DEVICES, parseTpmDeviceSpec } from "./device-spec.js";
import { SocketTransport } from "./socket-transport.js";
import type { TpmTransport } from "./transport.js";

/**
 * Opens the TPM named by `--tpm-device`, else `TPM_DEVICE`, else /dev/tpmrm0 (falling back to /dev/tpm0 only
 * when tpmrm0 does not exist), like the Go helper.
 */
export async function openTpmTransport(device: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<TpmTransport> {
  const spec = parseTpmDeviceSpec(device ?? env["TPM_DEVICE"]);
  switch (spec.kind) {
    case "socket":
      return new SocketTransport(spec.address, { framing: spec.framing });
    case "path":
      return openPath(spec.path);
    case "default": {
      for (const path of DEFAULT_DEVICES) {
        if (await stat(path).then(() => true, () => false)) return DeviceTransport.open(path);
      }
      throw new DeviceError("TPM_UNAVAILABLE", `no TPM found (${DEFAULT_DEVICES.join(", ")} do not exist)`, {
        hint: "enable the TPM 2.0 in the firmware, or point --tpm-device / TPM_DEVICE at one (e.g. unix:/path/to/swtpm.sock)",
      });
    }
  }
}

async function openPath(path: string): Promise<TpmTransport> {
  let info;
  try {
    info = await stat(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new DeviceError("TPM_UNAVAILABLE", code === "ENOENT" ? `no TPM at ${path}` : `cannot access ${path}: ${code ?? String(cause)}`, {
      cause,
      hint: "check --tpm-device / TPM_DEVICE",
    });
  }
  if (info.isSocket()) return new SocketTransport({ kind: "unix", path });
  if (info.isCharacterDevice()) return DeviceTransport.open(path);
  throw new DeviceError("TPM_UNAVAILABLE", `unsupported TPM file mode ${(info.mode & 0o170000).toString(8)} for ${path}`, {
    hint: "give a TPM character device (/dev/tpmrm0) or a simulator socket",
  });
}
