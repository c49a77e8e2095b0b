import { formatChain, renderPreviewBootstrap, planPreview, startPreview } from "../../mesh/preview";
import { serveUntilStopped, type Command } from "../command";

export const preview: Command = {
  name: "preview",
  summary: "Run WasmPlugin resources in a real Envoy the way Istio would configure them, until Ctrl-C",
  usage: "pwas preview <wasmplugin.yaml ...> [--port N] [--admin-port N] [--upstreams v1,v2,...] [--route-header H] [--cluster name=url ...] [--cache-dir D] [--insecure] [--dry-run]",
  optionHelp: [
    "--port <n>               listener port (default: a free port)",
    "--admin-port <n>         Envoy admin port (default: a free port)",
    "--concurrency <n>        Envoy worker threads (default 1)",
    "--upstreams <a,b,...>    start one echo upstream per name; requests with <route-header>: <name> go to it,",
    "                         all others to the first (default: one upstream, \"echo\")",
    "--route-header <h>       the header routes match on (default x-route-subset, the routing filter's)",
    "--cluster <name=url>     an extra cluster for plugin callouts (repeatable)",
    "--cache-dir <dir>        where downloaded modules are kept (default .cache/wasm; unused for 24 h → removed)",
    "--insecure               pull oci:// images over plain http from a registry on this machine",
    "--dry-run                print the chain and the Envoy bootstrap JSON (upstream ports 0), start nothing",
  ],
  examples: [
    "pwas deploy filters/fault --image file://$PWD/filters/fault/build/fault.wasm > fault.yaml && pwas preview fault.yaml",
    "pwas preview auth.yaml ratelimit.yaml routing.yaml fault.yaml --upstreams v1,v2,v3 --port 8080",
    "pwas preview plugins.yaml --dry-run | jq .static_resources.listeners[0]",
  ],
  options: {
    port: { type: "string" },
    "admin-port": { type: "string" },
    concurrency: { type: "string" },
    upstreams: { type: "string" },
    "route-header": { type: "string" },
    cluster: { type: "string", multiple: true },
    "cache-dir": { type: "string" },
    insecure: { type: "boolean" },
    "dry-run": { type: "boolean" },
  },
  async run(args, io, signal) {
    if (args.positionals.length === 0) {
      io.err("pwas preview: E_USAGE give one or more WasmPlugin YAML files");
      return 2;
    }
    const num = (name: string) => {
      const v = args.values[name] as string | undefined;
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
      return n;
    };
    const opts = {
      files: args.positionals,
      port: num("port"),
      adminPort: num("admin-port"),
      concurrency: num("concurrency"),
      upstreams: (args.values.upstreams as string | undefined)?.split(",").map((s) => s.trim()).filter(Boolean),
      routeHeader: args.values["route-header"] as string | undefined,
      clusters: args.values.cluster as string[] | undefined,
      fetch: { cacheDir: args.values["cache-dir"] as string | undefined, insecure: args.values.insecure === true },
      progress: io.progress,
    };
    if (args.values["dry-run"] === true) {
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
