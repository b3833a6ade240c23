/**
 * ML-DSA-44/65/87 signing latency through the agent's file-key code (pure ML-DSA, deterministic, over a
 * string to sign of the usual size), next to ECDSA P-256 from node:crypto, with ratios. Also: loading a
 * key (seed → expanded key, done once per credential_process run) and the one-off cost of importing the
 * ML-DSA implementation in a fresh Node process.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { ML_DSA_PARAMETER_SETS, type MlDsaKeyType } from "../src/x509/certificate.js";
import { decodeMlDsaPrivateKeyInfo } from "../src/signers/file/mldsa/private-key-info.js";
import { mlDsaSigningKey } from "../src/signers/file/mldsa/signing-key.js";
import { median, percentile, timeCommand } from "./lib/measure.js";

const SIGN_RUNS = 200;
const LOAD_RUNS = 100;
const PROCESS_RUNS = 15;
const WARMUP = 10;

// A string to sign as CreateSession produces it (algorithm, date, scope, hex SHA-256 of the canonical request).
const MESSAGE = Buffer.from(
  `AWS4-X509-MLDSA\n20250101T000000Z\n20250101/us-east-1/rolesanywhere/aws4_request\n${randomBytes(32).toString("hex")}`,
);

function timeMs(fn: () => unknown, runs: number): number[] {
  for (let i = 0; i < WARMUP; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}

async function timeAsyncMs(fn: () => Promise<unknown>, runs: number): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return samples;
}

/** PKCS#8 seed-only DER for a random seed, built by hand (the bench must not depend on test helpers). */
function seedOnlyPkcs8(keyType: MlDsaKeyType): Buffer {
  const oid = ML_DSA_PARAMETER_SETS[keyType].oid.split(".").map(Number);
  const oidBytes = [oid[0]! * 40 + oid[1]!, ...oid.slice(2).flatMap((a) => (a < 128 ? [a] : [0x80 | (a >> 7), a & 0x7f]))];
  const tlv = (tag: number, content: Buffer) => Buffer.concat([Buffer.from([tag, content.length]), content]);
  const algorithm = tlv(0x30, tlv(0x06, Buffer.from(oidBytes)));
  const privateKey = tlv(0x04, tlv(0x80, randomBytes(32)));
  return tlv(0x30, Buffer.concat([Buffer.from([0x02, 0x01, 0x00]), algorithm, privateKey]));
}

function line(what: string, samples: number[], reference?: { name: string; median: number }): void {
  const m = median(samples);
  const ratio = reference ? ` | ${reference.name}: median ${reference.median.toFixed(3)} ms | ratio ${(m / reference.median).toFixed(1)}×` : "";
  console.log(`${what}: median ${m.toFixed(3)} ms, p95 ${percentile(samples, 95).toFixed(3)} ms${ratio} | n=${samples.length}`);
}

const { privateKey: ecKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const ecPem = ecKey.export({ type: "pkcs8", format: "pem" });
const ecSign = timeMs(() => sign("sha256", MESSAGE, ecKey), SIGN_RUNS);
const ecLoad = timeMs(() => createPrivateKey(ecPem), LOAD_RUNS);
const ecdsa = { name: "ECDSA P-256 (node:crypto)", median: median(ecSign) };
const ecdsaLoad = { name: "EC P-256 createPrivateKey", median: median(ecLoad) };

console.log(`ML-DSA signing (pure, deterministic, ${MESSAGE.length}-byte string to sign), @noble/post-quantum via the file signer`);
line("ECDSA P-256 sign (reference)", ecSign);
for (const keyType of Object.keys(ML_DSA_PARAMETER_SETS) as MlDsaKeyType[]) {
  const der = seedOnlyPkcs8(keyType);
  const info = decodeMlDsaPrivateKeyInfo(der, "bench")!;
  const key = await mlDsaSigningKey(info, "bench");
  line(`${keyType} sign`, timeMs(() => key.sign(MESSAGE, "SHA256"), SIGN_RUNS), ecdsa);
  line(`${keyType} key load (seed → expanded key)`, await timeAsyncMs(() => mlDsaSigningKey(info, "bench"), LOAD_RUNS), ecdsaLoad);
}

const baseline = [];
const withImport = [];
for (let i = 0; i < PROCESS_RUNS; i++) {
  baseline.push(await timeCommand(process.execPath, ["--input-type=module", "-e", ""]));
  withImport.push(await timeCommand(process.execPath, ["--input-type=module", "-e", 'await import("@noble/post-quantum/ml-dsa.js")']));
}
line("fresh Node process importing @noble/post-quantum/ml-dsa.js", withImport, { name: "empty Node process", median: median(baseline) });
