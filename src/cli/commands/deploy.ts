import { kubectlApply, planDeploy } from "../../mesh/deploy";
import { PwasError } from "../../errors";
import type { Command } from "../command";

export const deploy: Command = {
  name: "deploy",
  summary: "Render (and optionally apply) the Istio WasmPlugin that ships a filter",
  usage: "pwas deploy <filter dir | module.wasm> --image oci://registry/repo:tag [--name N] [--namespace NS] [--selector k=v ...] [--target-ref Kind/name ...] [--phase P] [--priority N] [--fail-strategy S] [--config <file or JSON>] [--env K=V ...] [--apply] [--force]",
  optionHelp: [
    "--image <url>            where Istio fetches the module: oci:// (default scheme), https://, file://",
    "--name <name>            metadata.name (default: the filter's name)",
    "--namespace <ns>         metadata.namespace (istio-system applies mesh-wide)",
    "--selector <k=v>         workload label to match (repeatable)",
    "--target-ref <Kind/name> Gateway, GatewayClass, Service or ServiceEntry to attach to (repeatable, at most 16)",
    "--phase <phase>          AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE (just before the router)",
    "--priority <n>           order within a phase, higher first",
    "--fail-strategy <s>      FAIL_CLOSE (default), FAIL_OPEN or FAIL_RELOAD",
    "--config <json|file>     pluginConfig (a JSON object)",
    "--env <K=V>              VM environment variable (repeatable)",
    "--host-env <NAME>        pass the proxy's own environment variable NAME to the VM (repeatable)",
    "--plugin-name <id>       pluginName, the Envoy root_id (default: the filter's name)",
    "--sha256 <digest>        oci:// only: the image manifest digest from your push",
    "--pull-policy <p>        imagePullPolicy: IfNotPresent or Always",
    "--pull-secret <name>     imagePullSecret: a docker-registry Secret in the same namespace",
    "--no-build               use the existing build/<name>.wasm",
    "--apply                  pipe the YAML to `kubectl apply -f -` (needs kubectl and a kubeconfig)",
    "--force                  allow FAIL_OPEN on a filter that forbids it (the auth filter)",
  ],
  examples: [
    "pwas deploy filters/fault --image oci://ghcr.io/me/fault:1.0 --namespace demo --selector app=reviews --config '{\"abort\":{\"http_status\":503,\"percentage\":{\"numerator\":5}}}'",
    "pwas deploy filters/auth --image oci://ghcr.io/me/auth:1.0 --target-ref Gateway/ingress --phase AUTHN --config auth.json --apply",
    "pwas deploy build/my.wasm --image https://example.com/my.wasm --phase STATS --priority 10 > my-wasmplugin.yaml",
  ],
  options: {
    image: { type: "string" },
    name: { type: "string" },
    namespace: { type: "string" },
    selector: { type: "string", multiple: true },
    "target-ref": { type: "string", multiple: true },
    phase: { type: "string" },
    priority: { type: "string" },
    "fail-strategy": { type: "string" },
    config: { type: "string" },
    env: { type: "string", multiple: true },
    "host-env": { type: "string", multiple: true },
    "plugin-name": { type: "string" },
    sha256: { type: "string" },
    "pull-policy": { type: "string" },
    "pull-secret": { type: "string" },
    "no-build": { type: "boolean" },
    apply: { type: "boolean" },
    force: { type: "boolean" },
  },
  async run(args, io) {
    const target = args.positionals[0];
    const image = args.values.image as string | undefined;
    if (!target || !image) {
      io.err("pwas deploy: E_USAGE a filter folder (or .wasm file) and --image <url> are required");
      return 2;
    }
    const str = (k: string) => args.values[k] as string | undefined;
    const list = (k: string) => args.values[k] as string[] | undefined;
    let priority: number | undefined;
    if (str("priority") !== undefined) {
      priority = Number(str("priority"));
      if (!Number.isInteger(priority)) throw new PwasError("E_USAGE", `--priority must be an integer, got ${str("priority")}`);
    }
    const plan = await planDeploy({
      target, image, priority,
      name: str("name"), namespace: str("namespace"), selector: list("selector"), targetRefs: list("target-ref"),
      phase: str("phase"), failStrategy: str("fail-strategy"), config: str("config"), env: list("env"),
      hostEnv: list("host-env"), pluginName: str("plugin-name"), sha256: str("sha256"),
      imagePullPolicy: str("pull-policy"), imagePullSecret: str("pull-secret"),
      noBuild: args.values["no-build"] === true, force: args.values.force === true, progress: io.progress,
    });
    for (const note of plan.notes) io.err(`note: ${note}`);
    io.out(plan.yaml.trimEnd());
    if (args.values.apply === true) {
      io.progress("kubectl apply -f -");
      const out = await kubectlApply(plan.yaml);
      if (out) io.err(out);
    }
    return 0;
  },
};
