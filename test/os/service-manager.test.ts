import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { loadNativeHelper } from "../../src/os/native-helper.js";
import { checkReadinessReporting, readinessGate, reportReady } from "../../src/os/service-manager.js";

const saved = process.env["NOTIFY_SOCKET"];
afterEach(() => {
  if (saved === undefined) delete process.env["NOTIFY_SOCKET"];
  else process.env["NOTIFY_SOCKET"] = saved;
});

function warningFor(socket: string): string[] {
  process.env["NOTIFY_SOCKET"] = socket;
  const lines: string[] = [];
  reportReady("serving", (line) => lines.push(line));
  return lines;
}

describe("reportReady: a NOTIFY_SOCKET it cannot send to", () => {
  it("one warning naming NOTIFY_SOCKET and what it must be, not the native helper's call signature", () => {
    // Before: 'cannot tell systemd that the service is ready (notify(path, text): path must be an absolute path or
    // @name shorter than sun_path, text shorter than 4 KiB)'.
    const expected = [
      "warning: cannot tell systemd that the service is ready (NOTIFY_SOCKET is not an absolute path or @name of at most 107 bytes (vsock: addresses are not supported)): a Type=notify unit will time out",
    ];
    for (const socket of ["run/notify", "vsock:2:1234", "@", `/${"a".repeat(107)}`]) expect(warningFor(socket)).toEqual(expected);
    expect(warningFor("")).toEqual([]); // unset or empty: not under systemd
    delete process.env["NOTIFY_SOCKET"];
    const lines: string[] = [];
    reportReady("serving", (line) => lines.push(line));
    expect(lines).toEqual([]);
    // 107 bytes fit sockaddr_un: sent (and failing, nobody listens there), not refused by the bound.
    expect(warningFor(`/nonexistent/${"a".repeat(94)}`)[0]).not.toMatch(/at most 107 bytes/);
  });
});

describe("reportReady: a NOTIFY_SOCKET nobody listens on", () => {
  // The send goes through the native helper (built by npm run build).
  it.runIf(loadNativeHelper().helper !== undefined)("the send's failure is the one warning line", () => {
    const [line, ...more] = warningFor("/nonexistent/raa-notify.sock");
    expect(more).toEqual([]);
    const sent = "sendto(NOTIFY_SOCKET): No such file or directory";
    const unit = "a Type=notify unit will time out";
    expect(line).toBe(`warning: cannot tell systemd that the service is ready (${sent}): ${unit}`);
  });
});

/** A service manager's notify socket (Python: Node.js has no UNIX datagram sockets): the first datagram it gets. */
async function receiver(path: string): Promise<{ first: Promise<string>; stop: () => void }> {
  const code = "import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\n" +
    "print('bound', flush=True)\nprint(repr(s.recv(4096).decode()), flush=True)\n";
  const python = spawn("python3", ["-c", code, path], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: python.stdout })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe("bound");
  return { first: lines.next().then((r) => r.value as string), stop: () => python.kill("SIGKILL") };
}

describe("reportReady: what systemd receives", () => {
  it.runIf(loadNativeHelper().helper !== undefined)(
    "READY=1 and one STATUS line: a line break in the status cannot add a line of its own (STOPPING=1, MAINPID=)",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "raa-notify-"));
      const socket = join(dir, "notify");
      const manager = await receiver(socket);
      try {
        const lines: string[] = [];
        process.env["NOTIFY_SOCKET"] = socket;
        reportReady("profile [x\nSTOPPING=1\nMAINPID=1] written", (line) => lines.push(line));
        expect(await manager.first).toBe(repr("READY=1\nSTATUS=profile [x STOPPING=1 MAINPID=1] written"));
        expect(lines).toEqual([]);
      } finally {
        manager.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("a NOTIFY_SOCKET over 107 bytes is refused by its bytes, not its characters", () => {
    const [line] = warningFor(`/${"é".repeat(60)}`); // 61 characters, 121 bytes
    expect(line).toMatch(/NOTIFY_SOCKET is not an absolute path or @name of at most 107 bytes/);
  });
});

/** Python's repr() of a str without quotes in it. */
function repr(text: string): string {
  return `'${text.replace(/\n/g, "\\n")}'`;
}

describe("checkReadinessReporting (serve and update, at start)", () => {
  // Which branch runs depends on whether `npm run build` has put the native helper in place; both are checked.
  const { helper, reason } = loadNativeHelper();
  it.runIf(helper === undefined)("without the native helper: refused under Type=notify (NOTIFY_SOCKET set), not outside it", () => {
    process.env["NOTIFY_SOCKET"] = "/run/systemd/notify";
    expect(() => checkReadinessReporting()).toThrow(expect.objectContaining({
      code: "INTERNAL",
      message: `cannot tell systemd that the service is ready (${reason}): its Type=notify unit would wait for ever`,
    }));
    for (const unset of ["", undefined]) {
      if (unset === undefined) delete process.env["NOTIFY_SOCKET"];
      else process.env["NOTIFY_SOCKET"] = unset; // empty: not under systemd, as reportReady reads it
      expect(() => checkReadinessReporting()).not.toThrow();
    }
  });
  it.runIf(helper !== undefined)("with a native helper that can notify: started under Type=notify", () => {
    process.env["NOTIFY_SOCKET"] = "/run/systemd/notify";
    expect(() => checkReadinessReporting()).not.toThrow();
  });
});

describe("readinessGate", () => {
  it("runs once, when the last pending name arrives: not for a repeated or an unknown one, not twice", () => {
    let runs = 0;
    const arrived = readinessGate(["listening", "role-a", "role-b"], () => runs++);
    for (const name of ["role-a", "role-a", "other", "listening"]) arrived(name);
    expect(runs).toBe(0);
    arrived("role-b");
    expect(runs).toBe(1);
    for (const name of ["role-b", "listening", "other"]) arrived(name);
    expect(runs).toBe(1);
  });
});
