/**
 * `pwas deploy`: a filter → the WasmPlugin that ships it (validated, deterministic YAML) → optionally
 * `kubectl apply`. The image itself is pushed separately; this renders the resource that points at it.
 *
 * sha256: for http(s):// and file:// urls spec.sha256 is the module's sha256, computed here. For oci:// urls
 * istio-agent compares spec.sha256 with the image *manifest* digest, which only the registry push knows: it
 * is taken from `--sha256` or from an `@sha256:` digest in the image reference, and left out otherwise (the
 * module's own sha256 is recorded in the proxy-wasm-as/module-sha256 annotation either way).
 *
 * FAIL_OPEN guard: Istio documents FAIL_OPEN as "not recommended for the authentication or the
 * authorization plugins". A filter whose package.json declares `"pwas": {"failOpen": "forbidden"}` (the
 * stock auth filter does, and `pwas new --template auth` keeps it) is refused FAIL_OPEN unless `force` is set.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { loadModule } from "../build/module";
import { PwasError } from "../errors";
import { readPluginConfig } from "../envoy/run";
import { sha256Hex } from "./module";
import { istioHasTrafficExtension, renderTrafficExtensionYaml, trafficExtensionFrom, TRAFFICEXTENSION_KIND, TRAFFICEXTENSION_SINCE, type TrafficExtension } from "./trafficextension";
import { assertTrafficExtension, assertWasmPlugin, TARGET_REF_KINDS, urlScheme } from "./validate";
import {
  FAIL_STRATEGIES, MODULE_SHA256_ANNOTATION, PLUGIN_PHASES, WASMPLUGIN_API_VERSION, WASMPLUGIN_KIND, normalizedUrl,
  renderWasmPluginYaml, structFromJson, type EnvVar, type FailStrategy, type PluginPhase, type PolicyTargetReference,
  type WasmPlugin, type WasmPluginSpec,
} from "./wasmplugin";

export const FAIL_OPEN_WARNING = "Istio: FAIL_OPEN is \"not recommended for the authentication or the authorization plugins\"";

export interface DeployOptions {
  /** A filter folder (built unless `noBuild`) or a .wasm file. */
  target: string;
  /** spec.url: oci://registry/repo:tag (the default scheme), https://..., or file:///path. */
  image: string;
  /** metadata.name; default: the filter's name. */
  name?: string;
  namespace?: string;
  /** matchLabels as k=v. */
  selector?: string[];
  /** Kind/name, e.g. Gateway/ingress, Service/reviews. */
  targetRefs?: string[];
  phase?: string;
  priority?: number;
  failStrategy?: string;
  /** pluginConfig: inline JSON or a file holding it. */
  config?: string;
  /** INLINE env as K=V. */
  env?: string[];
  /** HOST env: names of the proxy's own variables. */
  hostEnv?: string[];
  /** root_id; default the filter's name. */
  pluginName?: string;
  /** For oci:// urls: the image manifest digest (hex or sha256:hex). */
  sha256?: string;
  imagePullPolicy?: string;
  imagePullSecret?: string;
  /** Use the existing build/<name>.wasm instead of building. */
  noBuild?: boolean;
  /** Allow FAIL_OPEN on a filter that forbids it. */
  force?: boolean;
  /** The resource to render: WasmPlugin or TrafficExtension; default from `istio`. */
  kind?: string;
  /** The Istio version the mesh runs (e.g. 1.29): below 1.30 only WasmPlugin exists, from 1.30 TrafficExtension is the default. */
  istio?: string;
  progress?: (step: string) => void;
  /** Stops a build in progress. */
  signal?: AbortSignal;
}

export type DeployKind = typeof WASMPLUGIN_KIND | typeof TRAFFICEXTENSION_KIND;

export interface DeployPlan {
  /** The plugin as a WasmPlugin (what preview reads), whichever kind is rendered. */
  plugin: WasmPlugin;
  kind: DeployKind;
  /** The rendered resource: the WasmPlugin itself, or the TrafficExtension carrying the same plugin. */
  resource: WasmPlugin | TrafficExtension;
  yaml: string;
  wasmFile: string;
  moduleSha256: string;
  /** Things the user should know (printed to stderr). */
  notes: string[];
}

interface FilterFacts {
  name: string;
  wasmFile: string;
  failOpenForbidden: boolean;
}

/** `Kubernetes names`: lower-case, [a-z0-9-], trimmed of leading/trailing dashes. */
export function kubernetesName(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[-.]+|[-.]+$/g, "").slice(0, 253);
}

async function locateModule(opts: DeployOptions): Promise<FilterFacts> {
  const mod = await loadModule(opts.target, { noBuild: opts.noBuild, progress: opts.progress, signal: opts.signal });
  const forbidden = mod.project !== undefined && packageForbidsFailOpen(mod.project.dir);
  return { name: mod.name, wasmFile: mod.wasmPath, failOpenForbidden: forbidden };
}

/** The values package.json `"pwas": {"failOpen": ...}` may take: "allowed" (the default) or "forbidden". */
export const FAIL_OPEN_FACTS = ["allowed", "forbidden"] as const;

/** package.json `"pwas": {"failOpen": "forbidden"}`. */
function packageForbidsFailOpen(dir: string): boolean {
  const path = join(dir, "package.json");
  if (!existsSync(path)) return false;
  let pkg: { pwas?: { failOpen?: unknown } };
  try {
    pkg = JSON.parse(readFileSync(path, "utf8")) as typeof pkg;
  } catch {
    throw new PwasError("E_CONFIG", `${path} is not valid JSON`);
  }
  const fact = pkg.pwas?.failOpen;
  if (fact === undefined) return false;
  if (!FAIL_OPEN_FACTS.includes(fact as never)) {
    throw new PwasError("E_CONFIG", `${path}: "pwas": {"failOpen": ...} must be one of ${FAIL_OPEN_FACTS.map((f) => JSON.stringify(f)).join(", ")}; got ${JSON.stringify(fact)}`);
  }
  return fact === "forbidden";
}

function keyValue(flag: string, s: string): [string, string] {
  const eq = s.indexOf("=");
  if (eq <= 0) throw new PwasError("E_USAGE", `${flag} ${s}: expected KEY=VALUE`);
  return [s.slice(0, eq), s.slice(eq + 1)];
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase().replace(/-/g, "_");
  const hit = allowed.find((a) => a.toUpperCase() === upper);
  if (!hit) throw new PwasError("E_USAGE", `${flag} must be one of ${allowed.join(", ")}; got ${value}`);
  return hit;
}

/** Kind/name → a targetRef with the group Istio expects for that kind. */
export function parseTargetRef(s: string): PolicyTargetReference {
  const slash = s.indexOf("/");
  if (slash <= 0 || slash === s.length - 1) throw new PwasError("E_USAGE", `--target-ref ${s}: expected Kind/name, e.g. Gateway/ingress`);
  const rawKind = s.slice(0, slash);
  const kind = Object.keys(TARGET_REF_KINDS).find((k) => k.toLowerCase() === rawKind.toLowerCase());
  if (!kind) throw new PwasError("E_USAGE", `--target-ref ${s}: kind must be one of ${Object.keys(TARGET_REF_KINDS).join(", ")}`);
  return { group: TARGET_REF_KINDS[kind][0], kind, name: s.slice(slash + 1) };
}

function manifestDigest(opts: DeployOptions, url: string): string | undefined {
  const fromUrl = /@sha256:([a-f0-9]{64})$/.exec(url)?.[1];
  const given = opts.sha256?.replace(/^sha256:/, "");
  if (given !== undefined && !/^[a-f0-9]{64}$/.test(given)) throw new PwasError("E_USAGE", `--sha256 must be 64 lower-case hex digits (optionally prefixed sha256:); got ${opts.sha256}`);
  if (given && fromUrl && given !== fromUrl) throw new PwasError("E_USAGE", `--sha256 ${given} differs from the digest in --image (${fromUrl})`);
  return given ?? fromUrl;
}

/**
 * The kind to render: `--kind` when given (refused when `--istio` is too old for it), else TrafficExtension
 * from Istio 1.30 on and WasmPlugin below it or when the version is not given (every Istio serves WasmPlugin).
 */
export function deployKind(kind: string | undefined, istio: string | undefined): DeployKind {
  if (istio !== undefined && !/^v?\d+\.\d+(\.\d+)?([-+].*)?$/.test(istio)) throw new PwasError("E_USAGE", `--istio must be a version such as 1.29 or 1.30.2; got ${istio}`);
  const te = istio !== undefined && istioHasTrafficExtension(istio);
  if (kind === undefined) return te ? TRAFFICEXTENSION_KIND : WASMPLUGIN_KIND;
  const hit = ([WASMPLUGIN_KIND, TRAFFICEXTENSION_KIND] as const).find((k) => k.toLowerCase() === kind.toLowerCase());
  if (!hit) throw new PwasError("E_USAGE", `--kind must be ${WASMPLUGIN_KIND} or ${TRAFFICEXTENSION_KIND}; got ${kind}`);
  if (hit === TRAFFICEXTENSION_KIND && istio !== undefined && !te) {
    throw new PwasError("E_USAGE", `--kind ${TRAFFICEXTENSION_KIND} needs Istio ${TRAFFICEXTENSION_SINCE} or later; --istio is ${istio} (use ${WASMPLUGIN_KIND})`);
  }
  return hit;
}

/** Builds (or finds) the module, renders and validates the resource. Pure apart from the build and file reads. */
export async function planDeploy(opts: DeployOptions): Promise<DeployPlan> {
  const notes: string[] = [];
  const kind = deployKind(opts.kind, opts.istio);
  const scheme = urlScheme(opts.image);
  if (!["", "oci", "http", "https", "file"].includes(scheme)) {
    throw new PwasError("E_USAGE", `--image ${opts.image}: Istio fetches oci:// (the default), http(s):// and file:// urls`);
  }
  const url = normalizedUrl(opts.image);
  const phase = oneOf<PluginPhase>("--phase", opts.phase, PLUGIN_PHASES);
  const failStrategy = oneOf<FailStrategy>("--fail-strategy", opts.failStrategy, FAIL_STRATEGIES);
  const filter = await locateModule(opts);
  if (failStrategy === "FAIL_OPEN" && filter.failOpenForbidden) {
    if (!opts.force) {
      throw new PwasError("E_CONFIG", `${filter.name} refuses --fail-strategy FAIL_OPEN: a failed ${filter.name} plugin would let every request through. ${FAIL_OPEN_WARNING}. Pass --force to deploy it anyway.`);
    }
    notes.push(`FAIL_OPEN on ${filter.name} (forced): ${FAIL_OPEN_WARNING}`);
  } else if (failStrategy === "FAIL_OPEN" && (phase === "AUTHN" || phase === "AUTHZ")) {
    notes.push(`FAIL_OPEN in phase ${phase}: ${FAIL_OPEN_WARNING}`);
  }
  const bytes = readFileSync(filter.wasmFile);
  const moduleSha256 = sha256Hex(bytes);

  const spec: WasmPluginSpec = { url };
  if (opts.selector?.length) spec.selector = { matchLabels: Object.fromEntries(opts.selector.map((s) => keyValue("--selector", s))) };
  if (opts.targetRefs?.length) spec.targetRefs = opts.targetRefs.map(parseTargetRef);
  if (url.startsWith("oci://")) {
    const digest = manifestDigest(opts, url);
    if (digest) spec.sha256 = digest;
    else notes.push("spec.sha256 left out: for oci:// it is the image manifest digest (pass --sha256 from your push, or an @sha256: reference); the module's sha256 is in the annotation");
  } else {
    if (opts.sha256 && opts.sha256.replace(/^sha256:/, "") !== moduleSha256) {
      throw new PwasError("E_USAGE", `--sha256 ${opts.sha256} is not the sha256 of ${filter.wasmFile} (${moduleSha256})`);
    }
    spec.sha256 = moduleSha256;
  }
  if (opts.imagePullPolicy !== undefined) spec.imagePullPolicy = opts.imagePullPolicy as WasmPluginSpec["imagePullPolicy"];
  if (opts.imagePullSecret !== undefined) spec.imagePullSecret = opts.imagePullSecret;
  spec.pluginName = opts.pluginName ?? filter.name;
  if (phase) spec.phase = phase;
  if (opts.priority !== undefined) spec.priority = opts.priority;
  if (failStrategy) spec.failStrategy = failStrategy;
  const env: EnvVar[] = [
    ...(opts.env ?? []).map((s) => { const [name, value] = keyValue("--env", s); return { name, value }; }),
    ...(opts.hostEnv ?? []).map((name): EnvVar => ({ name, valueFrom: "HOST" })),
  ];
  if (env.length) spec.vmConfig = { env };
  if (opts.config !== undefined) spec.pluginConfig = structFromJson(readPluginConfig(opts.config), "--config");

  const name = kubernetesName(opts.name ?? filter.name);
  const plugin: WasmPlugin = {
    apiVersion: WASMPLUGIN_API_VERSION,
    kind: WASMPLUGIN_KIND,
    metadata: {
      name,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      annotations: { [MODULE_SHA256_ANNOTATION]: moduleSha256 },
    },
    spec,
  };
  assertWasmPlugin(plugin, `WasmPlugin ${name}`);
  if (kind === TRAFFICEXTENSION_KIND) {
    const te = assertTrafficExtension(trafficExtensionFrom(plugin), `TrafficExtension ${name}`);
    return { plugin, kind, resource: te, yaml: renderTrafficExtensionYaml(te), wasmFile: filter.wasmFile, moduleSha256, notes };
  }
  return { plugin, kind, resource: plugin, yaml: renderWasmPluginYaml(plugin), wasmFile: filter.wasmFile, moduleSha256, notes };
}

// ---------------------------------------------------------------------------------------------------------
// kubectl

export interface KubectlOptions {
  /** Environment to look in (PATH, KUBECONFIG, HOME); default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** The kubectl binary on PATH (or $KUBECTL), else undefined. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.KUBECTL) return existsSync(env.KUBECTL) ? env.KUBECTL : undefined;
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const p = join(dir, "kubectl");
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

/** The kubeconfig kubectl would read: $KUBECONFIG's existing entries, ~/.kube/config, or in-cluster credentials. */
export function findKubeconfig(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).find((p) => p && existsSync(p));
  const home = join(env.HOME ?? homedir(), ".kube", "config");
  if (existsSync(home)) return home;
  if (env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) return "(in-cluster)";
  return undefined;
}

/** `kubectl apply -f -` with the YAML on stdin; returns kubectl's output. */
export async function kubectlApply(yaml: string, opts: KubectlOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const kubectl = findKubectl(env);
  if (!kubectl) throw new PwasError("E_NOT_FOUND", "--apply needs kubectl on PATH (or KUBECTL=/path/to/kubectl); without --apply the YAML is printed for `kubectl apply -f -`");
  if (!findKubeconfig(env)) {
    throw new PwasError("E_NOT_FOUND", `--apply found kubectl but no kubeconfig: set KUBECONFIG or create ${join(env.HOME ?? homedir(), ".kube", "config")} (kubectl config view shows what kubectl reads)`);
  }
  return new Promise((resolvePromise, reject) => {
    const child = spawn(kubectl, ["apply", "-f", "-"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (err += c.toString("utf8")));
    child.on("error", (e) => reject(new PwasError("E_NOT_FOUND", `could not run ${kubectl}: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolvePromise(out.trim());
      else reject(new PwasError("E_CONFIG", `kubectl apply failed (exit ${code}):\n${(err || out).trim()}`));
    });
    child.stdin.end(yaml);
  });
}

