import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { PwasError } from "../../errors";
import { DEFAULT_FORMAT, DEFAULT_TAG, IMAGE_FORMATS, layoutTar, loadImageSource, parseFormat, sha256Hex, writeLayout } from "../../oci";
import type { Command } from "../command";

export const packageCommand: Command = {
  name: "package",
  summary: "Package a filter as an OCI image (layout folder or tar) that Istio can pull",
  description:
    "Builds the filter (or takes the .wasm as it is) and writes it as an OCI image that istio-agent can pull:\n" +
    "an image layout folder (--layout) or a tar of one. Push it with `pwas push`, or with any OCI tool\n" +
    "(skopeo copy oci-archive:...).",
  args: "<filter dir | module.wasm>",
  options: {
    format: {
      type: "string", choices: IMAGE_FORMATS, default: DEFAULT_FORMAT,
      description: "compat: an ordinary image with plugin.wasm in a tar.gz layer;\noci: the Wasm artifact (runtime config + raw module layers)",
    },
    output: { type: "string", value: "file", description: "write the image layout as a tar", defaultText: "<dir>/build/<name>.<format>.tar" },
    layout: { type: "string", value: "dir", description: "write the image layout as a folder instead" },
    tag: { type: "string", value: "tag", description: "the image's name inside the layout", default: DEFAULT_TAG },
    "root-id": { type: "string", value: "id", multiple: true, description: "a root_id the module serves, for the oci format's runtime config" },
  },
  examples: [
    "pwas package filters/fault",
    "pwas package filters/fault --format oci --layout build/fault-oci",
    "pwas package build/my.wasm --output my.tar",
  ],
  async run(args, io, signal) {
    const input = args.positionals[0];
    if (!input || args.positionals.length > 1) throw new PwasError("E_USAGE", "give one filter folder or .wasm module to package");
    const output = args.string("output");
    const layout = args.string("layout");
    if (output && layout) throw new PwasError("E_USAGE", "give --output (a tar) or --layout (a folder), not both");
    const format = parseFormat(args.string("format"));
    const tag = args.string("tag") ?? DEFAULT_TAG;
    const src = await loadImageSource(input, { format, rootIds: args.list("root-id"), progress: io.progress, signal });
    let written: string;
    if (layout) {
      writeLayout(src.image, layout, tag);
      written = layout;
    } else {
      written = output ?? join(src.wasmPath ? dirname(src.wasmPath) : ".", `${src.name}.${format}.tar`);
      mkdirSync(dirname(written), { recursive: true });
      writeFileSync(written, layoutTar(src.image, tag));
    }
    io.out(`${shown(written)}  ${format} image ${src.image.digest}`);
    if (src.wasm) io.out(`module sha256 ${sha256Hex(src.wasm)}`);
    return 0;
  },
};

/** A path as the user would type it: relative to the current folder when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}
