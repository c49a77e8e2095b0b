import { PwasError } from "../../errors";
import { checkTransport, DEFAULT_FORMAT, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME, IMAGE_FORMATS, loadImageSource, parseFormat, parseReference, pushImage, resolveCredentials, type Credentials } from "../../oci";
import type { Command, Io, OptionSpecs, ParsedArgs } from "../command";

/** The registry options push and pull share: credentials and plain http for a loopback registry. */
export const registryOptions: OptionSpecs = {
  username: { type: "string", value: "u", description: "with --password: basic credentials (also sent to the registry's token service)" },
  password: { type: "string", value: "p", description: "(prefer the environment: the flag is visible in the process list)" },
  token: { type: "string", value: "t", description: "a registry bearer token, sent as is" },
  insecure: { type: "boolean", description: "plain http, for a registry on this machine only (localhost, 127.0.0.1, ::1)" },
};

export const registryNotes = [
  `Credentials without these flags: ${ENV_USERNAME} and ${ENV_PASSWORD}, or ${ENV_TOKEN},`,
  "then the registry's entry in ~/.docker/config.json (auths; $DOCKER_CONFIG moves it).",
];

export function registryCredentials(args: ParsedArgs, registry: string, io: Io): Credentials {
  const creds = resolveCredentials(registry, {
    username: args.string("username"),
    password: args.string("password"),
    token: args.string("token"),
  });
  if (creds.kind !== "anonymous") io.progress(`credentials for ${registry} from ${creds.source}`);
  else if (creds.hint) io.progress(creds.hint);
  return creds;
}

export const push: Command = {
  name: "push",
  summary: "Push a filter, module or image layout to an OCI registry",
  description:
    "Sends an image to a registry in the formats istio-agent accepts: a filter folder (built and packaged),\n" +
    "a .wasm module (packaged), or an image layout folder or tar that `pwas package` wrote (as it is). Prints\n" +
    "the manifest digest and the pinned reference to put in a WasmPlugin.",
  args: "<filter dir | layout | image.tar | module.wasm> <registry>/<repo>:<tag>",
  options: {
    format: { type: "string", choices: IMAGE_FORMATS, description: "the image format when packaging a folder or module", defaultText: DEFAULT_FORMAT },
    "root-id": { type: "string", value: "id", multiple: true, description: "a root_id the module serves, for the oci format's runtime config" },
    ...registryOptions,
  },
  notes: registryNotes,
  examples: [
    "pwas push filters/fault ghcr.io/acme/fault:1.0.0",
    "pwas push build/fault.compat.tar registry.example.com/wasm/fault:1.0.0 --username me --password \"$TOKEN\"",
    "pwas push filters/fault localhost:5000/fault:dev --format oci --insecure",
  ],
  async run(args, io, signal) {
    const [input, target] = args.positionals;
    if (!input || !target || args.positionals.length > 2) throw new PwasError("E_USAGE", "give what to push and where: pwas push <dir | layout | module.wasm> <registry>/<repo>:<tag>");
    const ref = parseReference(target);
    checkTransport(ref, args.flag("insecure"));
    const format = args.string("format") === undefined ? undefined : parseFormat(args.string("format"));
    const credentials = registryCredentials(args, ref.registry, io);
    const src = await loadImageSource(input, { format, rootIds: args.list("root-id"), allowLayout: true, progress: io.progress, signal });
    io.progress(`pushing ${src.description} (${src.image.digest}) to ${target}`);
    const r = await pushImage(src.image, ref, { insecure: args.flag("insecure"), credentials, signal, progress: io.progress });
    io.progress(`${r.uploaded} blob(s) uploaded, ${r.alreadyPresent} already present`);
    io.out(`${r.digest}  oci://${r.pinned}`);
    return 0;
  },
};
