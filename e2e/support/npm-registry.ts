// A real npm registry on loopback for the package e2e test: Verdaccio 6.8.0 from .tools/verdaccio
// (scripts/setup-verdaccio.sh). The toolkit's three packages are served only from what was published to
// it; every other package is proxied from the public npm registry and cached in its storage.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, ServiceProcess } from "../../src/services/child";

export const VERDACCIO_BIN = join(__dirname, "..", "..", ".tools", "verdaccio", "node_modules", "verdaccio", "bin", "verdaccio");

/**
 * The machine's own network settings (proxies, extra CA certificates) that a user's tools would see too:
 * passed through to Verdaccio's uplink and to the throwaway user's npm, pip and Node downloads.
 */
export function machineNetworkEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const names = /^(https?_proxy|no_proxy|all_proxy|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|PIP_CERT|REQUESTS_CA_BUNDLE|PIP_INDEX_URL)$/i;
  return Object.fromEntries(Object.entries(env).filter(([k]) => names.test(k)));
}

/** The packages this repository publishes: never proxied, so a name taken on npmjs cannot leak in. */
const LOCAL_PACKAGES = ["proxy-wasm-as", "pwas", "create-proxy-wasm-as"];

export interface NpmRegistry {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** A bearer token of a user that may publish, for an .npmrc. */
  token: string;
  stop(): Promise<void>;
}

/** Starts Verdaccio with its storage, config and users under `dir`; `uplink` is the registry it proxies. */
export async function startNpmRegistry(dir: string, uplink = "https://registry.npmjs.org/"): Promise<NpmRegistry> {
  mkdirSync(join(dir, "storage"), { recursive: true });
  const port = await freePort();
  const lines = [
    `storage: ${JSON.stringify(join(dir, "storage"))}`,
    "auth:",
    "  htpasswd:",
    `    file: ${JSON.stringify(join(dir, "htpasswd"))}`,
    "    max_users: 1",
    "uplinks:",
    "  npmjs:",
    `    url: ${JSON.stringify(uplink)}`,
    "    timeout: 60s",
    "    maxage: 30m",
    "packages:",
    ...LOCAL_PACKAGES.flatMap((p) => [`  ${JSON.stringify(p)}:`, "    access: $all", "    publish: $authenticated"]),
    ...["@*/*", "**"].flatMap((p) => [`  '${p}':`, "    access: $all", "    proxy: npmjs"]),
    `listen: 127.0.0.1:${port}`,
    "log: { type: stdout, format: pretty, level: warn }",
  ];
  const config = join(dir, "config.yaml");
  writeFileSync(config, lines.join("\n") + "\n");
  const proc = new ServiceProcess("verdaccio", process.execPath, [VERDACCIO_BIN, "--config", config], { ...machineNetworkEnv(), PATH: process.env.PATH ?? "", HOME: dir }, dir);
  const url = `http://127.0.0.1:${port}/`;
  try {
    await proc.waitUntil(async () => ((await fetch(`${url}-/ping`)).ok ? true : undefined), "Verdaccio to answer /-/ping", 60_000);
    // Adding a user is how npm logs in to Verdaccio; the answer carries the token.
    const res = await fetch(`${url}-/user/org.couchdb.user:publisher`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "publisher", password: "publisher-password" }),
    });
    const body = (await res.json()) as { token?: string; error?: string };
    if (!res.ok || !body.token) throw new Error(`Verdaccio refused to add a user: ${res.status} ${body.error ?? ""}`);
    return { url, token: body.token, stop: () => proc.stop() };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}
