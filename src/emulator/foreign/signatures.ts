// verify_signature and sign with node:crypto, answering as Envoy 1.40 does (foreign.cc and its crypto utility):
// arguments that do not parse, or with no key or both key forms, are BadArgument; everything else is Ok with a
// result message whose error names the reason (observed in Envoy 1.40 by e2e/conformance.test.ts).

import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from "node:crypto";
import { WasmResult } from "../abi";
import type { ForeignFunction } from "../host-types";
import { bytesField, encodeMessage, parseMessage, stringField } from "./protobuf";

/** The hash functions Envoy accepts, by lower-cased name (it lower-cases the name it is given). */
const HASHES = new Set(["sha1", "sha224", "sha256", "sha384", "sha512"]);

function key(der: Uint8Array, pem: string, kind: "public" | "private"): KeyObject | null {
  try {
    if (pem !== "") return kind === "public" ? createPublicKey(pem) : createPrivateKey(pem);
    const buf = Buffer.from(der);
    if (kind === "public") return createPublicKey({ key: buf, format: "der", type: "spki" });
    try {
      return createPrivateKey({ key: buf, format: "der", type: "pkcs8" });
    } catch {
      // BoringSSL's EVP_parse_private_key also takes the traditional RSA and EC encodings.
      try {
        return createPrivateKey({ key: buf, format: "der", type: "pkcs1" });
      } catch {
        return createPrivateKey({ key: buf, format: "der", type: "sec1" });
      }
    }
  } catch {
    return null;
  }
}

/** VerifySignatureArguments { hash_function = 1; public_key = 2; signature = 3; text = 4; public_key_pem = 5 } */
export const verifySignature: ForeignFunction = (args) => {
  const f = parseMessage(args);
  if (!f) return { result: WasmResult.BadArgument };
  const der = bytesField(f, 2);
  const pem = stringField(f, 5);
  if ((der.length > 0) === (pem !== "")) return { result: WasmResult.BadArgument };
  const hash = stringField(f, 1);
  const answer = (ok: boolean, error: string) => encodeMessage([[1, ok], [2, error]]);
  if (!HASHES.has(hash.toLowerCase())) return answer(false, `${hash} is not supported.`);
  const k = key(der, pem, "public");
  if (!k) return answer(false, "Failed to initialize digest verify.");
  let ok = false;
  try {
    ok = nodeVerify(hash.toLowerCase(), bytesField(f, 4), k, bytesField(f, 3));
  } catch {
    ok = false;
  }
  return ok ? answer(true, "") : answer(false, "Failed to verify digest. Error code: 0");
};

/** SignArguments { hash_function = 1; private_key = 2; text = 3; private_key_pem = 4 } */
export const sign: ForeignFunction = (args) => {
  const f = parseMessage(args);
  if (!f) return { result: WasmResult.BadArgument };
  const der = bytesField(f, 2);
  const pem = stringField(f, 4);
  if ((der.length > 0) === (pem !== "")) return { result: WasmResult.BadArgument };
  const hash = stringField(f, 1);
  const answer = (ok: boolean, signature: Uint8Array, error: string) => encodeMessage([[1, ok], [2, signature], [3, error]]);
  if (!HASHES.has(hash.toLowerCase())) return answer(false, new Uint8Array(0), `${hash} is not supported.`);
  const k = key(der, pem, "private");
  if (!k) return answer(false, new Uint8Array(0), "Invalid key type: private key required for signing operation.");
  try {
    return answer(true, new Uint8Array(nodeSign(hash.toLowerCase(), bytesField(f, 3), k)), "");
  } catch (e) {
    return answer(false, new Uint8Array(0), (e as Error).message);
  }
};
