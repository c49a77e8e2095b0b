import { PwasError } from "../../errors";
import { DEFAULT_CACHE_DIR } from "../../mesh/module";
import { DEFAULT_ROUTE_HEADER, formatChain, renderPreviewBootstrap, planPreview, startPreview } from "../../mesh/preview";
import { serveUntilStopped, type Command } from "../command";

export const preview: Command = {
  name: "preview",
  summary: "Run WasmPlugin resources in a real Envoy the way Istio would configure them, until Ctrl-C",
  description:
    "Reads WasmPlugin YAML (as `pwas deploy` writes it), orders and translates the plugins as istiod and\n" +
    "istio-agent would (phases, priorities, failStrategy, module download), and runs the chain in a real Envoy\n" +
    "in front of one or more echo upstreams. --dry-run prints the chain and the bootstrap instead.",
  args: "<wasmplugin.yaml ...>",
  options: {
    port: { type: "integer", value: "n", max: 65535, description: "listener port", defaultText: "a free port" },
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
