import { describe, expect, it, vi } from "vitest";
import { withProgress } from "../../src/cli/progress.js";
import { waitForDevice } from "../../src/signers/wait-for-device.js";
import { AuthError, DeviceError, InputError } from "../../src/errors.js";

function collector(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (t: string | Uint8Array) => chunks.push(String(t)) };
}

describe("progress", () => {
  it("not a terminal: exactly one line, at start", async () => {
    const out = collector(false);
    expect(await withProgress("generating a p256 key in the TPM", out, async () => 42, { spinner: false })).toBe(42);
    expect(out.chunks.join("")).toBe("generating a p256 key in the TPM…\n");
  });

  it("a terminal: a one-line spinner with the elapsed time, replaced by the outcome", async () => {
    vi.useFakeTimers();
    try {
      const out = collector(true);
      let t = 0;
      const done = withProgress("generating an rsa2048 key in the TPM", out, () => new Promise((r) => setTimeout(() => r("ok"), 12_000)), {
        spinner: true,
        now: () => t,
      });
      for (let i = 0; i < 120; i++) {
        t += 100;
        await vi.advanceTimersByTimeAsync(100);
      }
      expect(await done).toBe("ok");
      const frames = out.chunks.slice(0, -1);
      expect(frames.length).toBeGreaterThan(100);
      expect(frames.every((f) => /^\r\x1b\[K. generating an rsa2048 key in the TPM… \d+(\.\d)? s$/.test(f))).toBe(true);
      expect(frames.at(-1)).toMatch(/… 1[12](\.\d)? s$/);
      expect(out.chunks.at(-1)).toBe("\r\x1b[K✔ generating an rsa2048 key in the TPM: done in 12 s\n");
    } finally {
      vi.useRealTimers();
    }
  });

  it("a terminal, the work failing: the spinner replaced by the failure and its time, the error thrown", async () => {
    const out = collector(true);
    let t = 0;
    const error = new DeviceError("TPM_ERROR", "the TPM has no room for another persistent object");
    const failing = withProgress("generating a p256 key in the TPM", out, async () => {
      t = 2_345;
      throw error;
    }, { spinner: true, now: () => t });
    await expect(failing).rejects.toBe(error);
    expect(out.chunks).toEqual([
      "\r\x1b[K⠋ generating a p256 key in the TPM… 0.0 s",
      "\r\x1b[K✘ generating a p256 key in the TPM: failed after 2.3 s\n",
    ]);
  });
});

describe("wait for device", () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  };

  it("retries while the token is absent, and returns once it is there", async () => {
    const c = clock();
    const lines: string[] = [];
    let calls = 0;
    const result = await waitForDevice(
      async () => {
        if (++calls < 5) throw new DeviceError("PKCS11_TOKEN_NOT_FOUND", "no token matches pkcs11:token=late");
        return "signer";
      },
      { timeoutMs: 10_000, onWait: (l) => lines.push(l), ...c },
    );
    expect(result).toBe("signer");
    expect(calls).toBe(5);
    expect(lines).toEqual(["waiting up to 10 s for the device: no token matches pkcs11:token=late"]);
  });

  it("gives up with the device's own error after the timeout", async () => {
    const c = clock();
    let calls = 0;
    await expect(
      waitForDevice(async () => {
        calls++;
        throw new DeviceError("TPM_UNAVAILABLE", "cannot reach the TPM at unix:/run/swtpm.sock");
      }, { timeoutMs: 3000, ...c }),
    ).rejects.toMatchObject({ code: "TPM_UNAVAILABLE" });
    expect(calls).toBe(4);
    expect(c.now()).toBe(3000);
  });

  it("never retries a wrong PIN, a TPM authorisation failure or any other error", async () => {
    for (const error of [new AuthError("PIN_INCORRECT", "wrong PIN"), new AuthError("TPM_AUTH_FAILED", "wrong TPM key password"), new InputError("FILE_NOT_FOUND", "x")]) {
      let calls = 0;
      await expect(waitForDevice(async () => { calls++; throw error; }, { timeoutMs: 60_000, ...clock() })).rejects.toBe(error);
      expect(calls).toBe(1);
    }
  });

  it("an aborted signal ends the wait between tries, cutting the sleep short, with the signal's reason", async () => {
    // Before: no way to end the wait; a closed credential source waited up to --wait-for-device (a day) for it.
    const controller = new AbortController();
    const reason = new Error("closed");
    let calls = 0;
    let sleeping = 0;
    const sleep = async () => {
      if (++sleeping < 3) return;
      setTimeout(() => controller.abort(reason), 1);
      await new Promise(() => {}); // never ends by itself: the abort cuts it short
    };
    const waiting = waitForDevice(async () => {
      calls++;
      throw new DeviceError("PKCS11_TOKEN_NOT_FOUND", "no token matches pkcs11:token=late");
    }, { timeoutMs: 86_400_000, signal: controller.signal, now: () => 0, sleep });
    await expect(waiting).rejects.toBe(reason);
    expect([calls, sleeping]).toEqual([3, 3]);

    const late = new AbortController();
    let tries = 0;
    const opened = waitForDevice(async () => {
      if (++tries === 1) throw new DeviceError("TPM_UNAVAILABLE", "cannot reach the TPM");
      late.abort(reason); // closed during the device call that succeeds: that call finishes, its result returned
      return "signer";
    }, { timeoutMs: 60_000, signal: late.signal, ...clock() });
    expect(await opened).toBe("signer");
    await expect(waitForDevice(async () => "never", { timeoutMs: 1, signal: late.signal })).rejects.toBe(reason);
  });
});
