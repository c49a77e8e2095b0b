/**
 * Conformance scenarios for Envoy's host extensions (sdk/tests/conformance/assembly/hostext.ts): feature
 * detection, sign and verify_signature (RSA and ECDSA keys made here, PEM and DER, bad hash names, bad keys,
 * tampered text), compress/uncompress (with a stream made by node:zlib and a corrupt one), set_envoy_filter_state
 * (a known factory, an unknown one) and declare_property. Keys, signatures and zlib streams travel as hex headers.
 */
import { createSign, generateKeyPairSync } from "node:crypto";
import { deflateSync } from "node:zlib";

const hex = (b: Buffer | string) => Buffer.from(b).toString("hex");

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const TEXT = "the text that is signed";
const rsaSig = createSign("sha256").update(TEXT).sign(rsa.privateKey);
const ecSig = createSign("sha384").update(TEXT).sign(ec.privateKey);

const rsaPrivatePem = rsa.privateKey.export({ type: "pkcs8", format: "pem" });
const rsaPrivateDer = rsa.privateKey.export({ type: "pkcs8", format: "der" });
const rsaPublicPem = rsa.publicKey.export({ type: "spki", format: "pem" });
const rsaPublicDer = rsa.publicKey.export({ type: "spki", format: "der" });
const ecPublicPem = ec.publicKey.export({ type: "spki", format: "pem" });

/** 64 KiB that deflate to a short header (a phrase repeated). */
const LARGE = Buffer.alloc(65_536, "sixty-four kibibytes out of uncompress, ");

export interface HostExtensionScenario {
  name: string;
  scenario: string;
  headers: Record<string, string>;
}

/** sign: a hash name and a private key (hex; none omits the header) over TEXT. */
const SIGN: Array<[name: string, hash: string, keyHex: string | undefined]> = [
  ["sign RSA sha256, PEM key", "sha256", hex(rsaPrivatePem)],
  ["sign RSA SHA512, DER key", "SHA512", hex(rsaPrivateDer)],
  ["sign with a bad hash name", "md5", hex(rsaPrivatePem)],
  ["sign with a bad key", "sha256", "00ff00ff"],
  ["sign with no key", "sha256", undefined],
];

/** verify: each case changes what it names of a good RSA sha256 signature over TEXT with the PEM public key. */
interface VerifyInput {
  hash: string;
  keyHex: string;
  sigHex: string;
  text: string;
}
const GOOD_RSA: VerifyInput = { hash: "sha256", keyHex: hex(rsaPublicPem), sigHex: hex(rsaSig), text: TEXT };
const VERIFY: Array<[name: string, change: Partial<VerifyInput>]> = [
  ["verify RSA sha256, PEM key", {}],
  ["verify RSA sha256, DER key", { keyHex: hex(rsaPublicDer) }],
  ["verify ECDSA P-256 sha384", { hash: "sha384", keyHex: hex(ecPublicPem), sigHex: hex(ecSig) }],
  ["verify tampered text", { text: `${TEXT}!` }],
  ["verify with the wrong hash", { hash: "sha1" }],
  ["verify with a bad hash name", { hash: "sha3-256" }],
  ["verify with a bad key", { keyHex: "3003020100" }],
];

/** filter-state: a factory key, a value and a life span. */
const FILTER_STATE: Array<[name: string, key: string, value: string, span: string]> = [
  ["filter state envoy.string", "envoy.string", "subset-b", "request"],
  ["filter state with an unknown factory key", "no.such.factory", "x", "filter-chain"],
];

export const HOST_EXTENSION_SCENARIOS: HostExtensionScenario[] = [
  { name: "host-has", scenario: "host-has", headers: {} },
  ...SIGN.map(([name, hash, keyHex]) => ({
    name,
    scenario: "sign",
    headers: { "x-hash": hash, ...(keyHex !== undefined ? { "x-key-hex": keyHex } : {}), "x-text": TEXT },
  })),
  ...VERIFY.map(([name, change]) => {
    const v = { ...GOOD_RSA, ...change };
    return { name, scenario: "verify", headers: { "x-hash": v.hash, "x-key-hex": v.keyHex, "x-sig-hex": v.sigHex, "x-text": v.text } };
  }),
  { name: "zlib", scenario: "zlib", headers: { "x-text": "hello hello hello hello", "x-zlib-hex": hex(deflateSync("made by node:zlib")) } },
  // 64 KiB out of a host call: more than xds.node's protobuf bytes, reported as length and hash.
  { name: "zlib, a 64 KiB stream", scenario: "zlib", headers: { "x-text": "", "x-zlib-hex": hex(deflateSync(LARGE)) } },
  { name: "zlib, a corrupt stream", scenario: "zlib", headers: { "x-text": "", "x-zlib-hex": "78da0102030405" } },
  ...FILTER_STATE.map(([name, key, value, span]) => ({
    name,
    scenario: "filter-state",
    headers: { "x-fs-key": key, "x-fs-value": value, "x-fs-span": span },
  })),
  { name: "declare_property", scenario: "declare", headers: { "x-value": "first" } },
  { name: "CEL", scenario: "cel", headers: { "x-cel": "yes", "x-n": "21" } },
  { name: "CEL without the headers it reads", scenario: "cel", headers: {} },
];
