import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import { PwasError } from "../../errors";
import { checkTransport, formatReference, parseReference, pullModule } from "../../oci";
import type { Command } from "../command";
import { registryCredentials, registryOptionHelp, registryOptions } from "./push";

export const pull: Command = {
  name: "pull",
  summary: "Fetch a Wasm module from an OCI registry the way istio-agent does, and check its checksums",
  usage: "pwas pull oci://<registry>/<repo>:<tag>|@sha256:<hex> [--output module.wasm] [--sha256 <hex>]",
  optionHelp: [
    "--output <file>        where to write the module (default ./<repo name>.wasm)",
    "--sha256 <hex>         the WasmPlugin spec.sha256 to verify: for an oci:// url Istio compares it with",
    "                       the image manifest digest",
    "--module-sha256 <hex>  the sha256 the module itself must have",
    ...registryOptionHelp,
  ],
  examples: [
    "pwas pull oci://ghcr.io/acme/fault:1.0.0",
    "pwas pull oci://localhost:5000/fault:dev --insecure --output fault.wasm",
    "pwas pull oci://ghcr.io/acme/fault@sha256:<hex> --sha256 <hex>",
  ],
  options: { ...registryOptions, output: { type: "string" }, sha256: { type: "string" }, "module-sha256": { type: "string" } },
  async run(args, io, signal) {
    const [target] = args.positionals;
    if (!target || args.positionals.length > 1) throw new PwasError("E_USAGE", "give one image: pwas pull oci://<registry>/<repo>:<tag>");
    const ref = parseReference(target);
    checkTransport(ref, args.values.insecure === true);
    const credentials = registryCredentials(args, ref.registry, io);
    const r = await pullModule(ref, {
      insecure: args.values.insecure === true,
      credentials,
      signal,
      progress: io.progress,
      sha256: args.values.sha256 as string | undefined,
      moduleSha256: args.values["module-sha256"] as string | undefined,
    });
    const output = (args.values.output as string | undefined) ?? `${ref.repository.split("/").pop()}.wasm`;
    writeFileSync(output, r.module);
    io.out(`${shown(output)}  ${r.module.length} bytes  (${r.format} image oci://${formatReference(ref)})`);
    io.out(`module sha256    ${r.moduleSha256}`);
    io.out(`manifest digest  ${r.manifestDigest}  (WasmPlugin spec.sha256 for this oci:// url: ${r.manifestDigest.slice(7)})`);
    return 0;
  },
};

/** A path as the user would type it: relative to the current folder when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}
