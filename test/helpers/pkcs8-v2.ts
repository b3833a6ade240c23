import { createPrivateKey, createPublicKey } from "node:crypto";
import { derSequence, derTlv } from "../../src/encoding/der-writer.js";
import { TAG, children, readSingle } from "../../src/encoding/der.js";
import { encodePem } from "../../src/encoding/pem.js";

/**
 * A PEM key as PKCS#8 version 2 (RFC 5958 OneAsymmetricKey) with its `[1] publicKey`: what Node 20's OpenSSL 3.0
 * refuses and Node 22's and 24's read, so a reader handing the file to OpenSSL takes it under some Nodes only.
 */
export function pkcs8V2Pem(keyPem: string): string {
  const key = createPrivateKey(keyPem);
  const [, algorithm, privateKey] = children(readSingle(key.export({ type: "pkcs8", format: "der" }), TAG.SEQUENCE));
  const publicBits = children(readSingle(createPublicKey(key).export({ type: "spki", format: "der" }), TAG.SEQUENCE))[1]!.content;
  return encodePem("PRIVATE KEY", derSequence(derTlv(TAG.INTEGER, Buffer.from([1])), algorithm!.raw, privateKey!.raw, derTlv(0x81, publicBits)));
}
