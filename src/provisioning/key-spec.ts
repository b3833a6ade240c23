import { UsageError } from "../errors.js";
import { isPlainObject, ownValue, type Kind } from "../own-value.js";

/** The key types keygen creates: those Roles Anywhere accepts and common tokens generate. */
export type KeySpec =
  | { readonly kind: "RSA"; readonly bits: 2048 | 3072 | 4096; readonly name: string }
  | { readonly kind: "EC"; readonly curve: "P-256" | "P-384"; readonly name: string };

const SPECS: Readonly<Record<string, KeySpec>> = {
  rsa2048: { kind: "RSA", bits: 2048, name: "RSA-2048" },
  rsa3072: { kind: "RSA", bits: 3072, name: "RSA-3072" },
  rsa4096: { kind: "RSA", bits: 4096, name: "RSA-4096" },
  p256: { kind: "EC", curve: "P-256", name: "EC P-256" },
  p384: { kind: "EC", curve: "P-384", name: "EC P-384" },
};

const KEY_TYPE_CHOICES = Object.keys(SPECS);
/** A {@link KeySpec} built in plain JavaScript: one of those above, with any name. */
export const KEY_SPEC: Kind = [
  (s) => isPlainObject(s) && typeof s["name"] === "string" && Object.values(SPECS).some((k) =>
    k.kind === s["kind"] && (k.kind === "RSA" ? k.bits === s["bits"] : k.curve === s["curve"])),
  '{ kind: "RSA", bits: 2048, 3072 or 4096, name } or { kind: "EC", curve: "P-256" or "P-384", name }',
];

/** `rsa2048`, `RSA-3072`, `p256`, `ec:P-384`, `secp384r1`… */
export function parseKeySpec(text: string): KeySpec {
  const t = text.toLowerCase().replace(/^ec:/, "").replace(/[-_:]/g, "");
  const alias: Record<string, string> = { prime256v1: "p256", secp256r1: "p256", secp384r1: "p384", ecp256: "p256", ecp384: "p384", rsa: "rsa2048" };
  const spec = ownValue(SPECS, ownValue(alias, t) ?? t);
  if (!spec) throw new UsageError("USAGE", `unknown --key-type "${text}"`, { hint: `use one of ${KEY_TYPE_CHOICES.join(", ")}` });
  return spec;
}
