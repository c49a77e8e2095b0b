import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { PwasError } from "../../errors";
import { DEFAULT_TAG, IMAGE_FORMATS, layoutTar, loadImageSource, parseFormat, sha256Hex, writeLayout } from "../../oci";
import type { Command } from "../command";

export const packageCommand: Command = {
  name: "package",
  summary: "Package a filter as an OCI image (layout folder or tar) that Istio can pull",
  usage: "pwas package <filter dir | module.wasm> [--format compat|oci] [--output image.tar | --layout <dir>]",
  optionHelp: [
    `--format <f>     ${IMAGE_FORMATS.join(" | ")} (default compat): compat is an ordinary image with plugin.wasm`,
    "                 in a tar.gz layer; oci is the Wasm artifact (runtime config + raw module layers)",
    "--output <file>  write the image layout as a tar (default <dir>/build/<name>.<format>.tar)",
    "--layout <dir>   write the image layout as a folder instead",
    `--tag <tag>      the image's name inside the layout (default ${DEFAULT_TAG})`,
    "--root-id <id>   a root_id the module serves, for the oci format's runtime config (repeatable)",
  ],
  examples: [
    "pwas package filters/fault",
    "pwas package filters/fault --format oci --layout build/fault-oci",
    "pwas package build/my.wasm --output my.tar",
  ],
  options: {
    format: { type: "string" },
    output: { type: "string" },
    layout: { type: "string" },
    tag: { type: "string" },
    "root-id": { type: "string", multiple: true },
  },
  async run(args, io) {
    const input = args.positionals[0];
    if (!input || args.positionals.length > 1) throw new PwasError("E_USAGE", "give one filter folder or .wasm module to package");
    const output = args.values.output as string | undefined;
    const layout = args.values.layout as string | undefined;
    if (output && layout) throw new PwasError("E_USAGE", "give --output (a tar) or --layout (a folder), not both");
    const format = parseFormat(args.values.format as string | undefined);
    const tag = (args.values.tag as string | undefined) ?? DEFAULT_TAG;
    const src = await loadImageSource(input, { format, rootIds: args.values["root-id"] as string[] | undefined, progress: io.progress });
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
