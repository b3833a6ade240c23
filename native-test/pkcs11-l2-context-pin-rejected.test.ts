/**
 * A context-specific PIN the token rejected (round 43, L2), on SoftHSM's always-authenticate key through OpenSC's
 * pkcs11-spy (which logs every C_Login the token is asked). The signer, kept open as an application keeps it, is asked
 * to sign three times: the PIN is presented once (the later calls fail as the first, the token untouched), and from
 * the refusal on no copy of it is left unwiped in this process. Before, the signer's RememberedPin kept it until
 * close(). A long-running source (signer-holder.ts) closes the signer at the refusal: its copy was wiped then.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createPkcs11Signer } from "../src/signers/pkcs11/index.js";
import { Secret } from "../src/secrets/secret.js";
import { createSoftHsmFixture, PKCS11_SPY_MODULE, type SoftHsmFixture, WRONG_PIN } from "./helpers/softhsm-fixture.js";
import { parseSpyLog } from "./helpers/pkcs11-spy-log.js";
import { failure } from "../test/helpers/agent-error.js";
import { holdSigner } from "../src/credentials/signer-holder.js";

let hsm: SoftHsmFixture;
let spyLog = "";
const restore: [string, string | undefined][] = [];

beforeAll(() => {
  hsm = createSoftHsmFixture("raa-l2-context-pin-");
  spyLog = join(hsm.dir, "spy.log");
  for (const [name, value] of [["SOFTHSM2_CONF", hsm.conf], ["PKCS11SPY", hsm.module], ["PKCS11SPY_OUTPUT", spyLog]] as const) {
    restore.push([name, process.env[name]]);
    process.env[name] = value;
  }
});

afterAll(() => {
  for (const [name, value] of restore) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  hsm.cleanup();
});

const URI = "pkcs11:token=rolesanywhere;object=always-auth";
/** The C_Login calls the spy logged as context-specific so far. */
const contextLogins = () => readFileSync(spyLog, "utf8").split(/^(?=\d+: C_\w+$)/m)
  .filter((block) => /^\d+: C_Login$/m.test(block) && /CKU_CONTEXT_SPECIFIC/.test(block)).length;

/** Records every Secret read from a file from now on; `unwiped(pin)`: those holding `pin` still readable. */
function watchSecrets() {
  const made: Secret[] = [];
  const fromBytes = Secret.fromBytes.bind(Secret);
  const spy = vi.spyOn(Secret, "fromBytes").mockImplementation((bytes) => {
    const secret = fromBytes(bytes);
    made.push(secret);
    return secret;
  });
  const unwiped = (pin: string) => made.filter((secret) => { try { return secret.use((b) => b.equals(Buffer.from(pin))); } catch { return false; } });
  return { made, unwiped, restore: () => spy.mockRestore() };
}

it("a rejected context-specific PIN is presented once, and wiped at the refusal while the signer stays open", async () => {
  const secrets = watchSecrets();
  const contextPinFile = join(hsm.dir, "context-pin.txt");
  writeFileSync(contextPinFile, `${WRONG_PIN}\n`, { mode: 0o600 });
  const signer = await createPkcs11Signer({
    library: PKCS11_SPY_MODULE, keyUri: URI, certificate: hsm.certificate("always-auth.pem"),
    pin: { kind: "file", path: hsm.pinFile() }, contextPin: { kind: "file", path: contextPinFile },
  });
  try {
    const errors = [];
    for (let i = 0; i < 3; i++) errors.push(await failure(signer.sign(Buffer.from("message"))));
    expect(errors.map((e) => e.code)).toEqual(["PIN_INCORRECT", "PIN_INCORRECT", "PIN_INCORRECT"]);
    expect(errors[0]!.message).toContain("rejected the context-specific PIN from file");
    expect(contextLogins()).toBe(1);
    expect(parseSpyLog(readFileSync(spyLog, "utf8")).filter((c) => c.name === "C_Login").map((c) => c.rv)).toEqual(["CKR_OK", "CKR_PIN_INCORRECT"]);
    // Every Secret read from a file holding the wrong PIN: wiped (use() throws), the signer still open.
    expect(secrets.unwiped(WRONG_PIN)).toEqual([]);
    expect(secrets.made.length).toBeGreaterThan(1);
  } finally {
    secrets.restore();
    await signer.close();
  }
});

it("a long-running source (signer-holder.ts) closes the signer at the refusal and never presents the PIN again (no defect: a pin)", async () => {
  const before = contextLogins();
  const contextPinFile = join(hsm.dir, "context-pin-held.txt");
  writeFileSync(contextPinFile, `${WRONG_PIN}-2\n`, { mode: 0o600 }); // not the one above, which this process refuses unpresented
  const pin = { kind: "file", path: hsm.pinFile() } as const;
  const contextPin = { kind: "file", path: contextPinFile } as const;
  let opened = 0;
  const secrets = watchSecrets();
  const holder = holdSigner({ privateKey: URI, pkcs11: { library: PKCS11_SPY_MODULE, pin, contextPin } }, () => {
    opened++;
    return createPkcs11Signer({ library: PKCS11_SPY_MODULE, keyUri: URI, certificate: hsm.certificate("always-auth.pem"), pin, contextPin });
  }, () => {});
  try {
    const codes = [];
    for (let i = 0; i < 3; i++) {
      try {
        const signer = await holder.acquire();
        await signer.sign(Buffer.from("message"), "SHA256");
        await holder.release();
      } catch (error) {
        await holder.release(error);
        codes.push((error as { code?: string }).code);
      }
    }
    expect(codes).toEqual(["PIN_INCORRECT", "PIN_INCORRECT", "PIN_INCORRECT"]);
    expect([opened, contextLogins() - before, secrets.unwiped(`${WRONG_PIN}-2`).length]).toEqual([1, 1, 0]);
  } finally {
    secrets.restore();
    await holder.close();
  }
});
