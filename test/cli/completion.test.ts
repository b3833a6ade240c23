import { describe, expect, it } from "vitest";
import { runMain } from "../helpers/run-main.js";

const run = runMain;

describe("completion", () => {
  it("without a shell: the one $SHELL names, bash when unset or empty, one line for a shell it has no script for", async () => {
    expect((await run(["completion"], { SHELL: "/usr/bin/zsh" })).stdout).toMatch(/^#compdef roles-anywhere-agent\n/);
    expect((await run(["completion"], { SHELL: "/usr/bin/fish" })).stdout).toMatch(/^# fish completion/);
    expect((await run(["completion"], {})).stdout).toMatch(/^# bash completion/);
    expect((await run(["completion"], { SHELL: "" })).stdout).toMatch(/^# bash completion/);
    // Before: a bash script, exit 0, which the user's tcsh or sh then failed to load.
    for (const [shell, name] of [["/bin/tcsh", "tcsh"], ["/bin/sh", "sh"]]) {
      const r = await run(["completion"], { SHELL: shell });
      expect([r.code, r.stdout]).toEqual([2, ""]);
      expect(r.stderr).toMatch(new RegExp(`^roles-anywhere-agent: no completion script for the shell "${name}" \\(\\$SHELL\\) \\(.*choose one of bash, zsh, fish\\)\\n$`));
    }
    expect((await run(["completion", "bash"], { SHELL: "/bin/tcsh" })).code).toBe(0); // named: $SHELL plays no part
  });

  it("help completion and completion --help print its help (before: the bash script; 'no completion script for the shell \"--help\"')", async () => {
    for (const argv of [["help", "completion"], ["completion", "--help"], ["completion", "-h"], ["completion", "zsh", "--help"]]) {
      const r = await run(argv, { SHELL: "/bin/tcsh" });
      expect([r.code, r.stderr]).toEqual([0, ""]);
      expect(r.stdout).toMatch(/^roles-anywhere-agent completion \[shell\]\n\nPrint the completion script for bash, zsh or fish \(default \$SHELL's, else bash\)\n/);
    }
  });
});
