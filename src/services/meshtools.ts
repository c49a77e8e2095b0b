import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { findOnPath, findUp, isExecutable } from "../binaries";
import { ISTIO_CRDS_FILE, ISTIO_TOOLS_DIR, KUBE_TOOLS_DIR } from "../mesh/versions";
import type { Located } from "./locate";

/**
 * The real mesh components the control-plane tests run, as `bash scripts/setup-mesh.sh` installs them:
 * etcd (Debian), kube-apiserver and Istio's binaries (built into .tools/mesh/ at the versions pinned in
 * src/mesh/versions.ts), and kubectl (already on the machine). Each has an environment override.
 */
export const MESH_SETUP_COMMAND = "bash scripts/setup-mesh.sh";

/** A file below the project root (found upwards from the current folder and from this module). */
function inProject(relative: string, executable: boolean): string | undefined {
  for (const start of [process.cwd(), __dirname]) {
    if (executable) {
      const hit = findUp(resolve(start), relative);
      if (hit) return hit;
      continue;
    }
    for (let dir = resolve(start); ; dir = resolve(dir, "..")) {
      if (existsSync(join(dir, relative))) return join(dir, relative);
      if (resolve(dir, "..") === dir) break;
    }
  }
  return undefined;
}

function fromEnv(override: string, env: NodeJS.ProcessEnv): Located | undefined {
  const given = env[override];
  if (!given) return undefined;
  return isExecutable(given) ? { ok: true, path: given } : { ok: false, reason: `${override} points at ${given}, which is not an executable file` };
}

/** etcd: ETCD_BIN, else on PATH, else /usr/bin/etcd (the Debian package etcd-server). */
export function locateEtcd(env: NodeJS.ProcessEnv = process.env): Located {
  const found = fromEnv("ETCD_BIN", env) ?? onPath("etcd", env);
  return found ?? { ok: false, reason: `etcd not found on PATH or in /usr/bin; run \`${MESH_SETUP_COMMAND}\` (installs the Debian package etcd-server) or set ETCD_BIN` };
}

/** kubectl: KUBECTL, else on PATH, else /usr/bin/kubectl. */
export function locateKubectl(env: NodeJS.ProcessEnv = process.env): Located {
  const found = fromEnv("KUBECTL", env) ?? onPath("kubectl", env);
  return found ?? { ok: false, reason: "kubectl not found on PATH or in /usr/bin; install kubectl (1.32 or newer) or set KUBECTL" };
}

/** kube-apiserver: KUBE_APISERVER_BIN, else the pinned build in .tools/mesh/kubernetes-<version>/. */
export function locateKubeApiserver(env: NodeJS.ProcessEnv = process.env): Located {
  return fromEnv("KUBE_APISERVER_BIN", env) ?? built(join(KUBE_TOOLS_DIR, "kube-apiserver"), "KUBE_APISERVER_BIN");
}

/** pilot-discovery (istiod), pilot-agent or istioctl: ISTIO_BIN_DIR/<name>, else the pinned build in .tools/mesh/istio-<version>/. */
export function locateIstioBinary(name: "pilot-discovery" | "pilot-agent" | "istioctl", env: NodeJS.ProcessEnv = process.env): Located {
  if (env.ISTIO_BIN_DIR) {
    const p = join(env.ISTIO_BIN_DIR, name);
    return isExecutable(p) ? { ok: true, path: p } : { ok: false, reason: `ISTIO_BIN_DIR is ${env.ISTIO_BIN_DIR}, which has no executable ${name}` };
  }
  return built(join(ISTIO_TOOLS_DIR, name), "ISTIO_BIN_DIR");
}

/** Istio's CRDs from the pinned commit: ISTIO_CRDS, else .tools/mesh/istio-<version>/crd-all.gen.yaml. */
export function locateIstioCrds(env: NodeJS.ProcessEnv = process.env): Located {
  if (env.ISTIO_CRDS) return existsSync(env.ISTIO_CRDS) ? { ok: true, path: env.ISTIO_CRDS } : { ok: false, reason: `ISTIO_CRDS points at ${env.ISTIO_CRDS}, which does not exist` };
  const found = inProject(ISTIO_CRDS_FILE, false);
  return found ? { ok: true, path: found } : { ok: false, reason: `${ISTIO_CRDS_FILE} is missing; run \`${MESH_SETUP_COMMAND}\` or set ISTIO_CRDS` };
}

/** istio-agent's Envoy bootstrap template from the pinned commit: ISTIO_BOOTSTRAP, else .tools/mesh/istio-<version>/envoy_bootstrap.json. */
export function locateIstioBootstrap(env: NodeJS.ProcessEnv = process.env): Located {
  if (env.ISTIO_BOOTSTRAP) return existsSync(env.ISTIO_BOOTSTRAP) ? { ok: true, path: env.ISTIO_BOOTSTRAP } : { ok: false, reason: `ISTIO_BOOTSTRAP points at ${env.ISTIO_BOOTSTRAP}, which does not exist` };
  const relative = `${ISTIO_TOOLS_DIR}/envoy_bootstrap.json`;
  const found = inProject(relative, false);
  return found ? { ok: true, path: found } : { ok: false, reason: `${relative} is missing; run \`${MESH_SETUP_COMMAND}\` or set ISTIO_BOOTSTRAP` };
}

/** Every component the control plane needs, or the first reason one is missing. */
export function locateControlPlaneTools(env: NodeJS.ProcessEnv = process.env): { ok: true } | { ok: false; reason: string } {
  for (const l of [locateEtcd(env), locateKubeApiserver(env), locateKubectl(env), locateIstioCrds(env), locateIstioBinary("pilot-discovery", env), locateIstioBinary("istioctl", env)]) {
    if (!l.ok) return l;
  }
  return { ok: true };
}

function onPath(name: string, env: NodeJS.ProcessEnv): Located | undefined {
  const found = findOnPath(name, [env.PATH ?? "", "/usr/bin", "/usr/sbin"].join(delimiter));
  return found ? { ok: true, path: found } : undefined;
}

function built(relative: string, override: string): Located {
  const found = inProject(relative, true);
  return found ? { ok: true, path: found } : { ok: false, reason: `${relative} is not built; run \`${MESH_SETUP_COMMAND}\` (needs Go; cold about 11 minutes) or set ${override}` };
}

export interface IstioctlVerdict {
  ok: boolean;
  /** istioctl's output (its reasons when it refuses). */
  output: string;
}

/** `istioctl validate -f <file>`: Istio's own offline validation of the resources in a YAML file. */
export function istioctlValidate(file: string, env: NodeJS.ProcessEnv = process.env): Promise<IstioctlVerdict> {
  const istioctl = locateIstioBinary("istioctl", env);
  if (!istioctl.ok) return Promise.reject(new Error(istioctl.reason));
  return new Promise((resolveRun, reject) => {
    // No cluster: an empty kubeconfig path keeps istioctl from reading the user's.
    const child = spawn(istioctl.path, ["validate", "-f", file], { env: { PATH: env.PATH, HOME: tmpdir(), KUBECONFIG: "/dev/null" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolveRun({ ok: code === 0, output: output.trim() }));
  });
}
