/**
 * doctor --trust-anchors takes a CA bundle to check the chain against: nothing of it is sent, so the cap on the chain
 * sent in X-Amz-X509-Chain (100 CA certificates) is not its limit; a system bundle holds about 150.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { runChecks } from "../../src/doctor/checks.js";
import { AgentError } from "../../src/errors.js";
import { createCa, issueLeaf } from "../helpers/pki.js";

const dir = mkdtempSync(join(tmpdir(), "raa-doctor-anchors-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("a trust-anchors bundle of more than 100 certificates is read whole: the chain row passes", async () => {
  const ca = createCa(join(dir, "ca"), { name: "Anchors Bundle CA" });
  const leaf = issueLeaf(ca, dir, { name: "anchors-bundle-leaf" });
  const others = createCa(join(dir, "others"), { name: "Anchors Bundle Other CA" });
  const bundle = join(dir, "bundle.pem");
  writeFileSync(bundle, readFileSync(others.certPath, "utf8").repeat(120) + readFileSync(ca.certPath, "utf8"));
  const rows = await runChecks(
    {
      signer: { privateKey: join(dir, "absent-key.pem"), certificate: leaf.certPath },
      session: new AgentError("INPUT_MISSING", "no ARNs in this test"),
      endpoint: {},
      trustAnchors: bundle,
      agentSocket: join(dir, "no-agent.sock"),
      createSession: false,
      warningDays: 0,
      env: {},
    },
    () => undefined,
  );
  expect(rows.find((r) => r.name === "certificate chain")).toMatchObject({
    outcome: "pass", detail: expect.stringMatching(/anchors-bundle-leaf.* → .*Anchors Bundle CA/),
  });
});
