/** serve's own flag checks, made before anything is started or read (src/cli/commands/serve.ts). */
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

async function run(...args: string[]): Promise<[number, string]> {
  let stderr = "";
  const io = { stdout: { write: () => true }, stderr: { write: (t: string | Uint8Array) => ((stderr += String(t)), true) }, env: {} };
  return [await main(["serve", ...args], io), stderr];
}

describe("serve's flags", () => {
  it("takes --tls-certificate and --tls-key together only: one alone would serve plain HTTP", async () => {
    for (const half of [["--tls-certificate", "c.pem"], ["--tls-key", "k.pem"]]) {
      expect(await run("--ecs", ...half)).toEqual([2, "roles-anywhere-agent: --tls-certificate and --tls-key go together\n"]);
    }
  });

  it("holds --hop-limit to 1–255 and --port to 0–65535", async () => {
    for (const [flag, value, range] of [["hop-limit", "0", "1 to 255"], ["hop-limit", "256", "1 to 255"], ["port", "-1", "0 to 65535"], ["port", "65536", "0 to 65535"]]) {
      expect(await run(`--${flag}`, value!)).toEqual([2, `roles-anywhere-agent: --${flag} must be a whole number from ${range} (got ${value})\n`]);
    }
  });

  it("refuses --ecs-service-account without both --ecs-jwks and --ecs-issuer: it could verify no token", async () => {
    const need = "roles-anywhere-agent: --ecs-service-account needs --ecs-jwks and --ecs-issuer (the cluster's ServiceAccount keys and token issuer)\n";
    const account = ["--ecs", "--ecs-service-account", "billing/api=arn:aws:iam::111122223333:role/r"];
    expect(await run(...account, "--ecs-issuer", "https://issuer.example")).toEqual([2, need]);
    expect(await run(...account, "--ecs-jwks", "/nonexistent/jwks.json")).toEqual([2, need]);
  });
});
