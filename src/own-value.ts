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

/** What {@link readOnce} gives for an object that is not plain, never read: {@link wrongOption} refuses it. */
const NOT_PLAIN: object = Object.freeze(new (class NotPlain {})());

/** A JSON object (not null, not an array): what a config file or an endpoint's answer must be before its fields are read. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  try {
    return !Array.isArray(v);
  } catch {
    return false; // a revoked Proxy: no object to read (not a TypeError)
  }
}

/** A string: what the `[test, want]` kinds below are built of, with {@link isPlainObject}. */
export const isText = (v: unknown): v is string => typeof v === "string";

type Test = readonly [test: (value: unknown) => boolean, want: string];
/** What an option must be: a `typeof` name ("object": a plain object), `[test, what it must be]`, or nested kinds. */
export type Kind = "string" | "number" | "boolean" | "function" | "object" | Test | Kinds;
export type Kinds = { readonly [field: string]: Kind };
/** Node's own process.env, which makes every value a string (a program may put a plain object in its place). */
const REAL_ENV = process.env;
/**
 * An environment such as `process.env`: strings only (`{ AWS_MAX_ATTEMPTS: 5 }` would fail deep inside). Node's own
 * is not read through: that costs a cold credential-process ~1.3 M instructions (cachegrind).
 */
export const ENVIRONMENT: Kind = [
  (env) =>
    env === REAL_ENV ||
    (isPlainObject(env) && Object.values(env).every((v) => v === undefined || typeof v === "string")),
  "an object of strings (like process.env)",
];
/** A Date that is a time (`new Date("yesterday")` is not). */
export const VALID_DATE: Kind = [(date) => date instanceof Date && !Number.isNaN(date.getTime()), "a valid Date"];
/** How {@link wrongOption} names things; `required` fields (`a.b`: inside `a`) may not be undefined (else: absent). */
type Naming = { what?: string; name?: (field: string) => string; required?: readonly string[] };

/**
 * The one type check of a library caller's options (plain JavaScript passes anything): `<name> must be <kind>` for
 * the first field not of its kind, `<what> must be an object`, or undefined. The caller throws it as its own
 * error; it never quotes a value, which may be a secret.
 */
export function wrongOption(o: unknown, kinds: Kinds, naming: Naming = {}): string | undefined {
  const { what = "the options", name = (field: string) => field, required = [] } = naming;
  if (o === NOT_PLAIN) return `${what} must be ${plainObjectWanted(o)[1]}`;
  if (!isPlainObject(o)) return `${what} must be an object`;
  for (const field of Object.keys(kinds)) { // own fields only: not a name a polluted Object.prototype adds
    const kind = kinds[field]!;
    const value = o[field];
    if (value === undefined && !required.includes(field)) continue;
    if (!Array.isArray(kind) && typeof kind === "object") {
      const inner = required.flatMap((r) => (r.startsWith(`${field}.`) ? [r.slice(field.length + 1)] : []));
      const named = { what: name(field), name: (f: string) => `${name(field)}.${f}`, required: inner };
      const wrong = wrongOption(value, kind as Kinds, named);
      if (wrong) return wrong;
      continue;
    }
    const [ok, want] = Array.isArray(kind) ? [kind[0](value), kind[1]]
      : kind === "object" ? plainObjectWanted(value) : [typeof value === kind, `a ${kind}`];
    if (!ok) return `${name(field)} must be ${want}`;
  }
  return undefined;
}

/** A number setting's one rule, said after the field's name: it quotes a number, of anything else its type (a PIN typed there). */
export function wholeNumberProblem(value: unknown, min: number, max: number): string | undefined {
  if (Number.isInteger(value) && (value as number) >= min && (value as number) <= max) return undefined;
  const got = typeof value === "number" ? (Object.is(value, -0) ? "-0" : String(value)) : typeof value === "object" ? "an object" : `a ${typeof value}`;
  return `must be a whole number from ${min} to ${max} (got ${got})`;
}

/** Whether a number's text has a fraction its double drops (899.99999999999999 is 900, 1e-400 is 0): no whole number. */
export function fractionLost(text: string): boolean {
  const [, int = "", fraction = "", exponent = "0"] = /^[+-]?(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(text) ?? [];
  return Number.isInteger(Number(text)) && !/^0*$/.test((int + fraction).slice(Math.max(0, int.length + Number(exponent))));
}

/**
 * `from`'s own enumerable properties, each read once, in an object without a prototype: a getter gives the value
 * checked and the value used, and nothing inherited (a polluted Object.prototype) is taken for a property. A Proxy
 * whose keys cannot be listed (its trap throws, or lists a key twice) gives a stand-in the checks refuse.
 */
export function ownCopy(from: object): Record<string, unknown> {
  let keys: string[];
  try {
    keys = Object.keys(from);
  } catch {
    return NOT_PLAIN as Record<string, unknown>; // not a TypeError for the caller: USAGE at the check
  }
  const copy = Object.create(null) as Record<string, unknown>;
  for (const key of keys) copy[key] = (from as Record<string, unknown>)[key]; // a getter's own error is the caller's
  return copy;
}

/**
 * {@link ownCopy} of a plain object (`{ … }`, the only kind the checks take); anything else for them to refuse: a
 * primitive, an array or a revoked Proxy as given, another object (a class instance, a Proxy whose prototype answers
 * differently at each read) as a stand-in, never read again.
 */
export function readOnce<T>(value: T): T {
  const [plain, want] = plainObjectWanted(value);
  return (plain ? ownCopy(value as object) : isPlainObject(value) || want !== "an object" ? NOT_PLAIN : value) as T;
}

/** "object": a `{ … }` literal; a Map or class instance would pass `typeof` and have its settings silently unread. */
function plainObjectWanted(value: unknown): [boolean, string] {
  const want = "a plain object ({ … }), not a Map or class instance";
  if (!isPlainObject(value)) return [false, "an object"];
  try { // a Proxy's trap runs here: one that throws is no plain object (not a TypeError)
    const prototype: unknown = Object.getPrototypeOf(value); // null, or an Object.prototype (of any realm)
    return [prototype === null || Object.getPrototypeOf(prototype) === null, want];
  } catch {
    return [false, want];
  }
}
