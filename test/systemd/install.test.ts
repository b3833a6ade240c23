import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installFiles } from "../../src/systemd/install.js";
import { generateFiles, type UnitContext } from "../../src/systemd/unit-files.js";
import { makeTempDir } from "../helpers/pki.js";

const { dir, cleanup } = makeTempDir("raa-systemd-install-");
afterAll(cleanup);
const context: UnitContext = {
  node: "/usr/bin/node",
  cli: "/usr/lib/node_modules/roles-anywhere-agent/dist/cli.js",
  configPath: "/etc/roles-anywhere-agent/config.json",
  profile: "default",
  port: 9911,
  user: "roles-anywhere",
  tpmDevice: "/dev/tpmrm0",
  notify: false,
  protectHome: "yes",
};

describe("install-systemd under a root", () => {
  it("says each file it wrote, then the next steps", async () => {
    const root = join(dir, "ok");
    const lines: string[] = [];
    await installFiles(generateFiles(context), root, context, (line) => lines.push(line));
    const files = generateFiles(context).map((f) => join(root, f.path));
    expect(lines.slice(0, files.length)).toEqual(files.map((f) => `wrote ${f}`));
    expect(lines.slice(files.length).every((l) => l.startsWith("next: "))).toBe(true);
    expect(files.every((f) => existsSync(f))).toBe(true);
  });

  it("a file that cannot be written still leaves the ones already written said", async () => {
    const root = join(dir, "blocked");
    mkdirSync(join(root, "etc/systemd"), { recursive: true });
    writeFileSync(join(root, "etc/systemd/user"), "not a directory");
    const lines: string[] = [];
    await expect(installFiles(generateFiles(context), root, context, (line) => lines.push(line))).rejects.toMatchObject({ code: "FILE_UNREADABLE" });
    expect(lines).toEqual([
      `wrote ${join(root, "etc/systemd/system/roles-anywhere-serve.service")}`,
      `wrote ${join(root, "etc/systemd/system/roles-anywhere-update.service")}`,
      `wrote ${join(root, "etc/systemd/system/roles-anywhere-update-once.service")}`,
    ]);
  });
});
