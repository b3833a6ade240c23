import { createHash } from "node:crypto";
import type { SigningAlgorithm } from "./types.js";
import { amzDate, credentialScope } from "./scope.js";

export function stringToSign(algorithm: SigningAlgorithm, date: Date, region: string, canonicalRequest: string): string {
  const hashed = createHash("sha256").update(canonicalRequest).digest("hex");
  return `${algorithm}\n${amzDate(date)}\n${credentialScope(date, region)}\n${hashed}`;
}
