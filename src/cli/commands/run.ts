import { runFilter } from "../../envoy/run";
import { serveUntilStopped, type Command } from "../command";

export const run: Command = {
  name: "run",
  summary: "Run a filter in a real Envoy in front of an upstream (the built-in echo by default) until Ctrl-C",
  usage: "pwas run <filter dir | module.wasm> [--config <file or JSON>] [--port N] [--admin-port N] [--concurrency N] [--upstream echo|<url>] [--failure-policy closed|open|reload]",
  optionHelp: [
    "--config <json|file>     plugin configuration (inline JSON or a file)",
    "--port <n>               listener port (default: a free port)",
    "--admin-port <n>         Envoy admin port (default: a free port)",
    "--concurrency <n>        Envoy worker threads (default 1)",
    "--upstream echo|<url>    where requests go; echo answers with the JSON of what it received",
    "--failure-policy <p>     closed (503 when the VM fails), open (bypass), reload (restart the VM)",
    "--root-id <id>           the plugin's root_id",
    "--cluster <name=url>     an extra cluster for callouts (repeatable)",
  ],
  examples: [
    "pwas run filters/fault --config '{\"abort\":{\"http_status\":503,\"percentage\":{\"numerator\":100}}}'",
    "pwas run build/my.wasm --port 8080 --upstream http://127.0.0.1:9000",
  ],
  options: {
    config: { type: "string" },
    port: { type: "string" },
    "admin-port": { type: "string" },
    concurrency: { type: "string" },
    upstream: { type: "string" },
    "failure-policy": { type: "string" },
    "root-id": { type: "string" },
    cluster: { type: "string", multiple: true },
  },
  async run(args, io, signal) {
    const target = args.positionals[0];
    if (!target) {
      io.err("pwas run: E_USAGE a filter folder or .wasm file is required");
      return 2;
    }
    const num = (name: string) => (args.values[name] === undefined ? undefined : intOption(name, args.values[name] as string));
    const running = await runFilter({
      target,
      config: args.values.config as string | undefined,
      port: num("port"),
      adminPort: num("admin-port"),
      concurrency: num("concurrency"),
      upstream: args.values.upstream as string | undefined,
      failurePolicy: args.values["failure-policy"] as "closed" | "open" | "reload" | undefined,
      rootId: args.values["root-id"] as string | undefined,
      clusters: args.values.cluster as string[] | undefined,
      progress: io.progress,
    });
    io.out(`listener  ${running.listenerUrl}`);
    io.out(`admin     ${running.adminUrl}`);
    io.out(`module    ${running.wasmFile}`);
    io.out(`upstream  ${running.echo ? `echo (${running.echo.url})` : args.values.upstream}`);
    await serveUntilStopped(io, signal, () => running.stop());
    return 0;
  },
};

function intOption(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return n;
}
