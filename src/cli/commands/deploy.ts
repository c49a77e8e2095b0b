import { kubectlApply, planDeploy } from "../../mesh/deploy";
import { PwasError } from "../../errors";
import type { Command } from "../command";

export const deploy: Command = {
  name: "deploy",
  summary: "Render (and optionally apply) the Istio WasmPlugin or TrafficExtension that ships a filter",
  description:
    "Builds the filter (or takes the .wasm as it is), renders the WasmPlugin (or, --kind TrafficExtension, the\n" +
    "TrafficExtension of Istio 1.30+) that ships it, validates it against Istio's CRD schema and prints the YAML\n" +
    "(the module's sha256 for http/file urls, --sha256 for oci://).\n" +
    "--apply pipes it to kubectl.",
  args: "<filter dir | module.wasm> --image <url>",
  options: {
    image: { type: "string", value: "url", description: "where Istio fetches the module: oci:// (default scheme), https://, file://" },
    name: { type: "string", value: "name", description: "metadata.name", defaultText: "the filter's name" },
    namespace: { type: "string", value: "ns", description: "metadata.namespace (istio-system applies mesh-wide)" },
    selector: { type: "string", value: "k=v", multiple: true, description: "workload label to match" },
    "target-ref": { type: "string", value: "Kind/name", multiple: true, description: "Gateway, GatewayClass, Service or ServiceEntry to attach to (at most 16)" },
    phase: { type: "string", value: "phase", description: "AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE (just before the router)" },
    priority: { type: "integer", value: "n", min: -2147483648, max: 2147483647, description: "order within a phase, higher first" },
    "fail-strategy": { type: "string", value: "s", description: "FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD", defaultText: "FAIL_CLOSE" },
    config: { type: "string", value: "json|file", description: "pluginConfig (a JSON object)" },
    env: { type: "string", value: "K=V", multiple: true, description: "VM environment variable" },
    "host-env": { type: "string", value: "NAME", multiple: true, description: "pass the proxy's own environment variable NAME to the VM" },
    "plugin-name": { type: "string", value: "id", description: "pluginName, the Envoy root_id", defaultText: "the filter's name" },
    sha256: { type: "string", value: "digest", description: "oci:// only: the image manifest digest from your push" },
    "pull-policy": { type: "string", value: "p", description: "imagePullPolicy: IfNotPresent or Always" },
    "pull-secret": { type: "string", value: "name", description: "imagePullSecret: a docker-registry Secret in the same namespace" },
    "no-build": { type: "boolean", description: "use the existing build/<name>.wasm" },
    apply: { type: "boolean", description: "pipe the YAML to `kubectl apply -f -` (needs kubectl and a kubeconfig)" },
    force: { type: "boolean", description: "allow FAIL_OPEN on a filter that forbids it (the auth filter)" },
    kind: { type: "string", choices: ["WasmPlugin", "TrafficExtension"], description: "the resource to render", defaultText: "TrafficExtension for --istio 1.30 or later, else WasmPlugin" },
    istio: { type: "string", value: "version", description: "the mesh's Istio version (e.g. 1.29): picks the default --kind, refuses TrafficExtension below 1.30" },
  },
  examples: [
    "pwas deploy filters/fault --image oci://ghcr.io/me/fault:1.0 --namespace demo --selector app=reviews --config '{\"abort\":{\"http_status\":503,\"percentage\":{\"numerator\":5}}}'",
    "pwas deploy filters/auth --image oci://ghcr.io/me/auth:1.0 --target-ref Gateway/ingress --phase AUTHN --config auth.json --apply",
    "pwas deploy build/my.wasm --image https://example.com/my.wasm --phase STATS --priority 10 > my-wasmplugin.yaml",
    "pwas deploy filters/fault --kind TrafficExtension --image oci://ghcr.io/me/fault:1.0 --selector app=reviews --apply",
  ],
  async run(args, io, signal) {
    const target = args.positionals[0];
    const image = args.string("image");
    if (!target || !image) throw new PwasError("E_USAGE", "a filter folder (or .wasm file) and --image <url> are required");
    const str = args.string;
    const list = args.list;
    const plan = await planDeploy({
      target, image, priority: args.number("priority"),
      name: str("name"), namespace: str("namespace"), selector: list("selector"), targetRefs: list("target-ref"),
      phase: str("phase"), failStrategy: str("fail-strategy"), config: str("config"), env: list("env"),
      hostEnv: list("host-env"), pluginName: str("plugin-name"), sha256: str("sha256"),
      imagePullPolicy: str("pull-policy"), imagePullSecret: str("pull-secret"),
      noBuild: args.flag("no-build"), force: args.flag("force"), kind: str("kind"), istio: str("istio"), progress: io.progress, signal,
    });
    for (const note of plan.notes) io.err(`note: ${note}`);
    io.out(plan.yaml.trimEnd());
    if (args.flag("apply")) {
      io.progress("kubectl apply -f -");
      const out = await kubectlApply(plan.yaml);
      if (out) io.err(out);
    }
    return 0;
  },
};
