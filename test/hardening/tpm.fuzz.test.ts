/**
 * Property tests for the TPM side: TSS2 PRIVATE KEY files (PEM and DER, random and mutated), and responses
 * from a malicious or broken TPM/transport. The responses are fed through the real client
 * (`Tpm.execute`: header, size, response code, handle, parameter area, authorization area, unmarshalling)
 * by a transport that answers with the bytes under test — the only stand-in here is the wire, the code
 * under test is the production path. Each call either succeeds or throws an AgentError.
 */
import fc from "fast-check";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eccSigningPublic } from "../helpers/tpm-public.js";
import { permanentEntity, Tpm, type Authorization } from "../../src/tpm/client/tpm.js";
import { decodePublicArea, publicKeyOf } from "../../src/tpm/keys/public-area.js";
import { parseTss2KeyFile } from "../../src/tpm/keys/tss2-key-file.js";
import { PASSWORD_SESSION } from "../../src/tpm/sessions/password-session.js";
import { ecdsaSignatureToDer } from "../../src/encoding/signature-encoding.js";
import type { TpmTransport } from "../../src/tpm/transport/transport.js";
import { encode, Writer } from "../../src/tpm/wire/codec.js";
import { CreatePrimary, GetCapability, GetRandom, Load, ReadPublic, Sign, StartAuthSession, type AnyCommand } from "../../src/tpm/wire/commands.js";
import { TPM_ALG, TPM_RH, TPM_ST } from "../../src/tpm/wire/constants.js";
import { TPMT_PUBLIC, type TpmtPublic } from "../../src/tpm/wire/structures.js";
import { makeTempDir, openssl } from "../helpers/pki.js";
import { mutationOf, parsesOrAgentError, pemMutationOf, printTallies, randomBytes, runs } from "./fuzz-support.js";

const { dir, cleanup } = makeTempDir("raa-fuzz-tpm-");
afterAll(() => {
  cleanup();
  printTallies("tpm");
});

const ecPublic: TpmtPublic = eccSigningPublic();
const publicBytes = encode(TPMT_PUBLIC, ecPublic);

/** A TSS2 key file written by an independent DER encoder (openssl asn1parse -genconf), with a policy. */
function tss2Der(): Buffer {
  const conf = join(dir, "k.cnf");
  const out = join(dir, "k.der");
  const sized = Buffer.concat([Buffer.from([publicBytes.length >> 8, publicBytes.length & 0xff]), publicBytes]).toString("hex");
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
  openssl(["asn1parse", "-genconf", conf, "-out", out, "-noout"]);
  return readFileSync(out);
}
const keyDer = tss2Der();
const keyPem = `-----BEGIN TSS2 PRIVATE KEY-----\n${keyDer.toString("base64").replace(/(.{64})/g, "$1\n")}\n-----END TSS2 PRIVATE KEY-----\n`;

async function parseKey(data: Buffer | string): Promise<void> {
  const key = await parseTss2KeyFile(data, "fuzz.tss2");
  // What the signer does next with the file's public area.
  publicKeyOf(key.public.public, "fuzz.tss2");
}

describe("TSS2 PRIVATE KEY files", () => {
  it("the fixture parses (PEM and DER)", async () => {
    expect(await parsesOrAgentError("TSS2 key: fixtures", () => parseKey(keyPem))).toBe(true);
    expect(await parsesOrAgentError("TSS2 key: fixtures", () => parseKey(keyDer))).toBe(true);
  });
  it("random bytes", async () => {
    await fc.assert(fc.asyncProperty(randomBytes(), async (b) => void (await parsesOrAgentError("TSS2 key: random bytes", () => parseKey(b)))), { numRuns: runs(400) });
  });
  it("mutated DER", async () => {
    await fc.assert(fc.asyncProperty(mutationOf(keyDer), async (b) => void (await parsesOrAgentError("TSS2 key: mutated DER", () => parseKey(b)))), { numRuns: runs(1000) });
  });
  it("mutated PEM", async () => {
    await fc.assert(fc.asyncProperty(pemMutationOf(keyPem), async (b) => void (await parsesOrAgentError("TSS2 key: mutated PEM", () => parseKey(b.toString("latin1"))))), { numRuns: runs(500) });
  });
  it("mutated public area (TPMT_PUBLIC) decoded and turned into a key", async () => {
    await fc.assert(
      fc.asyncProperty(mutationOf(publicBytes), async (b) =>
        void (await parsesOrAgentError("TPMT_PUBLIC: mutated", () => publicKeyOf(decodePublicArea(b, "fuzz").public, "fuzz")))),
      { numRuns: runs(800) },
    );
  });
});

/** A transport that answers every command with the bytes under test. */
function answering(response: Buffer): TpmTransport {
  return { description: "fuzz transport", transmit: async () => Buffer.from(response), transmitSync: () => undefined, close: async () => {} };
}

function responseBytes(params: Buffer, opts: { handle?: number; sessions?: number }): Buffer {
  const w = new Writer();
  w.u16(opts.sessions ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS).u32(0).u32(0);
  if (opts.handle !== undefined) w.u32(opts.handle);
  if (opts.sessions) {
    w.u32(params.length).bytes(params);
    for (let i = 0; i < opts.sessions; i++) w.u16(0).u8(1).u16(0); // TPMS_AUTH_RESPONSE: empty nonce, continueSession, empty hmac
  } else {
    w.bytes(params);
  }
  const out = w.finish();
  out.writeUInt32BE(out.length, 2);
  return out;
}

const pw = (): Authorization[] => [{ session: PASSWORD_SESSION }];
const key = permanentEntity(0x81000001);
const b = (n: number, v = 7) => Buffer.alloc(n, v);

interface Case {
  command: AnyCommand;
  run: (tpm: Tpm) => Promise<unknown>;
  valid: Buffer;
}

const CASES: Case[] = [
  {
    command: GetCapability,
    run: (tpm) => tpm.execute(GetCapability, {}, { capability: 1, property: 0x81000000, propertyCount: 64 }),
    valid: responseBytes(encode(GetCapability.response, { moreData: 0, capabilityData: { capability: 1, handles: [0x81000001, 0x81000002] } } as never), {}),
  },
  {
    command: GetRandom,
    run: (tpm) => tpm.execute(GetRandom, {}, { bytesRequested: 16 }),
    valid: responseBytes(encode(GetRandom.response, { randomBytes: b(16) }), {}),
  },
  {
    command: ReadPublic,
    run: async (tpm) => {
      const { response } = await tpm.execute(ReadPublic, { objectHandle: key }, {});
      publicKeyOf(decodePublicArea(response.outPublic, "read public").public, "read public");
    },
    valid: responseBytes(encode(ReadPublic.response, { outPublic: publicBytes, name: b(34), qualifiedName: b(34) }), {}),
  },
  {
    command: CreatePrimary,
    run: async (tpm) => {
      const { response } = await tpm.execute(
        CreatePrimary,
        { primaryHandle: permanentEntity(TPM_RH.OWNER) },
        { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: ecPublic, outsideInfo: Buffer.alloc(0), creationPCR: [] },
        pw(),
      );
      publicKeyOf(decodePublicArea(response.outPublic, "primary").public, "primary");
    },
    valid: responseBytes(
      encode(CreatePrimary.response, {
        outPublic: publicBytes, creationData: b(20), creationHash: b(32),
        creationTicket: { tag: TPM_ST.CREATION, hierarchy: TPM_RH.OWNER, digest: b(32) }, name: b(34),
      }),
      { handle: 0x80000000, sessions: 1 },
    ),
  },
  {
    command: Load,
    run: (tpm) => tpm.execute(Load, { parentHandle: key }, { inPrivate: b(64), inPublic: publicBytes }, pw()),
    valid: responseBytes(encode(Load.response, { name: b(34) }), { handle: 0x80000001, sessions: 1 }),
  },
  {
    command: Sign,
    run: async (tpm) => {
      const { response } = await tpm.execute(
        Sign,
        { keyHandle: key },
        { digest: b(32), inScheme: { scheme: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 }, validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) } } as never,
        pw(),
      );
      const sig = response.signature as { sigAlg: number; signatureR?: Buffer; signatureS?: Buffer };
      if (sig.sigAlg === TPM_ALG.ECDSA) ecdsaSignatureToDer(sig.signatureR!, sig.signatureS!);
    },
    valid: responseBytes(encode(Sign.response, { signature: { sigAlg: TPM_ALG.ECDSA, hash: TPM_ALG.SHA256, signatureR: b(32, 0x11), signatureS: b(32, 0x22) } } as never), { sessions: 1 }),
  },
  {
    command: StartAuthSession,
    run: (tpm) =>
      tpm.execute(
        StartAuthSession,
        { tpmKey: permanentEntity(TPM_RH.NULL), bind: permanentEntity(TPM_RH.NULL) },
        { nonceCaller: b(16), encryptedSalt: Buffer.alloc(0), sessionType: 0, symmetric: { algorithm: TPM_ALG.NULL }, authHash: TPM_ALG.SHA256 } as never,
      ),
    valid: responseBytes(encode(StartAuthSession.response, { nonceTPM: b(16) }), { handle: 0x02000000 }),
  },
];

describe("TPM responses (malicious or broken TPM / transport)", () => {
  const exec = (c: Case, response: Buffer) => c.run(new Tpm(answering(response), { maxRetries: 0 }));

  it.each(CASES.map((c) => [c.command.name, c] as const))("%s: the well-formed response is accepted", async (name, c) => {
    expect(await parsesOrAgentError(`${name}: well-formed`, () => exec(c, c.valid))).toBe(true);
  });
  for (const c of CASES) {
    it(`${c.command.name}: mutated responses`, async () => {
      await fc.assert(fc.asyncProperty(mutationOf(c.valid), async (r) => void (await parsesOrAgentError(`${c.command.name}: mutated response`, () => exec(c, r)))), { numRuns: runs(400) });
    });
    it(`${c.command.name}: random responses (random bodies behind a plausible header, and raw random bytes)`, async () => {
      const plausible = fc.tuple(fc.constantFrom(TPM_ST.NO_SESSIONS, TPM_ST.SESSIONS, TPM_ST.RSP_COMMAND), randomBytes(256), fc.boolean(), fc.constantFrom(0, 0x101, 0x922, 0x98e, 0x921, 0x100)).map(([tag, body, fixSize, rc]) => {
        const out = Buffer.concat([Buffer.alloc(10), body]);
        out.writeUInt16BE(tag, 0);
        out.writeUInt32BE(fixSize ? out.length : body.length, 2);
        out.writeUInt32BE(rc, 6);
        return out;
      });
      await fc.assert(fc.asyncProperty(fc.oneof(plausible, randomBytes(64)), async (r) => void (await parsesOrAgentError(`${c.command.name}: random response`, () => exec(c, r)))), { numRuns: runs(300) });
    });
  }
});
