/**
 * A PKCS#11 module named by path (--pkcs11-lib, a URI's module-path=) must be a regular file: dlopen() of a
 * FIFO waited for a writer forever. A writer is started after a second here, so that the unfixed code ends
 * (with a loader error) instead of hanging the test run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

const dir = mkdtempSync(join(tmpdir(), "raa-module-loader-"));
const fifo = join(dir, "module.so");
execFileSync("mkfifo", [fifo]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let writer: ChildProcess | undefined;
afterEach(() => {
  writer?.kill();
  writer = undefined;
});

const ARNS = [
  "--trust-anchor-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:trust-anchor/ta",
  "--profile-arn", "arn:aws:rolesanywhere:us-east-1:111122223333:profile/p",
  "--role-arn", "arn:aws:iam::111122223333:role/device",
];

async function run(argv: readonly string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: { CI: "true" } };
  const code = await main(["credential-process", ...argv, ...ARNS], io);
  return { code, stderr };
}

describe("a PKCS#11 module that is not a regular file is refused before dlopen()", () => {
  it.each([
    ["a FIFO (--pkcs11-lib)", ["--certificate", "pkcs11:object=a", "--pkcs11-lib", fifo], fifo, "--pkcs11-lib"],
    ["a FIFO (module-path=)", ["--certificate", `pkcs11:object=a?module-path=${fifo}`], fifo, "module-path in the URI"],
    ["a directory", ["--certificate", "pkcs11:object=a", "--pkcs11-lib", dir], dir, "--pkcs11-lib"],
    ["/dev/zero", ["--certificate", "pkcs11:object=a", "--pkcs11-lib", "/dev/zero"], "/dev/zero", "--pkcs11-lib"],
  ])("%s", async (_, argv, path, origin) => {
    writer = spawn("sh", ["-c", `sleep 1; exec 3>'${fifo}'; sleep 1`], { stdio: "ignore" });
    const { code, stderr } = await run(argv);
    expect(stderr).toBe(
      `roles-anywhere-agent: the PKCS#11 module ${path} (${origin}) is not a regular file; it was not loaded` +
        " (pass the module's shared library (a .so file) with --pkcs11-lib or module-path=)\n",
    );
    expect(code).toBe(3);
  });
});

describe("SOFTHSM2_CONF or OPENSC_CONF naming a FIFO (the module's C_Initialize would read it forever)", () => {
  const saved = { SOFTHSM2_CONF: process.env["SOFTHSM2_CONF"], OPENSC_CONF: process.env["OPENSC_CONF"] };
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("refuses the module that reads it (native-test/faults-softhsm.test.ts runs the real ones)", async () => {
    process.env["SOFTHSM2_CONF"] = fifo;
    const { code, stderr } = await run(["--certificate", "pkcs11:object=a", "--pkcs11-lib", "/nonexistent/libsofthsm2.so"]);
    expect(stderr).toBe(
      `roles-anywhere-agent: SOFTHSM2_CONF (${fifo}) is not a regular file (SoftHSM hangs reading its config from a FIFO or device); ` +
        "/nonexistent/libsofthsm2.so was not loaded (point SOFTHSM2_CONF at its config file (softhsm2.conf), or unset it)\n",
    );
    expect(code).toBe(3);
  });

  it("does not refuse another module over it: loaded (here: not found), as without the variable", async () => {
    process.env["SOFTHSM2_CONF"] = fifo;
    process.env["OPENSC_CONF"] = fifo;
    const { code, stderr } = await run(["--certificate", "pkcs11:object=a", "--pkcs11-lib", "/nonexistent/libykcs11.so"]);
    expect(stderr).toMatch(/^roles-anywhere-agent: cannot load the PKCS#11 module \/nonexistent\/libykcs11.so \(--pkcs11-lib\)/);
    expect(code).toBe(5);
  });
});
