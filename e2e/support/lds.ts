/**
 * Pushing listeners to a running Envoy without a control plane: file-based LDS (Bootstrap.ldsPath). Envoy
 * watches the file's folder and applies a version when a complete file is moved into place, so each version
 * is written beside it and renamed over it: Envoy never reads a half-written file.
 */
import { renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { renderListenerDiscovery, type Listener } from "../../src/envoy";

export function writeListenerFile(path: string, listeners: Listener[], version: string): void {
  const tmp = `${path}.${version}.tmp`;
  writeFileSync(tmp, JSON.stringify(renderListenerDiscovery(listeners, version, { resolvePath: (p) => resolve(p) }), null, 2));
  renameSync(tmp, path);
}
