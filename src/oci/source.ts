/**
 * What `pwas package` and `pwas push` take as input: a filter folder (built first), a .wasm module, or
 * (push only) an image layout folder or tar that `pwas package` wrote.
 */
import { existsSync, statSync } from "node:fs";
import { relative } from "node:path";
import { loadModule } from "../build/module";
import { PwasError } from "../errors";
import { packageModule, type Image, type PackageOptions } from "./image";
import { isLayoutDir, readLayout } from "./layout";

export interface ImageSource {
  image: Image;
  /** The module packaged and its path (both absent for a layout read as is). */
  wasm?: Buffer;
  wasmPath?: string;
  /** A name for default output files: the filter's name or the module's file name without .wasm. */
  name: string;
  /** How the image was obtained, for progress lines. */
  description: string;
}

export interface SourceOptions extends PackageOptions {
  /** Accept image layouts (folders and tars) as they are. */
  allowLayout?: boolean;
  /** The tag to read from a layout holding several images. */
  layoutTag?: string;
  progress?(step: string): void;
  /** Stops a build in progress. */
  signal?: AbortSignal;
}

export async function loadImageSource(input: string, opts: SourceOptions = {}): Promise<ImageSource> {
  const progress = opts.progress ?? (() => undefined);
  if (!existsSync(input)) throw new PwasError("E_NOT_FOUND", `${input} does not exist`);
  const shown = relative(process.cwd(), input) || ".";
  if (isLayoutDir(input) || (statSync(input).isFile() && input.endsWith(".tar"))) {
    if (!opts.allowLayout) throw new PwasError("E_USAGE", `${shown} is an image layout already; give a filter folder or a .wasm module`);
    if (opts.format || opts.rootIds?.length) throw new PwasError("E_USAGE", `${shown} is an image layout: it is pushed as it is, so --format and --root-id do not apply`);
    progress(`reading image layout ${shown}`);
    const image = readLayout(input, opts.layoutTag);
    return { image, name: shown, description: `image layout ${shown}` };
  }
  const mod = await loadModule(input, { progress, signal: opts.signal });
  const description = mod.project ? `filter ${mod.name}` : `module ${shown}`;
  return { image: packageModule(mod.wasm, opts), wasm: mod.wasm, wasmPath: mod.wasmPath, name: mod.name, description };
}
