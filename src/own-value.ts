/**
 * `table[key]` when `key` is the table's own property, else undefined. Every table indexed by input (a
 * command name, a URI attribute, a config field, an OID) goes through this, so that names such as
 * `constructor`, `__proto__` or `toString` never reach Object.prototype and are refused as unknown.
 */
export function ownValue<V>(table: Readonly<Record<string, V>>, key: string): V | undefined;
export function ownValue<V>(table: Readonly<Record<number, V>>, key: number): V | undefined;
export function ownValue<V>(table: Readonly<Record<string | number, V>>, key: string | number): V | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** A JSON object (not null, not an array): what a config file or an endpoint's answer must be before its fields are read. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
