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

it("a rejected context-specific PIN is presented once, and wiped at the refusal while the signer stays open", async () => {
  const made: Secret[] = [];
  const fromBytes = Secret.fromBytes.bind(Secret);
  const spy = vi.spyOn(Secret, "fromBytes").mockImplementation((bytes) => {
    const secret = fromBytes(bytes);
    made.push(secret);
    return secret;
  });
  const contextPinFile = join(hsm.dir, "context-pin.txt");
  writeFileSync(contextPinFile, `${WRONG_PIN}\n`, { mode: 0o600 });
  const uri = "pkcs11:token=rolesanywhere;object=always-auth";
  const signer = await createPkcs11Signer({
    library: PKCS11_SPY_MODULE, keyUri: uri, certificate: hsm.certificate("always-auth.pem"),
    pin: { kind: "file", path: hsm.pinFile() }, contextPin: { kind: "file", path: contextPinFile },
  });
  try {
    const errors = [];
    for (let i = 0; i < 3; i++) errors.push(await failure(signer.sign(Buffer.from("message"))));
    expect(errors.map((e) => e.code)).toEqual(["PIN_INCORRECT", "PIN_INCORRECT", "PIN_INCORRECT"]);
    expect(errors[0]!.message).toContain("rejected the context-specific PIN from file");
    const logins = readFileSync(spyLog, "utf8").split(/^(?=\d+: C_\w+$)/m).filter((block) => /^\d+: C_Login$/m.test(block));
    expect(logins.filter((block) => /CKU_CONTEXT_SPECIFIC/.test(block))).toHaveLength(1);
    expect(parseSpyLog(readFileSync(spyLog, "utf8")).filter((c) => c.name === "C_Login").map((c) => c.rv)).toEqual(["CKR_OK", "CKR_PIN_INCORRECT"]);
    // Every Secret read from a file holding the wrong PIN: wiped (use() throws), the signer still open.
    const wrong = made.filter((secret) => { try { return secret.use((b) => b.equals(Buffer.from(WRONG_PIN))); } catch { return false; } });
    expect(wrong).toEqual([]);
    expect(made.length).toBeGreaterThan(1);
  } finally {
    spy.mockRestore();
    await signer.close();
  }
});
