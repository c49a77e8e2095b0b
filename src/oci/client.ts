/**
 * A client for the OCI distribution API (the registry HTTP API), on Node's fetch: blob existence, monolithic
 * blob upload, manifest put and get, blob get with digest checks. Authentication follows the registry's 401
 * challenge: Basic sends the credentials; Bearer fetches a token from the challenge's realm for the
 * repository scope (with the basic credentials when there are any, anonymously otherwise) and retries.
 */
import { PwasError } from "../errors";
import { basicAuthorization, type Credentials } from "./credentials";
import { digestOf } from "./digest";
import { formatReference, isLoopbackHost, type ImageReference } from "./reference";

export interface ClientOptions {
  /** Plain http instead of https; allowed only for loopback registries. */
  insecure?: boolean;
  credentials?: Credentials;
  /** The access asked for in token scopes: "pull" to read, "pull,push" to write. */
  actions: "pull" | "pull,push";
  signal?: AbortSignal;
  /** Per request; default 120 s. */
  timeoutMs?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  /** The Content-Type the registry answered with. */
  contentType: string;
  digest: string;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export class RegistryClient {
  readonly baseUrl: string;
  private authorization: string | undefined;
  private readonly credentials: Credentials;

  constructor(readonly ref: ImageReference, private readonly opts: ClientOptions) {
    checkTransport(ref, opts.insecure);
    this.baseUrl = `${opts.insecure ? "http" : "https"}://${ref.apiHost}`;
    this.credentials = opts.credentials ?? { kind: "anonymous" };
    // A given token is sent from the first request; basic credentials wait for the registry's challenge.
    if (this.credentials.kind === "token") this.authorization = `Bearer ${this.credentials.token}`;
  }

  private get repoPath(): string {
    return `/v2/${this.ref.repository}`;
  }

  /** GET /v2/: checks that the registry answers and that the credentials are accepted. */
  async ping(): Promise<void> {
    const res = await this.send("GET", "/v2/", {}, "the registry API check");
    await res.arrayBuffer();
    if (res.status !== 200) throw await this.failure(res, "GET /v2/");
  }

  async blobExists(digest: string): Promise<boolean> {
    const res = await this.send("HEAD", `${this.repoPath}/blobs/${digest}`, {}, `blob ${digest}`);
    await res.arrayBuffer();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await this.failure(res, `HEAD blob ${digest}`);
  }

  /** Uploads a blob in one piece: POST to open an upload session, PUT the bytes with their digest. */
  async uploadBlob(digest: string, data: Buffer): Promise<void> {
    const opened = await this.send("POST", `${this.repoPath}/blobs/uploads/`, { headers: { "content-length": "0" } }, "a blob upload");
    await opened.arrayBuffer();
    const location = opened.headers.get("location");
    if (opened.status !== 202 || !location) throw await this.failure(opened, "POST blob upload", location ? undefined : "no Location header");
    const url = new URL(location, this.baseUrl);
    url.searchParams.set("digest", digest);
    const put = await this.send("PUT", url.toString(), { headers: { "content-type": "application/octet-stream" }, body: data }, `blob ${digest}`);
    await put.arrayBuffer();
    if (put.status !== 201 && put.status !== 204) throw await this.failure(put, `PUT blob ${digest}`);
  }

  /** Stores a manifest under a tag (or its digest); returns the digest the registry reports. */
  async putManifest(tagOrDigest: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.send("PUT", `${this.repoPath}/manifests/${tagOrDigest}`, { headers: { "content-type": mediaType }, body: bytes }, `manifest ${tagOrDigest}`);
    await res.arrayBuffer();
    if (res.status !== 201 && res.status !== 200 && res.status !== 204) throw await this.failure(res, `PUT manifest ${tagOrDigest}`);
    const ours = digestOf(bytes);
    const theirs = res.headers.get("docker-content-digest");
    if (theirs && theirs !== ours) {
      throw new PwasError("E_REGISTRY", `${this.ref.registry} stored the manifest under ${theirs}, but its bytes hash to ${ours}: the registry rewrote it`);
    }
    return ours;
  }

  /** Fetches a manifest by tag or digest; a digest reference is checked against the bytes. */
  async getManifest(tagOrDigest: string, accept: string[]): Promise<FetchedManifest> {
    const res = await this.send("GET", `${this.repoPath}/manifests/${tagOrDigest}`, { headers: { accept: accept.join(", ") } }, `manifest ${tagOrDigest}`);
    if (res.status === 404) {
      await res.arrayBuffer();
      throw new PwasError("E_NOT_FOUND", `${formatReference({ ...this.ref, tag: tagOrDigest.startsWith("sha256:") ? undefined : tagOrDigest, digest: tagOrDigest.startsWith("sha256:") ? tagOrDigest : undefined })} does not exist in the registry`);
    }
    if (res.status !== 200) throw await this.failure(res, `GET manifest ${tagOrDigest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = digestOf(bytes);
    if (tagOrDigest.startsWith("sha256:") && digest !== tagOrDigest) {
      throw new PwasError("E_REGISTRY", `the manifest ${this.ref.registry} served for ${tagOrDigest} hashes to ${digest}`);
    }
    return { bytes, contentType: (res.headers.get("content-type") ?? "").split(";")[0].trim(), digest };
  }

  /** Fetches a blob (following redirects to storage) and checks its digest. */
  async getBlob(digest: string): Promise<Buffer> {
    const res = await this.send("GET", `${this.repoPath}/blobs/${digest}`, {}, `blob ${digest}`);
    if (res.status !== 200) throw await this.failure(res, `GET blob ${digest}`);
    const data = Buffer.from(await res.arrayBuffer());
    if (digestOf(data) !== digest) throw new PwasError("E_REGISTRY", `blob ${digest} from ${this.ref.registry} does not match its digest (got ${digestOf(data)})`);
    return data;
  }

  /** One request, answering a 401 challenge once. */
  private async send(method: string, pathOrUrl: string, init: { headers?: Record<string, string>; body?: Buffer }, what: string): Promise<Response> {
    const url = new URL(pathOrUrl, this.baseUrl).toString();
    let res = await this.request(method, url, init);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate"));
    await res.arrayBuffer();
    const before = this.authorization;
    this.authorization = await this.authorize(challenge, what);
    if (this.authorization === before) throw this.refused(what);
    res = await this.request(method, url, init);
    if (res.status === 401) {
      await res.arrayBuffer();
      throw this.refused(what);
    }
    return res;
  }

  private async request(method: string, url: string, init: { headers?: Record<string, string>; body?: Buffer }): Promise<Response> {
    const headers: Record<string, string> = { "user-agent": "pwas", ...init.headers };
    if (this.authorization) headers.authorization = this.authorization;
    try {
      return await fetch(url, { method, headers, body: init.body ? new Uint8Array(init.body) : undefined, redirect: "follow", signal: this.signal() });
    } catch (err) {
      throw this.unreachable(url, err);
    }
  }

  private signal(): AbortSignal {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 120_000);
    return this.opts.signal ? AbortSignal.any([this.opts.signal, timeout]) : timeout;
  }

  /** The Authorization header value that answers `challenge`. */
  private async authorize(challenge: Challenge | undefined, what: string): Promise<string> {
    const creds = this.credentials;
    if (!challenge) throw new PwasError("E_REGISTRY", `${this.ref.registry} answered 401 for ${what} without a WWW-Authenticate challenge`);
    if (challenge.scheme === "basic") {
      if (creds.kind === "basic") return basicAuthorization(creds);
      throw this.needsCredentials(what, "a username and password");
    }
    if (challenge.scheme !== "bearer") throw new PwasError("E_REGISTRY", `${this.ref.registry} asks for "${challenge.scheme}" authentication, which pwas does not support (Basic and Bearer only)`);
    if (creds.kind === "token") return `Bearer ${creds.token}`;
    return `Bearer ${await this.fetchToken(challenge, what)}`;
  }

  /** The token flow of the distribution spec: GET <realm>?service=<service>&scope=<scope>. */
  private async fetchToken(challenge: Challenge, what: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new PwasError("E_REGISTRY", `${this.ref.registry}'s Bearer challenge names no realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new PwasError("E_REGISTRY", `${this.ref.registry}'s token realm "${realm}" is not a URL`);
    }
    if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.host))) {
      throw new PwasError("E_REGISTRY", `${this.ref.registry}'s token realm ${realm} is not https; pwas sends credentials only over https (or to this machine)`);
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    // Our repository scope, plus any other the challenge names (one ours already covers is left out).
    const ours = `repository:${this.ref.repository}:`;
    const actions = this.opts.actions.split(",");
    const scopes = new Set([ours + this.opts.actions]);
    for (const s of (challenge.params.scope ?? "").split(" ")) {
      const covered = s.startsWith(ours) && s.slice(ours.length).split(",").every((a) => actions.includes(a));
      if (s && !covered) scopes.add(s);
    }
    for (const s of scopes) url.searchParams.append("scope", s);
    const headers: Record<string, string> = { "user-agent": "pwas" };
    if (this.credentials.kind === "basic") headers.authorization = basicAuthorization(this.credentials);
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: this.signal() });
    } catch (err) {
      throw this.unreachable(url.toString(), err);
    }
    if (res.status === 401 || res.status === 403) {
      await res.arrayBuffer();
      if (this.credentials.kind === "anonymous") throw this.needsCredentials(what, "credentials");
      throw new PwasError("E_REGISTRY", `the token service ${url.origin}${url.pathname} refused the credentials from ${this.credentials.source} (${res.status})`);
    }
    if (res.status !== 200) throw await this.failure(res, `GET token from ${url.origin}${url.pathname}`);
    const body = (await res.json().catch(() => ({}))) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === "string" && body.token ? body.token : typeof body.access_token === "string" ? body.access_token : "";
    if (!token) throw new PwasError("E_REGISTRY", `the token service ${url.origin}${url.pathname} answered without a token`);
    return token;
  }

  private refused(what: string): PwasError {
    const c = this.credentials;
    if (c.kind === "anonymous") return this.needsCredentials(what, "credentials");
    return new PwasError("E_REGISTRY", `${this.ref.registry} refused the credentials from ${c.source} for ${what} (401)`);
  }

  private needsCredentials(what: string, kind: string): PwasError {
    const hint = this.credentials.kind === "anonymous" && this.credentials.hint ? `; ${this.credentials.hint}` : "; pass --username/--password or --token, set PWAS_REGISTRY_USERNAME/PWAS_REGISTRY_PASSWORD, or log in with docker login";
    return new PwasError("E_REGISTRY", `${this.ref.registry} needs ${kind} for ${what}${hint}`);
  }

  private unreachable(url: string, err: unknown): PwasError {
    const e = err as Error & { cause?: { message?: string; code?: string } };
    if (e.name === "AbortError" || e.name === "TimeoutError") {
      return new PwasError("E_REGISTRY", `${url}: ${this.opts.signal?.aborted ? "cancelled" : "no answer in time"}`);
    }
    let cause = (e.cause?.message ?? e.message).split("\n")[0];
    // OpenSSL's words for "the server answered in plain text".
    if (/wrong version number|packet length too long|http request/i.test(cause)) cause = "the server does not speak TLS (plain http?)";
    const hint = url.startsWith("https:") && isLoopbackHost(this.ref.apiHost) ? "; a registry on this machine may serve plain http: add --insecure" : "";
    return new PwasError("E_REGISTRY", `cannot reach ${url}: ${cause}${hint}`);
  }

  /** An error from a registry answer, with the registry's own error codes and messages when it sent them. */
  private async failure(res: Response, what: string, extra?: string): Promise<PwasError> {
    let detail = "";
    try {
      const text = await res.text();
      const body = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
      detail = (body.errors ?? []).map((e) => `${e.code ?? ""}${e.message ? `: ${e.message}` : ""}`).join("; ");
    } catch {
      // not a JSON error body
    }
    const kind = res.status === 404 ? "E_NOT_FOUND" : "E_REGISTRY";
    return new PwasError(kind, `${this.ref.registry}: ${what} answered ${res.status}${detail ? ` (${detail})` : ""}${extra ? ` (${extra})` : ""}`);
  }
}

/** Refuses plain http to anything but a loopback registry: credentials and modules would cross the network in clear. */
export function checkTransport(ref: ImageReference, insecure: boolean | undefined): void {
  if (insecure && !isLoopbackHost(ref.apiHost)) {
    throw new PwasError(
      "E_USAGE",
      `--insecure allows plain http only to a registry on this machine (localhost, 127.0.0.1, ::1); ${ref.apiHost} must be reached over https`,
    );
  }
}

/** Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  return { scheme: m[1].toLowerCase(), params };
}
