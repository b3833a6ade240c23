/**
 * Found by the structure-aware fuzzer (issue 20): a PKCS#12 bag whose value is a NULL with content reached
 * `Buffer.from(null)` (a TypeError, exit 1) instead of PKCS12_INVALID.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readPkcs12 } from "../../../src/signers/file/pkcs12.js";
import { makeTempDir, openssl } from "../../helpers/pki.js";
import { allNodes, decodeDer, encodeDer, oidBytes } from "../../fuzz/der-tree.js";

const tmp = makeTempDir("raa-p12-findings-");
afterAll(() => tmp.cleanup());

describe("PKCS#12 bags with unusual values", () => {
  it("a certificate bag whose value is a NULL with content: PKCS12_INVALID", async () => {
    const dir = tmp.dir;
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "k.pem"), "-subj", "/CN=p12", "-out", join(dir, "c.pem")]);
    openssl(["pkcs12", "-export", "-inkey", join(dir, "k.pem"), "-in", join(dir, "c.pem"), "-out", join(dir, "plain.p12"), "-passout", "pass:pw", "-keypbe", "NONE", "-certpbe", "NONE", "-nomac"]);
    const pfx = decodeDer(readFileSync(join(dir, "plain.p12")))!;
    const certBagId = oidBytes("1.2.840.113549.1.12.10.1.3");
    const bag = allNodes(pfx).find(({ node }) => node.tag === 0x30 && node.children?.[0]?.tag === 0x06 && node.children[0].value!.equals(certBagId))!.node;
    bag.children![1] = { tag: 0xa0, children: [{ tag: 0x05, value: Buffer.from("0102030405", "hex") }] };
    await expect(readPkcs12(encodeDer(pfx), "null-bag.p12", { keyPassword: { kind: "value", value: "pw" } })).rejects.toMatchObject({ code: "PKCS12_INVALID" });
  });
});
