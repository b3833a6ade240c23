import { describe, expect, it } from "vitest";
import { parseTpmDeviceSpec } from "../../src/tpm/transport/open-transport.js";

describe("--tpm-device / TPM_DEVICE forms", () => {
  it.each([
    [undefined, { kind: "default" }],
    ["", { kind: "default" }],
    ["/dev/tpmrm0", { kind: "path", path: "/dev/tpmrm0" }],
    ["/run/swtpm/tpm.sock", { kind: "path", path: "/run/swtpm/tpm.sock" }],
    ["device:/dev/tpm0", { kind: "path", path: "/dev/tpm0" }],
    ["unix:/tmp/s.sock", { kind: "socket", address: { kind: "unix", path: "/tmp/s.sock" }, framing: "raw" }],
    ["tcp:127.0.0.1:2321", { kind: "socket", address: { kind: "tcp", host: "127.0.0.1", port: 2321 }, framing: "raw" }],
    ["tcp:[::1]:2321", { kind: "socket", address: { kind: "tcp", host: "::1", port: 2321 }, framing: "raw" }],
    ["mssim:localhost:2321", { kind: "socket", address: { kind: "tcp", host: "localhost", port: 2321 }, framing: "mssim" }],
    ["mssim:host=10.0.0.2,port=2400", { kind: "socket", address: { kind: "tcp", host: "10.0.0.2", port: 2400 }, framing: "mssim" }],
    ["swtpm:path=/tmp/s.sock", { kind: "socket", address: { kind: "unix", path: "/tmp/s.sock" }, framing: "raw" }],
    ["swtpm:host=127.0.0.1,port=2321", { kind: "socket", address: { kind: "tcp", host: "127.0.0.1", port: 2321 }, framing: "raw" }],
    ["swtpm:", { kind: "socket", address: { kind: "tcp", host: "localhost", port: 2321 }, framing: "raw" }],
  ] as const)("%s", (text, expected) => {
    expect(parseTpmDeviceSpec(text)).toEqual(expected);
  });

  it.each(["tcp:host", "tcp:host:0", "tcp:host:70000", "ftp:x", "unix:", "device:", "mssim:", "mssim:host", "tpmrm0"])("rejects %s with a usage error", (text) => {
    expect(() => parseTpmDeviceSpec(text)).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  // These used to fall back to localhost:2321 silently, a typo connecting to whatever listens there.
  it.each(["swtpm:prot=2400", "swtpm:path=", "swtpm:host=,port=2321", "mssim:host=h,port=", "swtpm:path=/s,host=h"])(
    "rejects the TCTI configuration %s (unknown key, empty value, path with host) with a usage error",
    (text) => {
      expect(() => parseTpmDeviceSpec(text)).toThrow(expect.objectContaining({ code: "USAGE" }));
    },
  );
});
