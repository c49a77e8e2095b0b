import { writeFileSync } from "node:fs";
import { relative } from "node:path";
import { PwasError } from "../../errors";
import { checkTransport, formatReference, parseReference, pullModule } from "../../oci";
import type { Command } from "../command";
import { registryCredentials, registryNotes, registryOptions } from "./push";

export const pull: Command = {
  name: "pull",
  summary: "Fetch a Wasm module from an OCI registry the way istio-agent does, and check its checksums",
  description:
    "Resolves the reference (an image index to its linux/amd64 image), takes the module out of either Wasm\n" +
    "image format, checks every digest on the way, and writes the module. --sha256 checks what a WasmPlugin's\n" +
    "spec.sha256 would be checked against.",
  args: "oci://<registry>/<repo>:<tag>|@sha256:<hex>",
  options: {
    output: { type: "string", value: "file", description: "where to write the module", defaultText: "./<repo name>.wasm" },
    sha256: { type: "string", value: "hex", description: "the WasmPlugin spec.sha256 to verify: for an oci:// url Istio compares it with\nthe image manifest digest" },
    "module-sha256": { type: "string", value: "hex", description: "the sha256 the module itself must have" },
    ...registryOptions,
  },
  notes: registryNotes,
  examples: [
    "pwas pull oci://ghcr.io/acme/fault:1.0.0",
    "pwas pull oci://localhost:5000/fault:dev --insecure --output fault.wasm",
    "pwas pull oci://ghcr.io/acme/fault@sha256:<hex> --sha256 <hex>",
  ],
  async run(args, io, signal) {
    const [target] = args.positionals;
    if (!target || args.positionals.length > 1) throw new PwasError("E_USAGE", "give one image: pwas pull oci://<registry>/<repo>:<tag>");
    const ref = parseReference(target);
    checkTransport(ref, args.flag("insecure"));
    const credentials = registryCredentials(args, ref.registry, io);
    const r = await pullModule(ref, {
      insecure: args.flag("insecure"),
      credentials,
      signal,
      progress: io.progress,
      sha256: args.string("sha256"),
      moduleSha256: args.string("module-sha256"),
    });
    const output = args.string("output") ?? `${ref.repository.split("/").pop()}.wasm`;
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
