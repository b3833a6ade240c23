import { afterEach, describe, expect, it } from "vitest";
import { loadNativeHelper } from "../../src/os/native-helper.js";
import { reportReady } from "../../src/os/service-manager.js";

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
