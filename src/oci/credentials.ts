/**
 * Registry credentials, first found wins:
 *   1. command-line flags: --username with --password, or --token;
 *   2. environment: PWAS_REGISTRY_USERNAME with PWAS_REGISTRY_PASSWORD, or PWAS_REGISTRY_TOKEN;
 *   3. Docker's config file ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): the `auths` entry for
 *      the registry (`auth` = base64 "user:password", or `username`/`password`, or `registrytoken`).
 * Credential helpers (credsStore, credHelpers) are not run; with one configured, pass credentials another way.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { PwasError } from "../errors";

export type Credentials =
  | { kind: "anonymous"; hint?: string }
  | { kind: "basic"; username: string; password: string; source: string }
  | { kind: "token"; token: string; source: string };

export interface CredentialFlags {
  username?: string;
  password?: string;
  token?: string;
}

export const ENV_USERNAME = "PWAS_REGISTRY_USERNAME";
export const ENV_PASSWORD = "PWAS_REGISTRY_PASSWORD";
export const ENV_TOKEN = "PWAS_REGISTRY_TOKEN";

export function resolveCredentials(registry: string, flags: CredentialFlags = {}, env: NodeJS.ProcessEnv = process.env): Credentials {
  const fromFlags = pair(flags.username, flags.password, flags.token, "--username", "--password", "--token", "command-line flags");
  if (fromFlags) return fromFlags;
  const fromEnv = pair(env[ENV_USERNAME], env[ENV_PASSWORD], env[ENV_TOKEN], ENV_USERNAME, ENV_PASSWORD, ENV_TOKEN, "environment");
  if (fromEnv) return fromEnv;
  return fromDockerConfig(registry, env);
}

function pair(
  username: string | undefined, password: string | undefined, token: string | undefined,
  userName: string, passName: string, tokenName: string, source: string,
): Credentials | undefined {
  if (token && (username || password)) throw new PwasError("E_USAGE", `give either ${tokenName} or ${userName}/${passName}, not both`);
  if (token) return { kind: "token", token, source };
  if (username === undefined && password === undefined) return undefined;
  if (!username || password === undefined) throw new PwasError("E_USAGE", `${userName} and ${passName} go together: give both`);
  return { kind: "basic", username, password, source };
}

interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  registrytoken?: string;
  identitytoken?: string;
}

interface DockerConfig {
  auths?: Record<string, DockerAuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** The Docker config file pwas reads for `env`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(env.HOME || homedir(), ".docker"), "config.json");
}

function fromDockerConfig(registry: string, env: NodeJS.ProcessEnv): Credentials {
  const path = dockerConfigPath(env);
  if (!existsSync(path)) return { kind: "anonymous" };
  let config: DockerConfig;
  try {
    config = JSON.parse(readFileSync(path, "utf8")) as DockerConfig;
  } catch (err) {
    throw new PwasError("E_CONFIG", `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const wanted = registryKeys(registry);
  const entry = Object.entries(config.auths ?? {}).find(([key]) => wanted.has(authKeyHost(key)))?.[1];
  const source = path;
  if (entry?.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw new PwasError("E_CONFIG", `${path}: the auth for ${registry} is not base64 of "user:password"`);
    return { kind: "basic", username: decoded.slice(0, colon), password: decoded.slice(colon + 1), source };
  }
  if (entry?.username && entry.password !== undefined) return { kind: "basic", username: entry.username, password: entry.password, source };
  if (entry?.registrytoken) return { kind: "token", token: entry.registrytoken, source };
  const helper = config.credHelpers?.[registry] ?? config.credsStore;
  if (helper || entry?.identitytoken) {
    return {
      kind: "anonymous",
      hint: `${path} keeps the credentials for ${registry} in ${helper ? `the credential helper "${helper}"` : "an identity token"}, which pwas does not use; pass --username/--password or --token, or set ${ENV_USERNAME}/${ENV_PASSWORD}`,
    };
  }
  return { kind: "anonymous" };
}

/** Docker writes keys as "host", "https://host", or "https://index.docker.io/v1/" for Docker Hub. */
function authKeyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
}

function registryKeys(registry: string): Set<string> {
  const r = registry.toLowerCase();
  return r === "docker.io" ? new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]) : new Set([r]);
}

/** The Authorization header value for basic credentials. */
export function basicAuthorization(c: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64")}`;
}
