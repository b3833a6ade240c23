import { isIP } from "node:net";
import { UsageError } from "../../errors.js";
import { ownValue } from "../../own-value.js";

/** A SAN the user asked for (`--san DNS:host`, `URI:…`, `email:…`, `IP:…`). */
export type SanRequest = { readonly type: "DNS" | "URI" | "email" | "IP"; readonly value: string };

const TYPES: Readonly<Record<string, SanRequest["type"]>> = { dns: "DNS", uri: "URI", email: "email", ip: "IP" };

/** Parses `TYPE:value` (type case-insensitive, as in OpenSSL's subjectAltName syntax). */
export function parseSan(text: string): SanRequest {
  const colon = text.indexOf(":");
  const type = colon > 0 ? ownValue(TYPES, text.slice(0, colon).toLowerCase()) : undefined;
  const value = text.slice(colon + 1).trim();
  if (type === undefined || value === "") {
    throw new UsageError("USAGE", `invalid --san "${text}"`, { hint: "write DNS:host.example.com, URI:spiffe://…, email:a@example.com or IP:192.0.2.1" });
  }
  if (type === "IP" && isIP(value) === 0) throw new UsageError("USAGE", `invalid --san "${text}": not an IPv4 or IPv6 address`);
  // isIP accepts fe80::1%eth0, but an iPAddress SAN has no room for the zone: it was dropped without a word.
  if (type === "IP" && value.includes("%")) throw new UsageError("USAGE", `invalid --san "${text}": an IP SAN holds no zone id`);
  // rfc822Name is a mailbox, local-part@domain (RFC 5280 §4.2.1.6).
  if (type === "email" && !/.@[^@]+$/.test(value)) {
    throw new UsageError("USAGE", `invalid --san "${text}": an email address needs a local part, @ and a domain`);
  }
  // dNSName, uniformResourceIdentifier and rfc822Name are IA5String (RFC 5280 §4.2.1.6); an IP passed isIP above.
  if (!/^[\x21-\x7e]+$/.test(value)) {
    throw new UsageError("USAGE", `invalid --san "${text}": ${type} names must be printable ASCII without spaces`, {
      hint: type === "DNS" ? "write internationalised domain names in their xn-- (A-label) form" : undefined,
    });
  }
  return { type, value };
}
