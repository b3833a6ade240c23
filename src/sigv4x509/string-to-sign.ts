import { hash } from "node:crypto";
import type { SigningAlgorithm } from "./types.js";
import { amzDate, credentialScope } from "./scope.js";

export function stringToSign(algorithm: SigningAlgorithm, date: Date, region: string, canonicalRequest: string): string {
  const hashed = hash("sha256", canonicalRequest, "hex");
  return `${algorithm}\n${amzDate(date)}\n${credentialScope(date, region)}\n${hashed}`;
}
