/**
 * Our TPM 2.0 client against a real swtpm: transports and framings, capabilities, CreatePrimary with the
 * SRK template, Names, salted sessions with parameter encryption, policy digests and response codes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Secret } from "../src/secrets/secret.js";
import { Tpm, permanentEntity } from "../src/tpm/client/tpm.js";
import { TpmResponseError } from "../src/tpm/client/tpm-error.js";
import { decodePublicArea, objectName } from "../src/tpm/keys/public-area.js";
import { SRK_TEMPLATE_ECC, SRK_TEMPLATE_RSA } from "../src/tpm/keys/templates.js";
import { PASSWORD_SESSION } from "../src/tpm/sessions/password-session.js";
import { startAuthSession } from "../src/tpm/sessions/start-session.js";
import { SocketTransport } from "../src/tpm/transport/socket-transport.js";
import { openTpmTransport } from "../src/tpm/transport/open-transport.js";
import type { TpmTransport } from "../src/tpm/transport/transport.js";
import { CreatePrimary, GetCapability, GetRandom, PolicyAuthValue, PolicyGetDigest, PolicyPassword, ReadPublic } from "../src/tpm/wire/commands.js";
import { TPM_ALG, TPM_CAP, TPM_PT, TPM_RH } from "../src/tpm/wire/constants.js";
import { RC } from "../src/tpm/wire/response-code.js";
import type { TpmtPublic } from "../src/tpm/wire/structures.js";
import { startSwtpm, type Swtpm } from "./helpers/swtpm.js";

let unixTpm: Swtpm;
let tcpTpm: Swtpm;

beforeAll(async () => {
  [unixTpm, tcpTpm] = await Promise.all([startSwtpm({ transport: "unix" }), startSwtpm({ transport: "tcp" })]);
});

afterAll(async () => {
  await Promise.all([unixTpm?.stop(), tcpTpm?.stop()]);
});

async function withTpm<T>(transport: TpmTransport, fn: (tpm: Tpm) => Promise<T>): Promise<T> {
  const tpm = new Tpm(transport);
  try {
    return await fn(tpm);
  } finally {
    await transport.close();
  }
}

function createPrimary(tpm: Tpm, template: TpmtPublic, hierarchy: number = TPM_RH.OWNER, session = PASSWORD_SESSION) {
  return tpm.execute(
    CreatePrimary,
    { primaryHandle: permanentEntity(hierarchy) },
    { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: template, outsideInfo: Buffer.alloc(0), creationPCR: [] },
    [{ session }],
  );
}

describe("transports", () => {
  const cases: [string, () => TpmTransport][] = [
    ["unix raw", () => new SocketTransport({ kind: "unix", path: unixTpm.socketPath! }, { framing: "raw" })],
    ["unix mssim", () => new SocketTransport({ kind: "unix", path: unixTpm.socketPath! }, { framing: "mssim" })],
    ["tcp raw", () => new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: tcpTpm.port! }, { framing: "raw" })],
    ["tcp mssim", () => new SocketTransport({ kind: "tcp", host: "127.0.0.1", port: tcpTpm.port! }, { framing: "mssim" })],
  ];
  for (const [name, make] of cases) {
    it(`GetRandom over ${name}, many commands on one connection`, async () => {
      await withTpm(make(), async (tpm) => {
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const { response } = await tpm.execute(GetRandom, {}, { bytesRequested: 16 });
          expect(response.randomBytes).toHaveLength(16);
          seen.add(response.randomBytes.toString("hex"));
        }
        expect(seen.size).toBe(20);
      });
    });
  }

  it("opens the forms --tpm-device accepts: unix:, a socket path, tcp:, mssim:, swtpm TCTI strings", async () => {
    for (const device of [
      unixTpm.device,
      unixTpm.socketPath!,
      unixTpm.tcti,
      tcpTpm.device,
      `mssim:127.0.0.1:${tcpTpm.port}`,
      tcpTpm.tcti,
    ]) {
      const transport = await openTpmTransport(device, {});
      await withTpm(transport, async (tpm) => {
        const { response } = await tpm.execute(GetRandom, {}, { bytesRequested: 8 });
        expect(response.randomBytes).toHaveLength(8);
      });
    }
  });

  it("TPM_DEVICE is used when no device is given", async () => {
    const transport = await openTpmTransport(undefined, { TPM_DEVICE: unixTpm.socketPath! });
    expect(transport.description).toBe(`unix:${unixTpm.socketPath}`);
    await transport.close();
  });

  it("a missing socket is a clear device error", async () => {
    await expect(openTpmTransport(`${unixTpm.dir}/nope.sock`, {})).rejects.toThrow(/no TPM at .*nope\.sock/);
    const t = await openTpmTransport(`unix:${unixTpm.dir}/nope.sock`, {});
    await expect(new Tpm(t).execute(GetRandom, {}, { bytesRequested: 8 })).rejects.toMatchObject({ code: "TPM_UNAVAILABLE" });
    await t.close();
  });
});

describe("commands", () => {
  it("GetCapability: ECC is implemented, DA properties are readable", async () => {
    await withTpm(await openTpmTransport(unixTpm.device, {}), async (tpm) => {
      const algs = await tpm.execute(GetCapability, {}, { capability: TPM_CAP.ALGS, property: TPM_ALG.ECC, propertyCount: 1 });
      expect(algs.response.capabilityData.capability).toBe(TPM_CAP.ALGS);
      if (algs.response.capabilityData.capability !== TPM_CAP.ALGS) throw new Error("unreachable");
      expect(algs.response.capabilityData.algorithms[0]?.alg).toBe(TPM_ALG.ECC);
      const props = await tpm.execute(GetCapability, {}, { capability: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.LOCKOUT_COUNTER, propertyCount: 4 });
      if (props.response.capabilityData.capability !== TPM_CAP.TPM_PROPERTIES) throw new Error("unexpected capability");
      const byId = new Map(props.response.capabilityData.tpmProperties.map((p) => [p.property, p.value]));
      expect(byId.get(TPM_PT.MAX_AUTH_FAIL)).toBe(1000);
    });
  });

  it("CreatePrimary with the ECC and RSA SRK templates: returned Name = nameAlg ‖ H(public area); ReadPublic agrees", async () => {
    await withTpm(await openTpmTransport(unixTpm.device, {}), async (tpm) => {
      for (const template of [SRK_TEMPLATE_ECC, SRK_TEMPLATE_RSA]) {
        const { handle, response } = await createPrimary(tpm, template);
        try {
          const area = decodePublicArea(response.outPublic, "SRK");
          expect(area.public.type).toBe(template.type);
          expect(objectName(area).equals(response.name)).toBe(true);
          const read = await tpm.execute(ReadPublic, { objectHandle: { handle, name: response.name } }, {});
          expect(read.response.name.equals(response.name)).toBe(true);
          expect(read.response.outPublic.equals(response.outPublic)).toBe(true);
        } finally {
          await tpm.flush(handle);
        }
      }
    });
  });

  it("the same template gives the same key every time (deterministic primaries)", async () => {
    await withTpm(await openTpmTransport(unixTpm.device, {}), async (tpm) => {
      const a = await createPrimary(tpm, SRK_TEMPLATE_ECC);
      await tpm.flush(a.handle);
      const b = await createPrimary(tpm, SRK_TEMPLATE_ECC);
      await tpm.flush(b.handle);
      expect(a.response.name.equals(b.response.name)).toBe(true);
    });
  });

  for (const [name, template] of [
    ["ECC", SRK_TEMPLATE_ECC],
    ["RSA", SRK_TEMPLATE_RSA],
  ] as const) {
    it(`a session salted with the ${name} SRK authorizes commands with parameter encryption and verified response HMACs`, async () => {
      await withTpm(await openTpmTransport(unixTpm.device, {}), async (tpm) => {
        const srk = await createPrimary(tpm, template);
        const saltKey = { entity: { handle: srk.handle, name: srk.response.name }, public: decodePublicArea(srk.response.outPublic, "SRK") };
        const session = await startAuthSession(tpm, { kind: "hmac", saltKey, parameterEncryption: true });
        try {
          expect(session.salted).toBe(true);
          // CreatePrimary: first command parameter (inSensitive) and first response parameter (outPublic) are encrypted.
          for (let i = 0; i < 3; i++) {
            const again = await createPrimary(tpm, SRK_TEMPLATE_ECC, TPM_RH.OWNER, session as never);
            expect(session.encryptsCommand && session.encryptsResponse).toBe(true);
            const area = decodePublicArea(again.response.outPublic, "primary");
            expect(objectName(area).equals(again.response.name)).toBe(true);
            await tpm.flush(again.handle);
          }
        } finally {
          await tpm.flush(session.handle);
          await tpm.flush(srk.handle);
        }
      });
    });
  }

  it("PolicyAuthValue and PolicyPassword give the same policy digest (the known answer)", async () => {
    await withTpm(await openTpmTransport(unixTpm.device, {}), async (tpm) => {
      for (const cmd of [PolicyAuthValue, PolicyPassword]) {
        const s = await startAuthSession(tpm, { kind: "policy" });
        const e = { handle: s.handle, name: permanentEntity(s.handle).name };
        await tpm.execute(cmd, { policySession: e }, {});
        const { response } = await tpm.execute(PolicyGetDigest, { policySession: e }, {});
        expect(response.policyDigest.toString("hex")).toBe("8fcd2169ab92694e0c633f1ab772842b8241bbc20288981fc7ac1eddc1fddb0e");
        await tpm.flush(s.handle);
      }
    });
  });

  it("response codes come back decoded: a persistent handle that does not exist", async () => {
    await withTpm(await openTpmTransport(unixTpm.device, {}), async (tpm) => {
      const err = await tpm.execute(ReadPublic, { objectHandle: permanentEntity(0x81000123) }, {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TpmResponseError);
      expect((err as TpmResponseError).is(RC.HANDLE)).toBe(true);
      expect((err as TpmResponseError).decoded.handle).toBe(1);
      expect((err as Error).message).toMatch(/TPM2_ReadPublic failed: TPM_RC_HANDLE \(handle 1, rc 0x18b\)/);
    });
  });

  it("a wrong owner password is TPM_RC_BAD_AUTH (the hierarchy is DA-exempt)", async () => {
    await withTpm(await openTpmTransport(unixTpm.device, {}), async (tpm) => {
      const err = await tpm
        .execute(
          CreatePrimary,
          { primaryHandle: permanentEntity(TPM_RH.OWNER) },
          { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: SRK_TEMPLATE_ECC, outsideInfo: Buffer.alloc(0), creationPCR: [] },
          [{ session: PASSWORD_SESSION, authValue: Secret.fromUtf8("not-the-owner-password") }],
        )
        .catch((e: unknown) => e);
      expect((err as TpmResponseError).rc).toBe(0x9a2);
    });
  });
});
