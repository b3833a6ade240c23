/**
 * The fuzz targets: every parser of outside data, each with seeds made by independent tools (openssl,
 * node:crypto), a structure-aware generator (engine.ts) and an oracle stronger than "did not throw":
 * - private keys (every encoding): a key that loads must sign, and its own public key must verify that;
 * - certificates: a certificate that parses re-parses to the same bytes and facts;
 * - pkcs11: URIs: parse → print → parse gives the same URI;
 * - ARNs: the parts join back to the input; config: only known fields; CreateSession: usable credentials;
 * - local endpoint requests (CreateSession, STS): only a request the seed's signature still covers passes;
 * - the CLI: an exit code from the documented set, one stderr line, never a stack trace.
 */
import { createHash, createHmac, generateKeyPairSync, verify } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { parseArn, parseProfileArn, parseRoleArn, parseTrustAnchorArn } from "../../src/arn.js";
import { main } from "../../src/cli/main.js";
import { parseConfig, PROFILE_FIELD_KINDS } from "../../src/config/parse-config.js";
import { certificateFacts } from "../../src/local-endpoint/verify-chain.js";
import { IssuedCredentialStore } from "../../src/local-endpoint/issued-credentials.js";
import { verifyStsRequest } from "../../src/local-endpoint/sts-verify.js";
import { verifyCreateSessionRequest, type CreateSessionPolicy } from "../../src/local-endpoint/verify-request.js";
import { toRequestToSign, wireRequest } from "../../src/local-endpoint/wire-request.js";
import { derivePrincipalTags } from "../../src/provisioning/principal-tags/derive-tags.js";
import { readCertificateNames } from "../../src/x509/names/certificate-names.js";
import { errorFromResponse, parseCreateSessionResponse } from "../../src/rolesanywhere/response.js";
import { Secret } from "../../src/secrets/secret.js";
import { keyMaterialFromFile } from "../../src/signers/file/key-material.js";
import { loadSigningKey } from "../../src/signers/file/key-parsers.js";
import { verifyMlDsa } from "../../src/signers/file/mldsa/verify.js";
import { readPkcs12 } from "../../src/signers/file/pkcs12.js";
import type { SigningKey } from "../../src/signers/file/signing-key.js";
import { formatPkcs11Uri, parsePkcs11Uri } from "../../src/pkcs11/uri.js";
import { canonicalRequest } from "../../src/sigv4x509/canonical-request.js";
import { amzDate } from "../../src/sigv4x509/scope.js";
import { decodePublicArea, publicKeyOf } from "../../src/tpm/keys/public-area.js";
import { parseTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { Certificate } from "../../src/x509/certificate.js";
import { certificateData } from "../../src/x509/certificate-data.js";
import { parseCertificateBytes } from "../../src/x509/read-certificates.js";
import { encryptPkcs8 } from "../helpers/pbes2-encrypt.js";
import { generateMlDsaKeyPair, mlDsaPkcs8Der } from "../helpers/mldsa-pki.js";
import { createCa, issueLeaf, openssl } from "../helpers/pki.js";
import { identity, signedCreateSession } from "../local-endpoint/support.js";
import { decodeDer, encodeDer, type DerNode } from "./der-tree.js";
import { derSeeds, mutateBytes, mutateDer, mutateJson, mutateText, OracleFailure, pemOf, PROTO_NAMES, Refused, type Rng, type Target } from "./engine.js";

const PASSWORD = "fuzz-password";
const MESSAGE = Buffer.from("roles-anywhere-agent fuzz oracle message");

const check = (ok: boolean, what: string) => {
  if (!ok) throw new OracleFailure(what);
};

/** The oracle for every key that loads: it signs, and its own public half verifies the signature. */
async function signsAndVerifies(key: SigningKey): Promise<void> {
  const signature = key.sign(MESSAGE, "SHA256");
  if (key.publicKey !== undefined) {
    check(verify("sha256", MESSAGE, key.publicKey, signature), `${key.description} key loaded but its signature does not verify`);
    check(key.spki.equals(key.publicKey.export({ type: "spki", format: "der" })), "spki differs from the public key");
  } else {
    check(await verifyMlDsa(key.spki, MESSAGE, signature), `${key.description} key loaded but its signature does not verify`);
  }
}

async function loadKey(bytes: Buffer): Promise<void> {
  const material = await keyMaterialFromFile(bytes, "fuzz.key", async () => Secret.fromUtf8(PASSWORD));
  await signsAndVerifies(await loadSigningKey(material));
}

/** DER seeds → target: structural mutants, a share of them wrapped in PEM under `pemLabel`. */
function derTarget(name: string, seeds: DerNode[], run: (input: Buffer) => Promise<void>, pemLabel?: string, extraDonors: DerNode[] = []): Target {
  const donors = [...seeds, ...extraDonors];
  return {
    name,
    generate: (rng: Rng) => {
      const der = mutateDer(rng, rng.pick(seeds), donors);
      return pemLabel !== undefined && rng.chance(0.25) ? pemOf(pemLabel, der) : der;
    },
    run,
  };
}

function textTarget(name: string, seeds: readonly string[], dictionary: readonly string[], run: (text: string) => Promise<void> | void): Target {
  return {
    name,
    generate: (rng) => Buffer.from(mutateText(rng, rng.pick(seeds), seeds, dictionary), "utf8"),
    run: async (input) => void (await run(input.toString("utf8"))),
  };
}

export interface FuzzSetup {
  readonly targets: readonly Target[];
}

/** Makes the seeds in `dir` (openssl, node:crypto) and returns every target. */
export async function setupTargets(dir: string): Promise<FuzzSetup> {
  // --- certificates and keys
  const ca = createCa(join(dir, "ca"), { name: "Fuzz CA" });
  const ecLeaf = issueLeaf(ca, join(dir, "ec"), {
    name: "ec-leaf",
    keyType: "p256",
    subject: "/C=DE/ST=Berlin/L=Berlin/O=Acme Corp/OU=Gateways/OU=Edge/CN=gw-1.example.com/serialNumber=42/emailAddress=ops@example.com/DC=example",
    extensions: [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=clientAuth",
      "subjectAltName=DNS:gw-1.example.com,URI:spiffe://example.com/gw-1,email:gw@example.com,IP:10.0.0.1,RID:1.2.3.4",
      "subjectKeyIdentifier=hash",
      "authorityKeyIdentifier=keyid",
    ],
  });
  const rsaLeaf = issueLeaf(ca, join(dir, "rsa"), { name: "rsa-leaf", keyType: "rsa2048" });
  const certDers = [ecLeaf.certPath, rsaLeaf.certPath, ca.certPath].map((p, i) => {
    openssl(["x509", "-in", p, "-outform", "DER", "-out", join(dir, `cert${i}.der`)]);
    return readFileSync(join(dir, `cert${i}.der`));
  });
  const certSeeds = derSeeds(certDers);

  const derOf = (args: string[], out: string) => {
    openssl([...args, "-out", join(dir, out)]);
    return readFileSync(join(dir, out));
  };
  const ecPkcs8 = derOf(["pkcs8", "-topk8", "-nocrypt", "-in", ecLeaf.keyPath, "-outform", "DER"], "ec.p8");
  const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey;
  const p521 = generateKeyPairSync("ec", { namedCurve: "P-521" }).privateKey;
  const rsa1024 = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
  const rsaPkcs8 = derOf(["pkcs8", "-topk8", "-nocrypt", "-in", rsaLeaf.keyPath, "-outform", "DER"], "rsa.p8");
  const mlDsa = mlDsaPkcs8Der(generateMlDsaKeyPair("ML-DSA-44"), "seed");
  const pkcs8Ders = [
    ecPkcs8,
    rsaPkcs8,
    p384.export({ type: "pkcs8", format: "der" }),
    p521.export({ type: "pkcs8", format: "der" }),
    rsa1024.export({ type: "pkcs8", format: "der" }),
    mlDsa,
  ];
  const sec1Ders = [
    derOf(["ec", "-in", ecLeaf.keyPath, "-outform", "DER"], "ec.sec1"),
    p384.export({ type: "sec1", format: "der" }),
    p521.export({ type: "sec1", format: "der" }),
    derOf(["ec", "-in", ecLeaf.keyPath, "-outform", "DER", "-conv_form", "compressed"], "ec-compressed.sec1"),
  ];
  const pkcs1Ders = [derOf(["rsa", "-in", rsaLeaf.keyPath, "-traditional", "-outform", "DER"], "rsa.p1"), rsa1024.export({ type: "pkcs1", format: "der" })];
  const pkcs8Seeds = derSeeds(pkcs8Ders);
  const encryptWith = (plain: Buffer, rng: Rng) =>
    rng.chance(0.5)
      ? encryptPkcs8(plain, PASSWORD, { cipher: rng.pick(["aes-128-cbc", "aes-256-cbc"] as const), kdf: "pbkdf2", prf: rng.pick(["sha1-absent", "sha256", "sha512"] as const), iterations: 1 + rng.int(8) })
      : encryptPkcs8(plain, PASSWORD, { cipher: "aes-256-cbc", kdf: "scrypt", N: 2, r: 1, p: 1 });

  // --- PKCS#12: plaintext bags without a MAC (mutations reach the bags and the key inside), and the default form
  const p12 = (name: string, args: string[]) => {
    openssl(["pkcs12", "-export", "-inkey", ecLeaf.keyPath, "-in", ecLeaf.certPath, "-certfile", ca.certPath, "-out", join(dir, name), "-passout", `pass:${PASSWORD}`, ...args]);
    return readFileSync(join(dir, name));
  };
  const p12Ders = [
    p12("plain.p12", ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"]),
    p12("nomac.p12", ["-iter", "1", "-nomac"]),
    p12("mac.p12", ["-iter", "1", "-maciter"]),
  ];
  const p12Seeds = derSeeds(p12Ders);

  // --- TSS2 key files (TPM): a real public area, a policy, written with openssl asn1parse -genconf
  const tss2Seeds = derSeeds([tss2Der(dir)]);

  // --- text inputs
  const uris = [
    "pkcs11:token=gw;object=key;type=private?pin-value=123456&module-path=/usr/lib/softhsm/libsofthsm2.so",
    "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=0123456789abcdef;token=My%20Token;id=%01%02%03;slot-id=1",
    "pkcs11:library-version=2.40;library-manufacturer=OpenSC;slot-description=Yubikey;object=cert?pin-source=file:/etc/pin",
    "pkcs11:slot-manufacturer=x;library-description=y;type=cert?module-name=softhsm2",
  ];
  const uriDictionary = [";", "?", "&", "=", "%", "%00", "%zz", "%2F", "%25", "%3B", "token=", "object=", "id=", "type=", "slot-id=", "library-version=", "pin-value=", "pin-source=", "module-path=", "module-name=", ...PROTO_NAMES.map((n) => `${n}=x`), "pkcs11:", "é", "\u0000", "%C3%A9", "9".repeat(30)];
  const arns = [
    "arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/ta-1",
    "arn:aws:rolesanywhere:eu-west-1:123456789012:profile/pr-1",
    "arn:aws:iam::123456789012:role/Gateway",
    "arn:aws-cn:rolesanywhere:cn-north-1:123456789012:profile/p",
    "arn:aws-us-gov:iam::123456789012:role/path/to/R",
  ];
  const configSeed = {
    version: 1,
    profiles: {
      gw: {
        certificate: "certs/gw.pem",
        "private-key": "pkcs11:token=gw;object=key?module-path=/usr/lib/softhsm/libsofthsm2.so",
        "trust-anchor-arn": arns[0],
        "profile-arn": arns[1],
        "role-arn": arns[2],
        "session-duration": 900,
        "pkcs11-pin": "file:pin.txt",
        "role-session-name": "gw-1",
      },
      file: { certificate: "/c.pem", "private-key": "~/k.pem", "trust-anchor-arn": arns[0], "profile-arn": arns[1], "role-arn": arns[2], "pkcs8-password": "env:KEY_PW" },
    },
    agent: { socket: "/run/raa/agent.sock", profiles: ["gw"] },
  };
  const responseSeed = {
    credentialSet: [{
      assumedRoleUser: { arn: "arn:aws:sts::123456789012:assumed-role/Gateway/gw", assumedRoleId: "AROA:gw" },
      credentials: { accessKeyId: "ASIAFUZZ", expiration: "2026-01-01T01:00:00Z", secretAccessKey: "secret/key+", sessionToken: "token==" },
      packedPolicySize: 10, roleArn: arns[2], sourceIdentity: "CN=gw",
    }],
    subjectArn: "arn:aws:rolesanywhere:eu-west-1:123456789012:subject/s",
  };
  const errorSeed = { __type: "AccessDeniedException", message: "Untrusted signing certificate" };
  const responseContext = { receivedAt: new Date("2026-01-01T00:00:00Z"), endpoint: "https://rolesanywhere.eu-west-1.amazonaws.com", region: "eu-west-1" };

  // --- local endpoint: a correctly signed CreateSession request, and a correctly signed STS call
  const leId = identity(ecLeaf, []);
  const leDate = new Date(Math.floor(Date.now() / 1000) * 1000);
  const lePolicy: CreateSessionPolicy = { region: "us-east-1", trustAnchors: [new Certificate(readFileSync(join(dir, "cert2.der")))], config: undefined };
  const createSession = await signedCreateSession("http://127.0.0.1:9911", leId, { date: leDate });
  const store = new IssuedCredentialStore();
  const session = store.issue(
    {
      roleArn: parseRoleArn(arns[2]!), profileArn: parseProfileArn(arns[1]!), trustAnchorArn: parseTrustAnchorArn(arns[0]!), roleSessionName: "gw",
      durationSeconds: 3600, leaf: new Certificate(leId.cert.raw), keyType: "EC", path: [],
    },
    leDate,
  );
  const stsRequest = signedSts(session.credentials, leDate);

  // --- CLI: files the mutants are written to
  const cliKey = join(dir, "cli.key");
  const cliCert = ecLeaf.certPath;

  const profileFields = new Set(Object.keys(PROFILE_FIELD_KINDS));
  const targets: Target[] = [
    derTarget("certificate", certSeeds, async (input) => {
      for (const cert of parseCertificateBytes(input, "fuzz.pem")) {
        const again = new Certificate(cert.der);
        check(again.sha256Fingerprint() === cert.sha256Fingerprint() && again.serialDecimal === cert.serialDecimal, "certificate does not re-parse to itself");
        check(BigInt(cert.serialDecimal) === (cert.serialHex.startsWith("-") ? -BigInt(`0x${cert.serialHex.slice(1)}`) : BigInt(`0x${cert.serialHex}`)), "serial forms disagree");
        const data = await certificateData(cert);
        check(["", "RSA", "EC", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87"].includes(data.keyType), `keyType ${data.keyType}`);
        await certificateFacts(cert);
      }
    }, "CERTIFICATE"),
    derTarget("names/principal tags", certSeeds, async (input) => {
      let names;
      try {
        names = readCertificateNames(input);
      } catch (cause) {
        // readCertificateNames is the DER layer: it throws DerError, which its caller turns into CERTIFICATE_INVALID.
        if ((cause as Error).constructor.name === "DerError") return;
        throw cause;
      }
      const report = derivePrincipalTags(names);
      const keys = new Set<string>();
      for (const tag of report.tags) {
        check(typeof tag.key === "string" && typeof tag.value === "string", "tag is not strings");
        check(!keys.has(tag.key), `tag key ${tag.key} twice`);
        keys.add(tag.key);
      }
    }),
    derTarget("private key: PKCS#8", pkcs8Seeds, loadKey, "PRIVATE KEY"),
    derTarget("private key: SEC1", derSeeds(sec1Ders), loadKey, "EC PRIVATE KEY", pkcs8Seeds),
    derTarget("private key: PKCS#1", derSeeds(pkcs1Ders), loadKey, "RSA PRIVATE KEY", pkcs8Seeds),
    {
      // Half the mutants change the encryption parameters, half the key inside (mutated, then encrypted for real).
      name: "private key: encrypted PKCS#8",
      generate: (rng) => {
        const plain = rng.pick(pkcs8Seeds);
        const der = rng.chance(0.5) ? encryptWith(mutateDer(rng, plain, pkcs8Seeds), rng) : mutateDer(rng, decodeDer(encryptWith(encodeDer(plain), rng))!, []);
        return rng.chance(0.25) ? pemOf("ENCRYPTED PRIVATE KEY", der) : der;
      },
      run: loadKey,
    },
    derTarget("PKCS#12", p12Seeds, async (input) => {
      const id = await readPkcs12(input, "fuzz.p12", { keyPassword: { kind: "value", value: PASSWORD } });
      await signsAndVerifies(id.key);
    }, undefined, pkcs8Seeds),
    derTarget("TSS2 key file", tss2Seeds, async (input) => {
      const file = await parseTss2KeyFile(input, "fuzz.tss2");
      check(decodePublicArea(file.public.bytes, "fuzz.tss2").bytes.equals(file.public.bytes), "public area does not re-decode");
      publicKeyOf(file.public.public, "fuzz.tss2");
    }, "TSS2 PRIVATE KEY"),
    textTarget("pkcs11: URI", uris, uriDictionary, (text) => {
      const uri = parsePkcs11Uri(text);
      const printed = formatPkcs11Uri(uri, { revealPinValue: true });
      const again = parsePkcs11Uri(printed);
      check(formatPkcs11Uri(again, { revealPinValue: true }) === printed, `print → parse differs for ${JSON.stringify(text)}`);
      for (const key of Object.keys(uri)) check(!PROTO_NAMES.includes(key) && !key.includes("function"), `URI field ${key}`);
    }),
    textTarget("ARN", arns, [":", "/", "arn:", "aws", "rolesanywhere", "iam", "profile/", "trust-anchor/", "role/", "*", "", "é", ...PROTO_NAMES], (text) => {
      const parsed = parseArn(text);
      check([`arn`, parsed.partition, parsed.service, parsed.region, parsed.accountId, parsed.resource].join(":") === text, "ARN parts do not join back to the input");
      for (const p of [parseTrustAnchorArn, parseProfileArn, parseRoleArn]) {
        try {
          check(p(text) === text, "typed ARN differs from its text");
        } catch (e) {
          if ((e as { code?: string }).code !== "ARN_INVALID") throw e;
        }
      }
    }),
    {
      name: "config",
      generate: (rng) => Buffer.from(mutateJson(rng, configSeed, [configSeed, configSeed.profiles.gw], [...profileFields, "version", "profiles", "agent", "socket"])),
      run: async (input) => {
        const config = parseConfig(input.toString("utf8"), "/etc/raa/config.json", "/home/u");
        for (const [, settings] of config.profiles) for (const field of Object.keys(settings)) check(profileFields.has(field), `unknown field ${field} accepted`);
      },
    },
    {
      name: "CreateSession response",
      generate: (rng) => {
        const status = rng.chance(0.6) ? 201 : rng.pick([200, 400, 403, 404, 429, 500, 503, 302, 418, 100 + rng.int(500)]);
        const body = mutateJson(rng, status < 300 ? responseSeed : errorSeed, [responseSeed, errorSeed], ["credentialSet", "credentials", "accessKeyId", "expiration", "sessionToken", "secretAccessKey", "__type", "message", "code"]);
        const header = rng.chance(0.3) ? mutateText(rng, "AccessDeniedException:http://internal", [], [":", ...PROTO_NAMES]) : "";
        return Buffer.from(JSON.stringify({ status, header, body }));
      },
      run: async (input) => {
        const { status, header, body } = JSON.parse(input.toString()) as { status: number; header: string; body: string };
        const response = { status, headers: header ? { "x-amzn-errortype": header } : {}, body: Buffer.from(body) };
        if (status >= 200 && status < 300) {
          const { credentials } = parseCreateSessionResponse(response, responseContext);
          check([credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken].every((s) => typeof s === "string" && s.length > 0), "empty credentials accepted");
          check(!Number.isNaN(credentials.expiration.getTime()), "invalid expiration accepted");
          return;
        }
        throw errorFromResponse(response, responseContext);
      },
    },
    requestTarget("local endpoint: CreateSession request", createSession, (r) => verifyCreateSessionRequest(r, lePolicy, leDate)),
    requestTarget("local endpoint: STS request", stsRequest, async (r) => {
      const call = verifyStsRequest(r, store, leDate);
      check(call.session === session && typeof call.action === "string" && call.action.length > 0, "STS call accepted without its session or action");
    }),
    {
      name: "CLI (in-process: sign-string on mutated key files)",
      generate: (rng) => {
        const pick = rng.int(3);
        const seeds = pick === 0 ? pkcs8Seeds : pick === 1 ? derSeeds(sec1Ders) : derSeeds(pkcs1Ders);
        const der = mutateDer(rng, rng.pick(seeds), pkcs8Seeds);
        return rng.chance(0.5) ? pemOf(["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"][pick]!, der) : der;
      },
      run: async (input) => {
        writeFileSync(cliKey, input, { mode: 0o600 });
        const r = await cliRun(["sign-string", "--private-key", cliKey, "--certificate", cliCert]);
        checkCliResult(r);
        if (r.code !== 0) throw new Refused(`exit ${r.code}`);
      },
    },
  ];
  return { targets };
}

/** What the CLI must look like on any input: documented exit code, one stderr line on failure, no stack. */
export function checkCliResult(r: { code: number | null; err: string; signal?: string | null }): void {
  check(r.signal === undefined || r.signal === null, `CLI killed by ${r.signal}`);
  check([0, 2, 3, 4, 5, 6, 7].includes(r.code ?? -1), `CLI exit code ${r.code}: ${r.err.slice(0, 200)}`);
  const lines = r.err.split("\n").filter((l) => l !== "");
  if (r.code === 0) {
    check(lines.every((l) => l.includes("warning")), `stderr on success: ${r.err.slice(0, 200)}`);
  } else {
    check(lines.length === 1, `CLI wrote ${lines.length} stderr lines: ${r.err.slice(0, 300)}`);
    check(!/internal error|\n\s+at |Error: /.test(r.err), `CLI stderr: ${r.err.slice(0, 200)}`);
  }
}

async function cliRun(argv: string[]): Promise<{ code: number; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.resume();
  let err = "";
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await main(argv, { stdout, stderr, env: {} });
  return { code, err };
}

interface Request {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: string;
}

/** Requests are fuzzed as JSON {method, target, headers, body}: each field mutated as text, headers added or dropped. */
function requestTarget(name: string, seed: Request, verifyRequest: (r: ReturnType<typeof wireRequest>) => unknown): Target {
  const headerNames = Object.keys(seed.headers);
  const signed = new Set(/SignedHeaders=([^,\s]+)/.exec(seed.headers["Authorization"] ?? "")![1]!.split(";"));
  const seedCanonical = canonicalRequest(toRequestToSign(wireRequest(seed.method, seed.target, Object.entries(seed.headers).flat(), Buffer.from(seed.body))), signed);
  return {
    name,
    generate: (rng) => {
      const r = structuredClone(seed);
      const count = 1 + rng.int(2);
      for (let i = 0; i < count; i++) {
        switch (rng.int(5)) {
          case 0: {
            const h = rng.pick(headerNames);
            if (r.headers[h] !== undefined) r.headers[h] = mutateText(rng, r.headers[h]!, [], [",", "=", "/", " ", "Signature=", "SignedHeaders=", "Credential=", "0", "f", ...PROTO_NAMES]).replace(/[\r\n]/g, "");
            break;
          }
          case 1:
            delete r.headers[rng.pick(headerNames)];
            break;
          case 2:
            r.headers[rng.pick([...PROTO_NAMES, "X-Amz-X509-Chain", "x-amz-security-token", "Authorization", "host"])] = rng.pick(["", "x", seed.headers[rng.pick(headerNames)] ?? ""]);
            break;
          case 3:
            r.target = mutateText(rng, r.target, [], ["?", "&", "=", "%", "/", "Action=", "..", ...PROTO_NAMES]);
            break;
          default:
            r.body = mutateBytes(rng, Buffer.from(r.body)).toString("latin1");
        }
      }
      return Buffer.from(JSON.stringify(r));
    },
    run: async (input) => {
      const r = JSON.parse(input.toString()) as Request;
      // node:http hands the target and header values over as latin1 strings (one char per byte): so does this.
      const wire = (s: string) => Buffer.from(s, "latin1").toString("latin1");
      const request = wireRequest(r.method, wire(r.target), Object.entries(r.headers).flat().map(wire), Buffer.from(r.body, "latin1"));
      await verifyRequest(request);
      // Accepted: the signature covers what was sent, so its canonical form must be the seed's (SigV4 itself
      // treats `//` as `/` and `/?` as `/`).
      check(canonicalRequest(toRequestToSign(request), signed) === seedCanonical, "a request whose signed content changed was accepted");
    },
  };
}

/** An STS GetCallerIdentity call signed with SigV4 (HMAC) by the issued session's credentials. */
function signedSts(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }, date: Date): Request {
  const body = "Action=GetCallerIdentity&Version=2011-06-15";
  const headers: Record<string, string> = {
    Host: "127.0.0.1:9911",
    "Content-Type": "application/x-www-form-urlencoded",
    "X-Amz-Date": amzDate(date),
    "X-Amz-Security-Token": credentials.sessionToken,
  };
  const signed = new Set(Object.keys(headers).map((h) => h.toLowerCase()));
  const request = wireRequest("POST", "/", Object.entries(headers).flat(), Buffer.from(body));
  const canonical = canonicalRequest(toRequestToSign(request), signed);
  const day = amzDate(date).slice(0, 8);
  const scope = `${day}/us-east-1/sts/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate(date), scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  let key: Buffer = Buffer.from(`AWS4${credentials.secretAccessKey}`);
  for (const part of [day, "us-east-1", "sts", "aws4_request"]) key = createHmac("sha256", key).update(part).digest();
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  headers["Authorization"] = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${[...signed].sort().join(";")}, Signature=${signature}`;
  return { method: "POST", target: "/", headers, body };
}

/** A TSS2 PRIVATE KEY (DER) with a real ECC public area and a policy, written by openssl asn1parse -genconf. */
function tss2Der(dir: string): Buffer {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
  // TPMT_PUBLIC: type ECC, nameAlg SHA256, attributes, empty policy, parameters (sym NULL, scheme NULL, P-256, kdf NULL), unique x, y
  const x = Buffer.from(jwk.x!, "base64url");
  const y = Buffer.from(jwk.y!, "base64url");
  const publicArea = Buffer.concat([
    Buffer.from("0023000b00040472", "hex"),
    Buffer.from("0000", "hex"),
    Buffer.from("0010" + "0010" + "0003" + "0010", "hex"),
    Buffer.from([0, 32]), x, Buffer.from([0, 32]), y,
  ]);
  const sized = Buffer.concat([Buffer.from([publicArea.length >> 8, publicArea.length & 0xff]), publicArea]).toString("hex");
  const conf = join(dir, "tss2.cnf");
  writeFileSync(conf, [
    "asn1=SEQUENCE:key", "[key]",
    "type=OID:2.23.133.10.1.3",
    "emptyAuth=EXPLICIT:0,BOOLEAN:true",
    "policy=EXPLICIT:1,SEQUENCE:policies",
    "parent=INTEGER:0x40000001",
    `pubkey=FORMAT:HEX,OCTETSTRING:${sized}`,
    "privkey=FORMAT:HEX,OCTETSTRING:0020" + "ab".repeat(32),
    "[policies]", "p1=SEQUENCE:pcr", "p2=SEQUENCE:auth",
    "[pcr]", "cc=EXPLICIT:0,INTEGER:0x17F", `body=EXPLICIT:1,FORMAT:HEX,OCTETSTRING:00000001000b03000001${"cd".repeat(32)}`,
    "[auth]", "cc=EXPLICIT:0,INTEGER:0x16B", "body=EXPLICIT:1,OCTETSTRING:",
  ].join("\n") + "\n");
  openssl(["asn1parse", "-genconf", conf, "-out", join(dir, "tss2.der"), "-noout"]);
  return readFileSync(join(dir, "tss2.der"));
}
