import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.js";
import { openTpmTransport, parseTpmDeviceSpec } from "../../src/tpm/transport/open-transport.js";

describe("--tpm-device / TPM_DEVICE forms", () => {
  it.each([
    [undefined, { kind: "default" }],
    ["", { kind: "default" }],
    ["/dev/tpmrm0", { kind: "path", path: "/dev/tpmrm0" }],
    ["/run/swtpm/tpm.sock", { kind: "path", path: "/run/swtpm/tpm.sock" }],
    ["device:/dev/tpm0", { kind: "path", path: "/dev/tpm0", deviceOnly: true }],
    ["unix:/tmp/s.sock", { kind: "socket", address: { kind: "unix", path: "/tmp/s.sock" }, framing: "raw" }],
    ["tcp:127.0.0.1:2321", { kind: "socket", address: { kind: "tcp", host: "127.0.0.1", port: 2321 }, framing: "raw" }],
    ["tcp:[::1]:2321", { kind: "socket", address: { kind: "tcp", host: "::1", port: 2321 }, framing: "raw" }],
    ["tcp:::1:2321", { kind: "socket", address: { kind: "tcp", host: "::1", port: 2321 }, framing: "raw" }],
    ["tcp:[fe80::1%eth0]:2321", { kind: "socket", address: { kind: "tcp", host: "fe80::1%eth0", port: 2321 }, framing: "raw" }],
    ["swtpm:host=::1,port=2321", { kind: "socket", address: { kind: "tcp", host: "::1", port: 2321 }, framing: "raw" }],
    ["mssim:localhost:2321", { kind: "socket", address: { kind: "tcp", host: "localhost", port: 2321 }, framing: "mssim" }],
    ["mssim:host=10.0.0.2,port=2400", { kind: "socket", address: { kind: "tcp", host: "10.0.0.2", port: 2400 }, framing: "mssim" }],
    ["swtpm:path=/tmp/s.sock", { kind: "socket", address: { kind: "unix", path: "/tmp/s.sock" }, framing: "raw" }],
    ["swtpm:host=127.0.0.1,port=2321", { kind: "socket", address: { kind: "tcp", host: "127.0.0.1", port: 2321 }, framing: "raw" }],
    ["swtpm:", { kind: "socket", address: { kind: "tcp", host: "localhost", port: 2321 }, framing: "raw" }],
  ] as const)("%s", (text, expected) => {
    expect(parseTpmDeviceSpec(text)).toEqual(expected);
  });

  // A colon in the host that does not make an IPv6 address: "tcp:fe80::1" is no host "fe80:" on port 1.
  it.each(["tcp:fe80::1", "tcp:a:b:2321", "mssim:host=[::1],port=2321", "tcp:[a:b]:2321"])("rejects %s with a usage error", (text) => {
    expect(() => parseTpmDeviceSpec(text)).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  it.each(["tcp:host", "tcp:host:0", "tcp:host:70000", "ftp:x", "unix:", "device:", "mssim:", "mssim:host", "tpmrm0"])("rejects %s with a usage error", (text) => {
    expect(() => parseTpmDeviceSpec(text)).toThrow(expect.objectContaining({ code: "USAGE" }));
  });

  // The OS would stop reading at the NUL and open, connect to or resolve what comes before it.
  it.each(["unix:/tmp/s.sock\u0000x", "/dev/tpmrm0\u0000", "tcp:127.0.0.1\u0000:2321", "swtpm:path=/s\u0001", "device:/dev/tpm0\n/x"])(
    "rejects %j (a control character) with a usage error",
    (text) => {
      expect(() => parseTpmDeviceSpec(text)).toThrow(expect.objectContaining({ code: "USAGE" }));
    },
  );

  // These used to fall back to localhost:2321 silently, a typo connecting to whatever listens there.
  it.each(["swtpm:prot=2400", "swtpm:path=", "swtpm:host=,port=2321", "mssim:host=h,port=", "swtpm:path=/s,host=h"])(
    "rejects the TCTI configuration %s (unknown key, empty value, path with host) with a usage error",
    (text) => {
      expect(() => parseTpmDeviceSpec(text)).toThrow(expect.objectContaining({ code: "USAGE" }));
    },
  );
});

describe("--tpm-device naming something that is no TPM: what it is and what was expected, input error (exit 3)", () => {
  const dir = mkdtempSync(join(tmpdir(), "raa-tpm-device-"));
  const at = (name: string) => join(dir, name);
  let server: Server;
  beforeAll(async () => {
    execFileSync("mkfifo", [at("fifo")]);
    mkdirSync(at("dir"));
    writeFileSync(at("file"), "not a TPM");
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(at("sock"), () => r()));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function failure(device: string): Promise<{ code: string; category: string; message: string; hint?: string }> {
    const t = await openTpmTransport(device, {}).catch((e: unknown) => e);
    if (t instanceof Error) return t as never;
    const e = await (t as Awaited<ReturnType<typeof openTpmTransport>>).transmit(Buffer.alloc(10)).catch((err: unknown) => err);
    return e as never;
  }

  it.each([
    ["fifo", "a FIFO"],
    ["dir", "a directory"],
    ["file", "a regular file"],
  ])("a path to a %s", async (name, kind) => {
    const e = await failure(at(name));
    expect(e).toMatchObject({ code: "TPM_DEVICE_INVALID", category: "input" });
    expect(e.message).toBe(`the TPM device ${at(name)} is ${kind}, not a TPM character device or a TPM simulator's socket`);
  });

  it("device: (a character device) naming a socket", async () => {
    const e = await failure(`device:${at("sock")}`);
    expect(e).toMatchObject({ code: "TPM_DEVICE_INVALID", message: `the TPM device ${at("sock")} is a socket, not a TPM character device` });
    expect(e.hint).toBe(`for a simulator's socket write unix:${at("sock")}`);
  });

  it.each([
    ["fifo", "a FIFO"],
    ["dir", "a directory"],
    ["file", "a regular file"],
  ])("unix: naming a %s", async (name, kind) => {
    const e = await failure(`unix:${at(name)}`);
    expect(e).toMatchObject({ code: "TPM_DEVICE_INVALID", category: "input", message: `the TPM socket ${at(name)} is ${kind}, not a socket` });
  });

  it("unix: naming a character device says to give the device's path alone", async () => {
    const e = await failure("unix:/dev/null");
    expect(e).toMatchObject({ code: "TPM_DEVICE_INVALID", message: "the TPM socket /dev/null is a character device, not a socket" });
    expect(e.hint).toBe("for a TPM device give its path alone: /dev/null");
  });

  it("through the CLI: one line, exit 3", async () => {
    let stderr = "";
    const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
    const argv = ["sign-string", "--private-key", "handle:0x81000101", "--no-tpm-key-password", "--tpm-device", at("fifo")];
    expect(await main(argv, io)).toBe(3);
    expect(stderr.trim().split("\n")).toEqual([expect.stringContaining(`the TPM device ${at("fifo")} is a FIFO, not a TPM`)]);
  });
});

describe("which TPM openTpmTransport opens", () => {
  const dir = mkdtempSync(join(tmpdir(), "raa-tpm-open-"));
  const sock = join(dir, "sock");
  let server: Server;
  beforeAll(async () => {
    writeFileSync(join(dir, "file"), "");
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(sock, () => r()));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });
  const opened = async (device: string | undefined, env: NodeJS.ProcessEnv = {}) => {
    const t = await openTpmTransport(device, env);
    await t.close();
    return [t.constructor.name, t.description];
  };

  it("--tpm-device first, else TPM_DEVICE from the environment; a socket's framing as written", async () => {
    expect(await opened("tcp:127.0.0.1:2321", { TPM_DEVICE: "mssim:127.0.0.1:2400" })).toEqual(["SocketTransport", "tcp:127.0.0.1:2321"]);
    expect(await opened(undefined, { TPM_DEVICE: "mssim:127.0.0.1:2400" })).toEqual(["SocketTransport", "mssim:127.0.0.1:2400"]);
    expect(await opened(undefined, { TPM_DEVICE: "/dev/null" })).toEqual(["DeviceTransport", "/dev/null"]);
  });

  it("a path: a character device is opened as a device, a socket as a simulator (not with device:)", async () => {
    expect(await opened("/dev/null")).toEqual(["DeviceTransport", "/dev/null"]);
    expect(await opened("device:/dev/null")).toEqual(["DeviceTransport", "/dev/null"]);
    expect(await opened(sock)).toEqual(["SocketTransport", `unix:${sock}`]);
  });

  it("a path that does not exist, or runs through a file: 'no TPM at', with the option to check", async () => {
    for (const path of [join(dir, "absent"), join(dir, "file", "x")]) {
      await expect(openTpmTransport(path, {}, "--device")).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", message: `no TPM at ${path}`, hint: "check --device / TPM_DEVICE" });
    }
  });

  it.runIf(!existsSync("/dev/tpmrm0") && !existsSync("/dev/tpm0"))("nothing named and no /dev/tpmrm0 nor /dev/tpm0: says so, naming both", async () => {
    await expect(openTpmTransport(undefined, {})).rejects.toMatchObject({ code: "TPM_UNAVAILABLE", message: "no TPM found (/dev/tpmrm0, /dev/tpm0 do not exist)" });
  });
});
