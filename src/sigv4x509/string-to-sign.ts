import { hash } from "node:crypto";
import { amzDate, credentialScope, SERVICE_NAME } from "./scope.js";

export function stringToSign(algorithm: string, date: Date, region: string, canonicalRequest: string, service = SERVICE_NAME): string {
  const hashed = hash("sha256", canonicalRequest, "hex");
  return `${algorithm}\n${amzDate(date)}\n${credentialScope(date, region, service)}\n${hashed}`;
}
