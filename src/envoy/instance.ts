import { request } from "node:http";
import type { JsonObject } from "./bootstrap";
import { waitFor } from "./wait";

/**
 * A started Envoy, whatever runs it (a local process or a container). Separate from the configured
 * `Bootstrap`: only a started Envoy has ports, stats and a log.
 */
export interface StartedEnvoy {
  /** Which backend runs this Envoy. */
  readonly backend: "process" | "container";
  /** The admin API base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  readonly adminUrl: string;
  /** The bound port of each listener, by listener name. */
  readonly ports: Readonly<Record<string, number>>;
  /** The rendered bootstrap Envoy was started with. */
  readonly config: JsonObject;
  /** Port of the named listener, or of the first listener. Throws for an unknown name. */
  port(listener?: string): number;
  /** http://127.0.0.1:<port><path> for the named (or first) listener. */
  url(path?: string, listener?: string): string;
  /** GET /stats?format=json as name → value (counters and gauges; histograms and text readouts are left out). */
  stats(): Promise<Map<string, number>>;
  /** One counter or gauge; 0 when Envoy has not created it (some stats appear only on first use). */
  counter(name: string): Promise<number>;
  /** Polls the stat until `predicate(value)` holds (value is undefined while the stat does not exist); returns it. */
  waitForStat(name: string, predicate: (value: number | undefined) => boolean, timeoutMs?: number): Promise<number | undefined>;
  /** Everything Envoy has logged so far (stderr and stdout). */
  log(): string;
  /** Waits until a log line matches; returns the match. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Stops Envoy (SIGTERM, then SIGKILL after a deadline) and removes its temporary files. Idempotent. */
  stop(): Promise<void>;
  /** True once stop() completed or the process exited by itself. */
  readonly stopped: boolean;
}

/** Thrown when Envoy exits or never becomes ready; the message carries the tail of Envoy's log. */
export class EnvoyStartError extends Error {
  constructor(
    message: string,
    /** Envoy's whole log up to the failure. */
    readonly envoyLog: string,
  ) {
    super(message);
    this.name = "EnvoyStartError";
  }
}

/** Captured Envoy output, bounded so a chatty trace-level Envoy cannot exhaust memory. */
export class LogBuffer {
  private chunks: string[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly maxChars = 8 * 1024 * 1024) {}

  append(chunk: string): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > this.maxChars) {
      // Keep the newest half: the tail is what explains a failure.
      const all = this.chunks.join("");
      const kept = all.slice(all.length - Math.floor(this.maxChars / 2));
      this.chunks = [kept];
      this.size = kept.length;
      this.dropped = true;
    }
  }

  text(): string {
    const all = this.chunks.join("");
    this.chunks = [all];
    return this.dropped ? `[... earlier log dropped ...]\n${all}` : all;
  }
}

/**
 * Envoy's own account of a failure: its `[critical]` and `[error]` log entries (with their continuation
 * lines), or, when it logged none, the tail of the log.
 */
export function envoyErrors(log: string, tailLines = 20): string {
  const entries: string[] = [];
  let current: string[] | undefined;
  for (const line of log.split("\n")) {
    if (/^\[\d{4}-\d\d-\d\d /.test(line)) {
      current = /\]\[(critical|error)\]/.test(line) ? [line] : undefined;
      if (current) entries.push("");
    } else if (current) {
      current.push(line);
    }
    if (current) entries[entries.length - 1] = current.join("\n").trimEnd();
  }
  if (entries.length > 0) return entries.join("\n");
  return log.trimEnd().split("\n").slice(-tailLines).join("\n");
}

/** The message of an EnvoyStartError: what happened, then what Envoy said. */
export function startFailure(what: string, log: LogBuffer): EnvoyStartError {
  const text = log.text();
  const said = envoyErrors(text);
  return new EnvoyStartError(`Envoy did not start: ${what}${said ? `\n--- Envoy errors ---\n${said}` : ""}`, text);
}

export interface HttpResult {
  status: number;
  body: string;
}

/** A plain GET with its own timeout; used for the admin API (no keep-alive, so nothing outlives stop()). */
export function httpGet(url: string, timeoutMs = 2000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", agent: false, timeout: timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Parses Envoy's `/stats?format=json` body into name → value. */
export function parseStats(body: string): Map<string, number> {
  const parsed = JSON.parse(body) as { stats?: Array<{ name?: unknown; value?: unknown }> };
  const out = new Map<string, number>();
  for (const entry of parsed.stats ?? []) {
    if (typeof entry.name === "string" && typeof entry.value === "number") out.set(entry.name, entry.value);
  }
  return out;
}

/** Parses `/listeners?format=json` into listener name → bound port. */
export function parseListenerPorts(body: string): Record<string, number> {
  type Status = { name?: string; local_address?: { socket_address?: { port_value?: number } } };
  const parsed = JSON.parse(body) as { listener_statuses?: Status[] };
  const ports: Record<string, number> = {};
  for (const s of parsed.listener_statuses ?? []) {
    const port = s.local_address?.socket_address?.port_value;
    if (s.name && typeof port === "number") ports[s.name] = port;
  }
  return ports;
}

export const DEFAULT_WAIT_MS = 10_000;

/**
 * What every backend shares once it knows the admin URL and the listener ports: URLs, stats, log waits.
 * Subclasses provide the log, the exit state and stop().
 */
export abstract class EnvoyBase implements StartedEnvoy {
  abstract readonly backend: "process" | "container";
  abstract readonly stopped: boolean;
  abstract stop(): Promise<void>;
  protected abstract readonly logBuffer: LogBuffer;

  constructor(
    readonly adminUrl: string,
    readonly ports: Readonly<Record<string, number>>,
    readonly config: JsonObject,
    private readonly listenerOrder: string[],
  ) {}

  port(listener?: string): number {
    const name = listener ?? this.listenerOrder[0];
    const port = name === undefined ? undefined : this.ports[name];
    if (port === undefined) {
      throw new Error(`Envoy has no listener named "${listener}"; listeners: ${Object.keys(this.ports).join(", ")}`);
    }
    return port;
  }

  url(path = "/", listener?: string): string {
    return `http://127.0.0.1:${this.port(listener)}${path.startsWith("/") ? path : `/${path}`}`;
  }

  async stats(): Promise<Map<string, number>> {
    const res = await httpGet(`${this.adminUrl}/stats?format=json`);
    if (res.status !== 200) throw new Error(`GET /stats answered ${res.status}: ${res.body.slice(0, 200)}`);
    return parseStats(res.body);
  }

  async counter(name: string): Promise<number> {
    return (await this.stats()).get(name) ?? 0;
  }

  async waitForStat(name: string, predicate: (value: number | undefined) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<number | undefined> {
    let last: number | undefined;
    try {
      const found = await waitFor(
        async () => {
          last = (await this.stats()).get(name);
          return predicate(last) ? { value: last } : undefined;
        },
        { timeoutMs, what: `stat ${name} to satisfy ${predicate.toString()}`, abort: () => this.exitReason() },
      );
      return found.value;
    } catch (err) {
      throw new Error(`${(err as Error).message}; last value: ${last === undefined ? "absent" : last}`);
    }
  }

  log(): string {
    return this.logBuffer.text();
  }

  waitForLog(pattern: RegExp, timeoutMs = DEFAULT_WAIT_MS): Promise<RegExpMatchArray> {
    return waitFor(() => this.logBuffer.text().match(pattern) ?? undefined, {
      timeoutMs,
      what: `Envoy to log ${pattern}`,
      abort: () => this.exitReason(),
    });
  }

  /** Why this Envoy can no longer make progress (it exited), or undefined while it runs. */
  protected abstract exitReason(): string | undefined;
}
