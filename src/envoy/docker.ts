import { execFile, spawnSync } from "node:child_process";

/*
 * The few Docker engine calls the container backend makes itself, beside testcontainers: whether an engine
 * answers, whether an image is present, and which containers carry a label (to list or force-remove them).
 * Each call is a small script run in a child Node process, so the synchronous form (for jest's collection
 * phase and for the process exit hook, which cannot await) and the async form share one implementation.
 * The engine is the one testcontainers uses first: DOCKER_HOST (unix:// or tcp://), else /var/run/docker.sock.
 */

export interface DockerProbe {
  ok: boolean;
  /** Why the engine is considered unavailable (or where it answered). */
  reason: string;
}

type Endpoint = { socketPath?: string; host?: string; port?: number; label: string };

function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): Endpoint {
  const host = env.DOCKER_HOST;
  if (host?.startsWith("tcp://")) {
    const u = new URL(host.replace(/^tcp:/, "http:"));
    return { host: u.hostname, port: Number(u.port || 2375), label: host };
  }
  const socketPath = host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
  return { socketPath, label: `unix://${socketPath}` };
}

type Call =
  | { action: "ping" }
  | { action: "image"; image: string }
  | { action: "inspect"; id: string }
  | { action: "labelled"; label: string; remove: boolean };

/** The child script: one engine call, its answer as JSON on stdout. Every request has a 5 s budget. */
function script(call: Call): string {
  return `
const ep = ${JSON.stringify(dockerEndpoint())};
const call = ${JSON.stringify(call)};
const out = (v) => process.stdout.write(JSON.stringify(v));
function api(method, path) {
  return new Promise((resolve, reject) => {
    const req = require("node:http").request({ ...ep, path, method, timeout: 5000, agent: false }, (res) => {
      const parts = [];
      res.on("data", (c) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error("no answer within 5 s")));
    req.on("error", reject);
    req.end();
  });
}
(async () => {
  if (call.action === "ping") {
    const r = await api("GET", "/_ping");
    return r.status === 200 ? { ok: true, reason: "Docker engine answered at " + ep.label }
      : { ok: false, reason: "Docker engine at " + ep.label + " answered " + r.status };
  }
  if (call.action === "image") {
    const r = await api("GET", "/images/" + encodeURIComponent(call.image) + "/json");
    return { ok: r.status === 200, reason: r.status === 200 ? "image " + call.image + " is present" : "image " + call.image + " is not present (engine answered " + r.status + ")" };
  }
  if (call.action === "inspect") {
    const r = await api("GET", "/containers/" + encodeURIComponent(call.id) + "/json");
    return r.status === 200 ? { ok: true, reason: "", inspect: JSON.parse(r.body) } : { ok: false, reason: "inspecting " + call.id + " answered " + r.status };
  }
  const filters = encodeURIComponent(JSON.stringify({ label: [call.label] }));
  const list = await api("GET", "/containers/json?all=1&filters=" + filters);
  if (list.status !== 200) throw new Error("listing containers answered " + list.status + ": " + list.body);
  const ids = JSON.parse(list.body).map((c) => c.Id);
  if (call.remove) for (const id of ids) await api("DELETE", "/containers/" + id + "?force=1&v=1");
  return { ok: true, ids };
})().then(out, (err) => out({ ok: false, reason: "no Docker engine answers at " + ep.label + " (" + err.message + ")" }));`;
}

type Answer = DockerProbe & { ids?: string[]; inspect?: ContainerInspect };

/** The parts of `GET /containers/{id}/json` this project reads. */
export interface ContainerInspect {
  Id: string;
  Config: { Image: string; Labels: Record<string, string> | null; User: string };
  HostConfig: { NetworkMode: string };
  Mounts: Array<{ Source: string; Destination: string; RW: boolean }>;
  State: { Running: boolean; ExitCode: number };
}

function parse(stdout: string, stderr: string): Answer {
  try {
    return JSON.parse(stdout) as Answer;
  } catch {
    return { ok: false, reason: `Docker engine call failed: ${stderr.trim() || "no output"}` };
  }
}

function callAsync(call: Call): Promise<Answer> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["-e", script(call)], { encoding: "utf8", timeout: 30_000 }, (_err, stdout, stderr) => resolve(parse(stdout, stderr)));
  });
}

function callSync(call: Call): Answer {
  const res = spawnSync(process.execPath, ["-e", script(call)], { encoding: "utf8", timeout: 30_000 });
  return parse(res.stdout ?? "", res.stderr ?? res.error?.message ?? "");
}

/** Whether a Docker engine answers (DOCKER_HOST, else /var/run/docker.sock). */
export async function probeDockerEngine(): Promise<DockerProbe> {
  const { ok, reason } = await callAsync({ action: "ping" });
  return { ok, reason };
}

/** The same probe, synchronously, for test files that choose between `test` and `test.skip` while jest collects them. */
export function probeDockerEngineSync(): DockerProbe {
  const { ok, reason } = callSync({ action: "ping" });
  return { ok, reason };
}

/** Whether the engine holds `image` locally (synchronously, like probeDockerEngineSync). */
export function dockerImagePresentSync(image: string): DockerProbe {
  const { ok, reason } = callSync({ action: "image", image });
  return { ok, reason };
}

/** The engine's account of one container. */
export async function inspectContainer(id: string): Promise<ContainerInspect> {
  const a = await callAsync({ action: "inspect", id });
  if (!a.ok || !a.inspect) throw new Error(a.reason);
  return a.inspect;
}

/** Ids of the containers, running or not, carrying `label` ("key" or "key=value"). */
export async function labelledContainers(label: string): Promise<string[]> {
  const a = await callAsync({ action: "labelled", label, remove: false });
  if (!a.ok) throw new Error(a.reason);
  return a.ids ?? [];
}

/** Force-removes the containers carrying `label`; returns their ids. */
export async function removeLabelledContainers(label: string): Promise<string[]> {
  const a = await callAsync({ action: "labelled", label, remove: true });
  if (!a.ok) throw new Error(a.reason);
  return a.ids ?? [];
}

/** The same, synchronously: for the process exit hook, which cannot await. Failures are ignored there. */
export function removeLabelledContainersSync(label: string): void {
  callSync({ action: "labelled", label, remove: true });
}
