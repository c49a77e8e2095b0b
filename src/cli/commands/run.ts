import { runFilter } from "../../envoy/run";
import { ENVOY_IMAGE } from "../../envoy/version";
import { PwasError } from "../../errors";
import { serveUntilStopped, type Command } from "../command";

export const run: Command = {
  name: "run",
  summary: "Run a filter in a real Envoy in front of an upstream (the built-in echo by default) until Ctrl-C",
  description:
    "Builds the filter (or takes the .wasm as it is), starts Envoy with it in front of the upstream and prints the\n" +
    "listener and admin URLs; curl through the listener to see what the filter does. The echo upstream answers\n" +
    "with the JSON of the request it received. Envoy is found as `pwas envoy which` says, or downloaded into the\n" +
    "user cache the first time. With --docker, Envoy runs in a container instead (a Docker engine is needed):\n" +
    "host networking, listener and admin bound on 127.0.0.1 only, module and config mounted read-only.",
  args: "<filter dir | module.wasm>",
  options: {
    config: { type: "string", value: "json|file", description: "plugin configuration (inline JSON or a file)" },
    port: { type: "integer", value: "n", max: 65535, description: "listener port", defaultText: "a free port" },
    "admin-port": { type: "integer", value: "n", max: 65535, description: "Envoy admin port", defaultText: "a free port" },
    concurrency: { type: "integer", value: "n", min: 1, description: "Envoy worker threads", default: 1 },
    upstream: { type: "string", value: "echo|url", description: "where requests go: echo, or an http:// URL", default: "echo" },
    "failure-policy": {
      type: "string", choices: ["closed", "open", "reload"], defaultText: "closed",
      description: "when the VM fails: closed (503), open (bypass the filter), reload (restart the VM)",
    },
    "root-id": { type: "string", value: "id", description: "the plugin's root_id" },
    cluster: { type: "string", value: "name=url", multiple: true, description: "an extra cluster for callouts" },
    docker: { type: "boolean", description: `run Envoy in a container: PWAS_ENVOY_IMAGE, default ${ENVOY_IMAGE}` },
  },
  examples: [
    "pwas run filters/fault --config '{\"abort\":{\"http_status\":503,\"percentage\":{\"numerator\":100}}}'",
    "pwas run build/my.wasm --port 8080 --upstream http://127.0.0.1:9000",
    "pwas run . --config config.json --concurrency 2",
    "pwas run templates/http-headers --docker",
  ],
  async run(args, io, signal) {
    const target = args.positionals[0];
    if (!target) throw new PwasError("E_USAGE", "a filter folder or .wasm file is required, e.g. pwas run filters/fault");
    if (args.positionals.length > 1) throw new PwasError("E_USAGE", `one filter at a time: got ${args.positionals.join(", ")}`);
    const running = await runFilter({
      target,
      config: args.string("config"),
      port: args.number("port"),
      adminPort: args.number("admin-port"),
      concurrency: args.number("concurrency"),
      upstream: args.string("upstream"),
      failurePolicy: args.string("failure-policy") as "closed" | "open" | "reload" | undefined,
      rootId: args.string("root-id"),
      clusters: args.list("cluster"),
      progress: io.progress,
      signal,
      docker: args.flag("docker"),
    });
    io.out(`listener  ${running.listenerUrl}`);
    io.out(`admin     ${running.adminUrl}`);
    io.out(`module    ${running.wasmFile}`);
    io.out(`upstream  ${running.echo ? `echo (${running.echo.url})` : args.string("upstream")}`);
    await serveUntilStopped(io, signal, () => running.stop());
    return 0;
  },
};
