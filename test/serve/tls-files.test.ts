import { afterAll, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { startTlsServer } from "../../src/serve/tls-files.js";
import { secretVolume, servedSerial } from "../helpers/secret-volume.js";
import { createCa, issueLeaf, makeTempDir } from "../helpers/pki.js";

// The real reader, with a hook run before the key file is read: where a ..data swap can fall between the two reads.
const hook = vi.hoisted(() => ({ beforeKeyRead: undefined as (() => void) | undefined }));
vi.mock("../../src/io/input-file.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/io/input-file.js")>();
  return {
    ...real,
    readInputFile: (path: string, what: string) => {
      const run = hook.beforeKeyRead;
      if (what === "TLS private key file" && run) {
        hook.beforeKeyRead = undefined;
        run();
      }
      return real.readInputFile(path, what);
    },
  };
});

const { dir, cleanup } = makeTempDir("raa-tls-files-");
afterAll(cleanup);
const ca = createCa(join(dir, "ca"), { name: "Endpoint CA" });
const pair = (name: string) => {
  const leaf = issueLeaf(ca, join(dir, "certs"), { name, extensions: ["basicConstraints=critical,CA:FALSE", "subjectAltName=IP:127.0.0.1"] });
  return { ...leaf, files: { "tls.crt": readFileSync(leaf.certPath, "utf8"), "tls.key": readFileSync(leaf.keyPath, "utf8") } };
};

describe("the TLS certificate's files, re-read when they change", () => {
  it("reads the pair again when a rotation fell between reading the certificate and the key (before: never)", async () => {
    // Before: the torn pair (certificate of one generation, key of the next) failed and the files' stamps, by then
    // those of the next, complete pair, were remembered as failing: that pair was never loaded, and the old
    // certificate served until it expired.
    const [one, two, three] = [pair("one"), pair("two"), pair("three")];
    const vol = join(dir, "tls");
    secretVolume(vol, one.files, 1);
    const lines: string[] = [];
    const paths = { certificate: join(vol, "tls.crt"), key: join(vol, "tls.key") };
    const { server, stop } = await startTlsServer(paths, (_req, res) => res.end(), (l) => lines.push(l), 20);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      expect(await servedSerial(port, ca.certPem)).toBe(one.serialDecimal);
      hook.beforeKeyRead = () => secretVolume(vol, three.files, 3);
      secretVolume(vol, two.files, 2);
      for (let i = 0; i < 100 && !lines.some((l) => /reloaded from/.test(l)); i++) await new Promise((r) => setTimeout(r, 20));
      expect(await servedSerial(port, ca.certPem)).toBe(three.serialDecimal);
      expect(lines.filter((l) => /not reloaded/.test(l))).toEqual([]);
    } finally {
      stop();
      server.close();
    }
  });
});
