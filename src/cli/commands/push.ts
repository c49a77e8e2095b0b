import { PwasError } from "../../errors";
import { checkTransport, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME, IMAGE_FORMATS, loadImageSource, parseFormat, parseReference, pushImage, resolveCredentials, type Credentials } from "../../oci";
import type { Command, Io, Options, ParsedArgs } from "../command";

/** The registry options push and pull share: credentials and plain http for a loopback registry. */
export const registryOptions: Options = {
  username: { type: "string" },
  password: { type: "string" },
  token: { type: "string" },
  insecure: { type: "boolean" },
};

export const registryOptionHelp = [
  "--username <u>   with --password: basic credentials (also sent to the registry's token service)",
  "--password <p>   (prefer the environment: the flag is visible in the process list)",
  "--token <t>      a registry bearer token, sent as is",
  "--insecure       plain http, for a registry on this machine only (localhost, 127.0.0.1, ::1)",
  `Without these flags: ${ENV_USERNAME} and ${ENV_PASSWORD}, or ${ENV_TOKEN},`,
  "then the registry's entry in ~/.docker/config.json (auths; $DOCKER_CONFIG moves it).",
];

export function registryCredentials(args: ParsedArgs, registry: string, io: Io): Credentials {
  const creds = resolveCredentials(registry, {
    username: args.values.username as string | undefined,
    password: args.values.password as string | undefined,
    token: args.values.token as string | undefined,
  });
  if (creds.kind !== "anonymous") io.progress(`credentials for ${registry} from ${creds.source}`);
  else if (creds.hint) io.progress(creds.hint);
  return creds;
}

export const push: Command = {
  name: "push",
  summary: "Push a filter, module or image layout to an OCI registry",
  usage: "pwas push <filter dir | layout | image.tar | module.wasm> <registry>/<repo>:<tag> [--format compat|oci] [--insecure]",
  optionHelp: [
    `--format <f>     ${IMAGE_FORMATS.join(" | ")} (default compat) when packaging a folder or module`,
    "--root-id <id>   a root_id the module serves, for the oci format's runtime config (repeatable)",
    ...registryOptionHelp,
  ],
  examples: [
    "pwas push filters/fault ghcr.io/acme/fault:1.0.0",
    "pwas push build/fault.compat.tar registry.example.com/wasm/fault:1.0.0 --username me --password \"$TOKEN\"",
    "pwas push filters/fault localhost:5000/fault:dev --format oci --insecure",
  ],
  options: { ...registryOptions, format: { type: "string" }, "root-id": { type: "string", multiple: true } },
  async run(args, io, signal) {
    const [input, target] = args.positionals;
    if (!input || !target || args.positionals.length > 2) throw new PwasError("E_USAGE", "give what to push and where: pwas push <dir | layout | module.wasm> <registry>/<repo>:<tag>");
    const ref = parseReference(target);
    checkTransport(ref, args.values.insecure === true);
    const format = args.values.format === undefined ? undefined : parseFormat(args.values.format as string);
    const credentials = registryCredentials(args, ref.registry, io);
    const src = await loadImageSource(input, { format, rootIds: args.values["root-id"] as string[] | undefined, allowLayout: true, progress: io.progress });
    io.progress(`pushing ${src.description} (${src.image.digest}) to ${target}`);
    const r = await pushImage(src.image, ref, { insecure: args.values.insecure === true, credentials, signal, progress: io.progress });
    io.progress(`${r.uploaded} blob(s) uploaded, ${r.alreadyPresent} already present`);
    io.out(`${r.digest}  oci://${r.pinned}`);
    return 0;
  },
};
