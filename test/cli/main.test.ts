/** main(): which command line runs a command, which prints help, and the unknown-command answer. */
import { describe, expect, it } from "vitest";
import { runMain } from "../helpers/run-main.js";
import { VERSION } from "../../src/version.js";

const run = (...argv: string[]) => runMain(argv);

describe("main", () => {
  it("prints the overall help for no command, help, -h and --help: exit 0, the exit codes listed", async () => {
    for (const argv of [[], ["help"], ["-h"], ["--help"]]) {
      const r = await run(...argv);
      expect([r.code, r.stderr], argv.join(" ")).toEqual([0, ""]);
      expect(r.stdout, argv.join(" ")).toContain("Exit codes: 0 ok, 1 internal, 2 usage, 3 input, 4 auth, 5 device, 6 service, 7 network.");
    }
  });

  it("prints a command's help, never runs it, for --help or -h anywhere in its arguments, and for help COMMAND", async () => {
    for (const argv of [["credential-process", "--help"], ["credential-process", "--profile", "p", "-h"], ["help", "credential-process"]]) {
      const r = await run(...argv);
      expect([r.code, r.stderr], argv.join(" ")).toEqual([0, ""]);
      expect(r.stdout, argv.join(" ")).toMatch(/^roles-anywhere-agent credential-process\n[\s\S]*--trust-anchor-arn/);
    }
    const version = await run("version", "--help");
    expect(version.stdout).not.toBe(`${VERSION}\n`);
    expect(version.stdout).toMatch(/^roles-anywhere-agent version\n/);
  });

  it("runs the command otherwise; --version is version", async () => {
    expect(await run("version")).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
    expect(await run("--version")).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  it("answers an unknown command (help UNKNOWN too) with exit 2, one line, the nearest commands when there are some", async () => {
    const list = "run 'roles-anywhere-agent --help' for the list";
    const cases: [string[], string][] = [
      [["cerdential-process"], `unknown command "cerdential-process" (did you mean 'credential-process'? ${list})`],
      [["help", "serv"], `unknown command "serv" (did you mean 'serve'? ${list})`],
      [["--serve"], `unknown command "--serve" (did you mean 'serve'? ${list})`],
      [["---versoin"], `unknown command "---versoin" (did you mean 'version'? ${list})`],
      [["zzzzzzzz"], `unknown command "zzzzzzzz" (${list})`],
      [["toString"], `unknown command "toString" (${list})`],
    ];
    for (const [argv, line] of cases) expect(await run(...argv), argv.join(" ")).toEqual({ code: 2, stdout: "", stderr: `roles-anywhere-agent: ${line}\n` });
  });

  it("takes one shell for completion", async () => {
    expect(await run("completion", "bash", "zsh")).toEqual({
      code: 2, stdout: "", stderr: "roles-anywhere-agent: completion takes one argument: bash, zsh or fish\n",
    });
  });
});
