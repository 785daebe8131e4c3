// One JSON-RPC request object as the request parser (json-text.ts) reads it: the envelope's
// members, and the texts of its params where they are exact (see paramsText).
import type { JsonValue } from './json-value.js';

/**
 * The members of one JSON-RPC request object that the envelope is made of; undefined: absent (a
 * repeated member counts once, the last one, as in parseJson). Other members are parsed (so
 * validated) and dropped. A fixed-shape object where parseJson makes a null-prototype one.
 */
export class RpcElement {
  jsonrpc: JsonValue | undefined = undefined;
  id: JsonValue | undefined = undefined;
  method: JsonValue | undefined = undefined;
  params: JsonValue | undefined = undefined;
  /** See paramsText: private so that the element reads as its four members. */
  #paramsText: string | undefined = undefined;
  #paramsCanonical: string | undefined = undefined;
  #paramsCanonicalHead: string | undefined = undefined;

  /**
   * The source text of `params` when it is an array or object written compactly (see
   * TextKeeper, json-canonical-text.ts: stringifyJson(params) is then that text, byte for byte);
   * else undefined.
   */
  get paramsText(): string | undefined {
    return this.#paramsText;
  }

  /** With paramsText: stringifyJson(params, { sortKeys: true }) (json-canonical-text.ts). */
  get paramsCanonical(): string | undefined {
    return this.#paramsCanonical;
  }

  /**
   * With paramsCanonical, when params are a list whose last element is a string and whose
   * canonical text was put together (not the source text): that text up to the last element (see
   * CanonicalTexts.lastHead); else undefined (cut the canonical text itself, rpc-params-text.ts).
   */
  get paramsCanonicalHead(): string | undefined {
    return this.#paramsCanonicalHead;
  }

  /** @internal for the parser */
  keepParams(text: string | undefined, canonical: string | undefined, canonicalHead: string | undefined): void {
    this.#paramsText = text;
    this.#paramsCanonical = canonical;
    this.#paramsCanonicalHead = canonicalHead;
  }
}
