/**
 * Round 33: a key, certificate or intermediates given as `env:NAME` is no file, yet doctor stat()ed the reference as a
 * path and gave a ✘ "env:NAME does not exist" row beside a signer that read it and opened the key.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import { signerChecks } from "../helpers/doctor-checks.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-doctor-env-");
afterAll(cleanup);
const root = createCa(join(dir, "root"), { name: "Env Root" });
const issuing = createCa(join(dir, "issuing"), { name: "Env Issuing", parent: root });
const leaf = issueLeaf(issuing, join(dir, "leaf"), { name: "env-leaf" });

describe("doctor with env: inputs", () => {
  it("no file rows for them; the key opens and the chain checks", async () => {
    const vars = { RAA_T_KEY: readFileSync(leaf.keyPath, "utf8"), RAA_T_CERT: readFileSync(leaf.certPath, "utf8"), RAA_T_CHAIN: readFileSync(issuing.certPath, "utf8") };
    Object.assign(process.env, vars);
    onTestFinished(() => Object.keys(vars).forEach((name) => delete process.env[name]));
    const rows = await signerChecks(dir, { privateKey: "env:RAA_T_KEY", certificate: "env:RAA_T_CERT", intermediates: "env:RAA_T_CHAIN" }, root.certPath);
    expect(rows.filter((r) => r.outcome === "fail").map((r) => r.name)).toEqual(["ARNs and region"]); // none given here
    expect(rows.filter((r) => /^(private key|certificate|intermediates) file$/.test(r.name))).toEqual([]);
    expect(rows.find((r) => r.name === "key opens")?.outcome).toBe("pass");
    expect(rows.find((r) => r.name === "certificate chain")?.outcome).toBe("pass");
  });
});
