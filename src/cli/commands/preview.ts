import { PwasError } from "../../errors";
import { DEFAULT_CACHE_DIR } from "../../mesh/module";
import { DEFAULT_ROUTE_HEADER, formatChain, renderPreviewBootstrap, planPreview, startPreview } from "../../mesh/preview";
import { DEFAULT_ROOT_NAMESPACE, type SidecarListener } from "../../mesh/translate";
import { serveUntilStopped, type Command, type ParsedArgs } from "../command";

/** A Kubernetes label set as `k=v,k2=v2` (an empty value allowed, as in a pod's labels). */
export function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new PwasError("E_USAGE", `--labels ${JSON.stringify(part)}: expected key=value, e.g. --labels app=reviews,version=v1`);
    const key = part.slice(0, eq);
    if (key in out) throw new PwasError("E_USAGE", `--labels: ${key} is given twice`);
    out[key] = part.slice(eq + 1);
  }
  return out;
}

/**
 * The sidecar listener --namespace names, or undefined (every plugin applies). The listener's port is --port:
 * the port the preview listens on is the one match.ports is compared with.
 */
export function workloadFromArgs(args: ParsedArgs): SidecarListener | undefined {
  const namespace = args.string("namespace");
  if (namespace === undefined) {
    const alone = ["labels", "mode"].filter((o) => args.string(o) !== undefined);
    if (alone.length > 0) throw new PwasError("E_USAGE", `${alone.map((o) => `--${o}`).join(" and ")} describe the workload of a namespace: give --namespace too`);
    return undefined;
  }
  const port = args.number("port");
  if (port === undefined || port === 0) {
    throw new PwasError("E_USAGE", "--namespace previews one sidecar listener: give its --port too (match.ports is compared with it, and preview listens on it)");
  }
  return { namespace, labels: parseLabels(args.string("labels") ?? ""), mode: (args.string("mode") ?? "SERVER") as SidecarListener["mode"], port };
}

export const preview: Command = {
  name: "preview",
  summary: "Run WasmPlugin resources in a real Envoy the way Istio would configure them, until Ctrl-C",
  description:
    "Reads WasmPlugin YAML (as `pwas deploy` writes it), orders and translates the plugins as istiod and\n" +
    "istio-agent would (phases, priorities, failStrategy, module download), and runs the chain in a real Envoy\n" +
    "in front of one or more echo upstreams: HTTP plugins in the HTTP connection manager, type NETWORK ones as\n" +
    "network filters before it. TrafficExtension wasm bodies are read too. Every plugin applies, unless\n" +
    "--namespace names the sidecar listener to preview: then only what istiod attaches to it runs (its\n" +
    "namespace's and the root namespace's plugins whose selector matches --labels and whose match selects\n" +
    "--mode and --port; targetRefs bind gateways and waypoints, not sidecars). --dry-run prints the chain and\n" +
    "the bootstrap instead.",
  args: "<wasmplugin.yaml ...>",
  options: {
    port: { type: "integer", value: "n", max: 65535, description: "listener port (with --namespace, the sidecar listener's port match.ports selects)", defaultText: "a free port" },
    namespace: { type: "string", value: "ns", description: "preview the sidecar listener of a workload in this namespace (see above)", defaultText: "every plugin applies" },
    labels: { type: "string", value: "k=v,...", description: "the workload's pod labels, matched by selector.matchLabels (with --namespace)", defaultText: "none" },
    mode: { type: "string", choices: ["SERVER", "CLIENT"], description: "the listener istiod matches against: SERVER inbound, CLIENT outbound (with --namespace)", defaultText: "SERVER" },
    "root-namespace": { type: "string", value: "ns", description: "Istio's root namespace, whose plugins apply to every namespace", default: DEFAULT_ROOT_NAMESPACE },
    "admin-port": { type: "integer", value: "n", max: 65535, description: "Envoy admin port", defaultText: "a free port" },
    concurrency: { type: "integer", value: "n", min: 1, description: "Envoy worker threads", default: 1 },
    upstreams: {
      type: "string", value: "a,b,...",
      description: "start one echo upstream per name; requests with <route-header>: <name> go to it,\nall others to the first",
      defaultText: "one upstream, \"echo\"",
    },
    "route-header": { type: "string", value: "h", description: "the header routes match on (the routing filter's)", default: DEFAULT_ROUTE_HEADER },
    cluster: { type: "string", value: "name=url", multiple: true, description: "an extra cluster for plugin callouts" },
    "cache-dir": { type: "string", value: "dir", description: "where downloaded modules are kept (unused for 24 h → removed)", default: DEFAULT_CACHE_DIR },
    insecure: { type: "boolean", description: "pull oci:// images over plain http from a registry on this machine" },
    "dry-run": { type: "boolean", description: "print the chain and the Envoy bootstrap JSON (upstream ports 0), start nothing" },
  },
  examples: [
    "pwas deploy filters/fault --image file://$PWD/filters/fault/build/fault.wasm > fault.yaml && pwas preview fault.yaml",
    "pwas preview auth.yaml ratelimit.yaml routing.yaml fault.yaml --upstreams v1,v2,v3 --port 8080",
    "pwas preview plugins.yaml --dry-run | jq .static_resources.listeners[0]",
    "pwas preview plugins.yaml --namespace shop --labels app=reviews,version=v1 --port 9080 --dry-run",
  ],
  async run(args, io, signal) {
    if (args.positionals.length === 0) throw new PwasError("E_USAGE", "give one or more WasmPlugin YAML files, e.g. pwas preview fault.yaml");
    const opts = {
      files: args.positionals,
      port: args.number("port"),
      adminPort: args.number("admin-port"),
      concurrency: args.number("concurrency"),
      upstreams: args.string("upstreams")?.split(",").map((s) => s.trim()).filter(Boolean),
      routeHeader: args.string("route-header"),
      clusters: args.list("cluster"),
      workload: workloadFromArgs(args),
      rootNamespace: args.string("root-namespace"),
      fetch: { cacheDir: args.string("cache-dir"), insecure: args.flag("insecure") },
      progress: io.progress,
      signal,
    };
    if (args.flag("dry-run")) {
      const plan = await planPreview(opts);
      for (const line of formatChain(plan.chain)) io.err(line);
      io.out(JSON.stringify(renderPreviewBootstrap(plan), null, 2));
      return 0;
    }
    const running = await startPreview(opts);
    io.out(`listener  ${running.listenerUrl}`);
    io.out(`admin     ${running.adminUrl}`);
    io.out(`upstreams ${running.upstreams.map((u) => `${u.name}=${u.url}`).join(" ")}`);
    io.out("");
    for (const line of formatChain(running.chain)) io.out(line);
    io.out("");
    await serveUntilStopped(io, signal, () => running.stop());
    return 0;
  },
};
