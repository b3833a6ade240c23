/**
 * A virtual YubiKey 5 for one test file: the PIV card emulator with keys made here, certificates from a test
 * device CA in slots 9a, 9c, 9d and 9e, a Yubico-style attestation key and certificate in f9 (and ATTEST
 * answers for every slot, as a real YubiKey gives for keys it generated), plugged into a private pcscd.
 */
import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OctetString } from "@peculiar/asn1-schema";
import { Extension } from "@peculiar/asn1-x509";
import { buildCertificate, commonName, opensslCaIssuer, toPem } from "../../../test/helpers/mldsa-pki.js";
import { createCa, makeTempDir, type CaHandle } from "../../../test/helpers/pki.js";
import type { PivAlgorithm } from "./card-signatures.js";
import {
  CERTIFICATE_OBJECT,
  certificateObject,
  chuidObject,
  discoveryObject,
  PIN_POLICY_BYTE,
  PIV_OBJECT,
  PivCard,
  TOUCH_POLICY_BYTE,
  type PinPolicy,
  type PivKey,
  type TouchPolicy,
} from "./piv-card.js";
import { startPrivatePcscd, type PrivatePcscd } from "./private-pcscd.js";

export const OPENSC_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
export const YKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/libykcs11.so";

/** A YubiKey 5 (USB) ATR: its historical bytes carry "YubiKey", which is how OpenSC recognises one. */
const YUBIKEY5_ATR = Buffer.from("3bfd1300008131fe158073c021c057597562694b657940", "hex");
const YUBICO_OID = "1.3.6.1.4.1.41482.3";

export interface SlotSpec {
  readonly algorithm: PivAlgorithm;
  readonly pinPolicy: PinPolicy;
  readonly touchPolicy: TouchPolicy;
}

/** The YubiKey defaults per slot (9c: PIN before every signature), with touch "always" on 9a. */
export const DEFAULT_SLOTS: ReadonlyMap<number, SlotSpec> = new Map([
  [0x9a, { algorithm: "P-256", pinPolicy: "once", touchPolicy: "always" }],
  [0x9c, { algorithm: "RSA-2048", pinPolicy: "always", touchPolicy: "never" }],
  [0x9d, { algorithm: "P-384", pinPolicy: "once", touchPolicy: "never" }],
  [0x9e, { algorithm: "P-256", pinPolicy: "never", touchPolicy: "never" }],
]);

export interface VirtualYubiKey {
  readonly card: PivCard;
  readonly pcscd: PrivatePcscd;
  readonly dir: string;
  /** The device CA that issued the slot certificates (the local endpoint's trust anchor). */
  readonly ca: CaHandle;
  readonly serial: number;
  readonly pin: string;
  readonly puk: string;
  /** Certificate files (PEM) by slot. */
  readonly certificates: ReadonlyMap<number, string>;
  /** Environment for a PKCS#11 module that talks to this card (PC/SC socket, a HOME of its own). */
  readonly env: NodeJS.ProcessEnv;
  /** A 0600 file holding `pin` (default: the right PIN). */
  pinFile(pin?: string): string;
  stop(): Promise<void>;
}

export interface VirtualYubiKeyOptions {
  readonly slots?: ReadonlyMap<number, SlotSpec>;
  /** pcscd --debug --apdu (see PrivatePcscd.log()). */
  readonly apduLog?: boolean;
}

export async function startVirtualYubiKey(options: VirtualYubiKeyOptions = {}): Promise<VirtualYubiKey> {
  const tmp = makeTempDir("raa-yubikey-");
  const serial = 10_000_000 + randomBytes(3).readUIntBE(0, 3);
  const version = [5, 4, 3] as const;
  const pin = "123456";
  const puk = "12345678";
  const slots = options.slots ?? DEFAULT_SLOTS;
  try {
    const ca = createCa(join(tmp.dir, "ca"), { name: "Virtual YubiKey Device CA" });
    // Yubico's chain: a root, the per-device attestation certificate in f9, slot attestations under it.
    const yubicoRoot = createCa(join(tmp.dir, "yubico"), { name: "Yubico PIV Root CA Serial 263751" });
    const attestationCa = createCa(join(tmp.dir, "yubico"), { name: "Yubico PIV Attestation", parent: yubicoRoot });
    const attestationKey = createPrivateKey(readFileSync(attestationCa.keyPath));

    const keys = new Map<number, PivKey>();
    const objects = new Map<number, Buffer>([
      [PIV_OBJECT.CHUID, chuidObject(randomBytes(16))],
      [PIV_OBJECT.DISCOVERY, discoveryObject()],
      [PIV_OBJECT.YUBICO_ATTESTATION, certificateObject(der(attestationCa.certPath))],
    ]);
    const attestations = new Map<number, Buffer>();
    const certificates = new Map<number, string>();
    // Leaves are built here rather than with openssl: forty openssl processes would cost seconds.
    const deviceIssuer = opensslCaIssuer(ca);
    const attestationIssuer = opensslCaIssuer(attestationCa);
    mkdirSync(join(tmp.dir, "certs"));
    // What a YubiKey puts in its attestations (Yubico's PIV attestation documentation): firmware version,
    // serial number (an INTEGER), PIN and touch policy, form factor.
    const yubico = (arc: number, value: Buffer) => new Extension({ extnID: `${YUBICO_OID}.${arc}`, critical: false, extnValue: new OctetString(value) });
    const serialInteger = Buffer.from(`0204${serial.toString(16).padStart(8, "0")}`, "hex");
    keys.set(0xf9, { algorithm: "P-256", privateKey: attestationKey, publicKey: createPublicKey(attestationKey), pinPolicy: "never", touchPolicy: "never", origin: "imported" });
    for (const [ref, spec] of slots) {
      const { privateKey, publicKey } = newKey(spec.algorithm);
      keys.set(ref, { ...spec, privateKey, publicKey, origin: "generated" });
      const slot = ref.toString(16);
      const spki = publicKey.export({ format: "der", type: "spki" });
      const certDer = buildCertificate({ issuer: deviceIssuer, subject: commonName(`virtual-yubikey-${slot}`), spki });
      const certPath = join(tmp.dir, "certs", `slot-${slot}.pem`);
      writeFileSync(certPath, toPem("CERTIFICATE", certDer));
      certificates.set(ref, certPath);
      objects.set(CERTIFICATE_OBJECT[ref]!, certificateObject(certDer));
      const attestation = buildCertificate({
        issuer: attestationIssuer,
        subject: commonName(`YubiKey PIV Attestation ${slot}`),
        spki,
        extensions: [
          yubico(3, Buffer.from(version)),
          yubico(7, serialInteger),
          yubico(8, Buffer.from([PIN_POLICY_BYTE[spec.pinPolicy], TOUCH_POLICY_BYTE[spec.touchPolicy]])),
          yubico(9, Buffer.from([1])),
        ],
      });
      attestations.set(ref, attestation);
    }
    const card = new PivCard({ atr: YUBIKEY5_ATR, serial, version, pin, puk, keys, objects, attestations });
    const pcscd = await startPrivatePcscd({ readerName: "Yubico YubiKey OTP+FIDO+CCID", apduLog: options.apduLog ?? false });
    try {
      await pcscd.insert(card);
    } catch (error) {
      await pcscd.stop();
      throw error;
    }
    let pinFiles = 0;
    const fixture: VirtualYubiKey = {
      card,
      pcscd,
      dir: tmp.dir,
      ca,
      serial,
      pin,
      puk,
      certificates,
      env: { ...process.env, ...pcscd.clientEnv, HOME: tmp.dir, NODE_EXTRA_CA_CERTS: "" },
      pinFile(value = pin) {
        const path = join(tmp.dir, `pin-${++pinFiles}`);
        writeFileSync(path, `${value}\n`, { mode: 0o600 });
        return path;
      },
      async stop() {
        await pcscd.stop();
        tmp.cleanup();
      },
    };
    return fixture;
  } catch (error) {
    tmp.cleanup();
    throw error;
  }
}

function newKey(algorithm: PivAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  return algorithm === "RSA-2048" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: algorithm });
}

function der(certPath: string): Buffer {
  return execFileSync("openssl", ["x509", "-in", certPath, "-outform", "DER"]);
}
