// The JSON value model of the request parser (json-text.ts): numbers kept as their literal text,
// objects without a prototype.

/** A JSON number kept as its literal text (`1e3`, `-0`, `12345678901234567891`). */
export class JsonNumber {
  constructor(readonly raw: string) {}

  /** The exact integer value, or undefined when the literal has a fraction or exponent. */
  toBigInt(): bigint | undefined {
    return /^-?\d+$/.test(this.raw) ? BigInt(this.raw) : undefined;
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
/** Null-prototype object: a `__proto__` key is an ordinary member, never a prototype change. */
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof JsonNumber);
}
