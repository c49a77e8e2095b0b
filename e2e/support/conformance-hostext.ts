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

export interface HostExtensionScenario {
  name: string;
  scenario: string;
  headers: Record<string, string>;
}

export const HOST_EXTENSION_SCENARIOS: HostExtensionScenario[] = [
  { name: "host-has", scenario: "host-has", headers: {} },
  { name: "sign RSA sha256, PEM key", scenario: "sign", headers: { "x-hash": "sha256", "x-key-hex": hex(rsaPrivatePem), "x-text": TEXT } },
  { name: "sign RSA SHA512, DER key", scenario: "sign", headers: { "x-hash": "SHA512", "x-key-hex": hex(rsaPrivateDer), "x-text": TEXT } },
  { name: "sign with a bad hash name", scenario: "sign", headers: { "x-hash": "md5", "x-key-hex": hex(rsaPrivatePem), "x-text": TEXT } },
  { name: "sign with a bad key", scenario: "sign", headers: { "x-hash": "sha256", "x-key-hex": "00ff00ff", "x-text": TEXT } },
  { name: "sign with no key", scenario: "sign", headers: { "x-hash": "sha256", "x-text": TEXT } },
  {
    name: "verify RSA sha256, PEM key",
    scenario: "verify",
    headers: { "x-hash": "sha256", "x-key-hex": hex(rsaPublicPem), "x-sig-hex": hex(rsaSig), "x-text": TEXT },
  },
  {
    name: "verify RSA sha256, DER key",
    scenario: "verify",
    headers: { "x-hash": "sha256", "x-key-hex": hex(rsaPublicDer), "x-sig-hex": hex(rsaSig), "x-text": TEXT },
  },
  {
    name: "verify ECDSA P-256 sha384",
    scenario: "verify",
    headers: { "x-hash": "sha384", "x-key-hex": hex(ecPublicPem), "x-sig-hex": hex(ecSig), "x-text": TEXT },
  },
  {
    name: "verify tampered text",
    scenario: "verify",
    headers: { "x-hash": "sha256", "x-key-hex": hex(rsaPublicPem), "x-sig-hex": hex(rsaSig), "x-text": `${TEXT}!` },
  },
  {
    name: "verify with the wrong hash",
    scenario: "verify",
    headers: { "x-hash": "sha1", "x-key-hex": hex(rsaPublicPem), "x-sig-hex": hex(rsaSig), "x-text": TEXT },
  },
  {
    name: "verify with a bad hash name",
    scenario: "verify",
    headers: { "x-hash": "sha3-256", "x-key-hex": hex(rsaPublicPem), "x-sig-hex": hex(rsaSig), "x-text": TEXT },
  },
  {
    name: "verify with a bad key",
    scenario: "verify",
    headers: { "x-hash": "sha256", "x-key-hex": "3003020100", "x-sig-hex": hex(rsaSig), "x-text": TEXT },
  },
  { name: "zlib", scenario: "zlib", headers: { "x-text": "hello hello hello hello", "x-zlib-hex": hex(deflateSync("made by node:zlib")) } },
  { name: "zlib, a corrupt stream", scenario: "zlib", headers: { "x-text": "", "x-zlib-hex": "78da0102030405" } },
  {
    name: "filter state envoy.string",
    scenario: "filter-state",
    headers: { "x-fs-key": "envoy.string", "x-fs-value": "subset-b", "x-fs-span": "request" },
  },
  {
    name: "filter state with an unknown factory key",
    scenario: "filter-state",
    headers: { "x-fs-key": "no.such.factory", "x-fs-value": "x", "x-fs-span": "filter-chain" },
  },
  { name: "declare_property", scenario: "declare", headers: { "x-value": "first" } },
  { name: "CEL", scenario: "cel", headers: { "x-cel": "yes", "x-n": "21" } },
  { name: "CEL without the headers it reads", scenario: "cel", headers: {} },
];
