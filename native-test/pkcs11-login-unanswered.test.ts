/**
 * A YubiKey pulled while it checks the PIN: the PIV card emulator (native-test/helpers/piv) counts the VERIFY on its
 * retry counter and never answers, as a card pulled in those milliseconds does; the real module (OpenSC, ykcs11)
 * then fails C_Login with a device error. The card back in, a signer opened anew by the same process (a reload, a
 * daemon's refresh) must not present that PIN again: a wrong one would cost a second try. The signers are opened in
 * a child process (the built package): C_Login blocks its caller's event loop, which here serves the card.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPENSC_MODULE, startVirtualYubiKey, YKCS11_MODULE, type VirtualYubiKey } from "./helpers/piv/virtual-yubikey.js";
import type { VirtualCard } from "./helpers/piv/private-pcscd.js";

let yubikey: VirtualYubiKey;
/** Set: the next VERIFY that carries a PIN is counted by the card and left unanswered, the card pulled. */
let pullAtVerify = false;
let pulling: VirtualCard;
let pulled = false;

beforeAll(async () => {
  yubikey = await startVirtualYubiKey();
  const card = yubikey.card;
  pulling = {
    get atr() {
      return card.atr;
    },
    reset: () => card.reset(),
    transmit(apdu) {
      const answer = card.transmit(apdu);
      const verifyWithPin = apdu[1] === 0x20 && apdu[2] === 0x00 && apdu.length > 5 && apdu[4]! > 0;
      if (!pullAtVerify || !verifyWithPin) return answer;
      pullAtVerify = false;
      pulled = true;
      void yubikey.pcscd.remove();
      return undefined;
    },
  };
  await yubikey.pcscd.remove();
  await yubikey.pcscd.insert(pulling);
});

afterAll(async () => {
  await yubikey?.stop();
});

/** Opens a signer with `pin` once per line on its stdin, and prints each outcome as a JSON line. */
const OPENER = `
import { createInterface } from "node:readline";
import { createPkcs11Signer } from ${JSON.stringify(join(process.cwd(), "dist/lib/index.js"))};
const [module, pin] = process.argv.slice(1);
for await (const _ of createInterface({ input: process.stdin })) {
  const outcome = await createPkcs11Signer({
    keyUri: "pkcs11:id=%01;type=private", certificateUri: "pkcs11:id=%01;type=cert", library: module, pin: { kind: "value", value: pin },
  }).then(async (s) => { await s.close(); return { ok: true }; }, (e) => ({ code: e.code, message: e.message }));
  console.log(JSON.stringify(outcome));
}
`;

function opener(module: string, pin: string) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", OPENER, module, pin], { env: yubikey.env, stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    async open(): Promise<{ ok?: boolean; code?: string; message?: string }> {
      child.stdin!.write("open\n");
      const line = await lines.next();
      if (line.done) throw new Error("the opener exited");
      return JSON.parse(line.value) as { ok?: boolean; code?: string; message?: string };
    },
    async close(): Promise<void> {
      child.stdin!.end();
      if (child.exitCode === null) await once(child, "exit");
    },
  };
}

/**
 * Plugs the pulled card in again. pcscd sometimes does not power a card put back right after it went (it may not
 * have polled the empty reader in between): pulled and put back once more, then.
 */
async function putBack(): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await yubikey.pcscd.insert(pulling);
      pulled = false;
      return;
    } catch (error) {
      if (tries === 3) throw error;
      await yubikey.pcscd.remove();
    }
  }
}

describe.each([
  { name: "OpenSC", module: OPENSC_MODULE },
  { name: "ykcs11", module: YKCS11_MODULE },
])("a YubiKey pulled during C_Login, through $name", ({ module }) => {
  it("the PIN that went unanswered is not presented again by this process", async () => {
    const card = yubikey.card;
    expect(card.pinRetries).toBe(3);
    const before = card.pinPresentations().failed;
    const agent = opener(module, "65432198"); // a wrong PIN: what a second presentation would cost
    try {
      pullAtVerify = true;
      const lost = await agent.open();
      expect(pullAtVerify, "the card saw the VERIFY").toBe(false);
      await putBack();
      const again = await agent.open();
      expect(card.pinPresentations().failed - before, "VERIFYs with the wrong PIN").toBe(1);
      expect(card.pinRetries).toBe(2);
      expect(lost).toMatchObject({
        code: "PKCS11_ERROR",
        message: expect.stringMatching(/^C_Login on .* failed: CKR_\w+ \(0x\w+\), after the PIN from a value given directly was presented; it is not presented again$/),
      });
      expect(again).toMatchObject({
        code: "PKCS11_ERROR",
        message: expect.stringMatching(/did not answer when the PIN from a value given directly was presented; it was not presented again$/),
      });
    } finally {
      pullAtVerify = false;
      await agent.close();
      if (pulled) await putBack();
      // Another process presents the right PIN: the counter back to 3 for the next module.
      const right = opener(module, yubikey.pin);
      try {
        expect(await right.open()).toEqual({ ok: true });
      } finally {
        await right.close();
      }
    }
    expect(card.pinRetries).toBe(3);
  });
});
