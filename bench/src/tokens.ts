// Keys and tokens for the auth cases, minted fresh for each run with node:crypto: one RSA 2048 key (RS256)
// and one P-256 key (ES256) in one JWKS, and one valid token for each. Nothing here is a secret worth
// keeping: the private keys live only in this process.
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";

export const ISSUER = "https://issuer.bench.example";
export const AUDIENCE = "bench.example";

export interface BenchKeys {
  /** The public keys as a JWKS document (kids "rs" and "es"). */
  jwks: string;
  rs256: string;
  es256: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

function mint(alg: "RS256" | "ES256", kid: string, key: KeyObject): string {
  const header = b64url(JSON.stringify({ alg, typ: "JWT", kid }));
  const now = Math.floor(Date.now() / 1000);
  // A day of validity covers any run; no nbf, so the emulator's clock need not match the wall clock.
  const payload = b64url(JSON.stringify({ iss: ISSUER, sub: "bench-user", aud: AUDIENCE, iat: now, exp: now + 86_400 }));
  const input = `${header}.${payload}`;
  const signature = alg === "RS256"
    ? sign("sha256", Buffer.from(input), key)
    : sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64url(signature)}`;
}

export function mintKeys(): BenchKeys {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const keys = [
    { ...rsa.publicKey.export({ format: "jwk" }), kid: "rs", alg: "RS256", use: "sig" },
    { ...ec.publicKey.export({ format: "jwk" }), kid: "es", alg: "ES256", use: "sig" },
  ];
  return {
    jwks: JSON.stringify({ keys }),
    rs256: mint("RS256", "rs", rsa.privateKey),
    es256: mint("ES256", "es", ec.privateKey),
  };
}
