/** DeviceTransport.open: why a TPM device could not be opened, by errno, each with what to do. */
import { describe, expect, it, vi } from "vitest";

const failWith = vi.hoisted(() => ({ code: "EACCES" }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  const open = async (path: string) => {
    throw Object.assign(new Error(`${failWith.code}: open '${path}'`), { code: failWith.code });
  };
  return { ...fs, default: { ...fs, open }, open };
});
const { DeviceTransport } = await import("../../src/tpm/transport/device-transport.js");

const GROUP = "add your user to the group that owns the device (usually 'tss') and log in again";
const RESOURCE_MANAGER = "use the kernel resource manager /dev/tpmrm0, which many processes can share";

describe("opening a TPM character device that refuses", () => {
  it.each([
    ["EACCES", "permission denied opening /dev/tpm0", GROUP],
    ["EPERM", "permission denied opening /dev/tpm0", GROUP],
    ["EBUSY", "/dev/tpm0 is in use by another process", RESOURCE_MANAGER],
    ["EIO", "cannot open /dev/tpm0: EIO", undefined],
    ["toString", "cannot open /dev/tpm0: toString", undefined],
  ])("%s: says why, and what to do", async (code, message, hint) => {
    failWith.code = code;
    const error = await DeviceTransport.open("/dev/tpm0").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TPM_UNAVAILABLE", message, hint, cause: expect.objectContaining({ code }) });
  });
});
