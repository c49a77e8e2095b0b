import { decodeUtf8, encodeUtf8, bytesEqualString } from "./utf8";

/**
 * One header (or trailer, or gRPC metadata entry). Names and values are bytes, exactly as the host sent
 * them; `name` / `value` decode on request and never trap on invalid UTF-8.
 */
export class Header {
  constructor(public key: ArrayBuffer, public value: ArrayBuffer) {}

  /** A header from strings (encoded as UTF-8). */
  static of(name: string, value: string): Header {
    return new Header(encodeUtf8(name), encodeUtf8(value));
  }

  get name(): string { return decodeUtf8(this.key); }
  get valueString(): string { return decodeUtf8(this.value); }

  /** True when the name equals `name` byte for byte (the host lower-cases names it stores). */
  is(name: string): bool { return bytesEqualString(this.key, name); }
}
