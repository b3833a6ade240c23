/** Runs examples/sdk-sts.mjs as a user would: an app importing `roles-anywhere-agent` by name, with a SoftHSM key. */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { SoftHsmFixture } from "./softhsm-fixture.js";

const run = promisify(execFile);
const REPO = process.cwd();

export interface SdkExampleRun {
  /** The package the app imports as `roles-anywhere-agent` (the repository, or an installed copy). */
  readonly packageDir: string;
  /** A fresh directory for the app. */
  readonly appDir: string;
  readonly hsm: SoftHsmFixture;
  /** The CreateSession and STS endpoint (the local endpoint). */
  readonly endpointUrl: string;
  readonly arns: { readonly trustAnchorArn: string; readonly profileArn: string; readonly roleArn: string };
  /** The environment around the example's own variables (PATH, HOME, AWS config files off…). */
  readonly baseEnv: NodeJS.ProcessEnv;
}

/** Resolves to what the example prints: the caller identity's ARN. */
export async function runSdkStsExample(o: SdkExampleRun): Promise<string> {
  mkdirSync(join(o.appDir, "node_modules", "@aws-sdk"), { recursive: true });
  symlinkSync(o.packageDir, join(o.appDir, "node_modules", "roles-anywhere-agent"));
  symlinkSync(join(REPO, "node_modules", "@aws-sdk", "client-sts"), join(o.appDir, "node_modules", "@aws-sdk", "client-sts"));
  copyFileSync(join(o.packageDir, "examples", "sdk-sts.mjs"), join(o.appDir, "sdk-sts.mjs"));
  const { stdout } = await run(process.execPath, ["sdk-sts.mjs"], {
    cwd: o.appDir,
    env: {
      ...o.baseEnv,
      SOFTHSM2_CONF: o.hsm.conf,
      PKCS11_MODULE: o.hsm.module,
      PKCS11_PIN: o.hsm.pin,
      PKCS11_EC_KEY_URI: `pkcs11:token=${o.hsm.token};object=ec-key`,
      TRUST_ANCHOR_ARN: o.arns.trustAnchorArn,
      PROFILE_ARN: o.arns.profileArn,
      ROLE_ARN: o.arns.roleArn,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_ROLESANYWHERE: o.endpointUrl,
      AWS_ENDPOINT_URL_STS: o.endpointUrl,
    },
    timeout: 60_000,
  });
  return stdout.trim();
}
