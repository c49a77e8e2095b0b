/**
 * The one place the mesh components the tests run are pinned: Istio (istiod, istio-agent, istioctl and its
 * CRDs) and Kubernetes (kube-apiserver). `scripts/setup-mesh.sh` reads these lines, builds the binaries from
 * the Go module proxy into `.tools/mesh/`, and copies the CRDs from the same Istio commit, so bumping a
 * component is a change here (and, for Kubernetes, in tools/kube/go.mod), then `make setup`.
 */

/** istio.io/istio as the Go module proxy serves it: a pseudo-version naming one commit of istio/istio. */
export const ISTIO_MODULE_VERSION = "v0.0.0-20260827124520-eed52ebb66ad";

/**
 * The Istio release that commit belongs to. It is on the development line after 1.30 (its compatibility
 * profiles go up to 1.30 and list "1.31 behavioral changes"; it depends on istio.io/api v1.31.0-rc.0+),
 * so it is Istio 1.31 before its release: TrafficExtension is there, as in 1.30.
 */
export const ISTIO_RELEASE = "1.31-dev";

/** k8s.io/kubernetes, whose cmd/kube-apiserver tools/kube builds (its go.mod requires the same version). */
export const KUBERNETES_VERSION = "v1.37.2";

/** Where setup-mesh.sh puts each component, relative to the project root. */
export const ISTIO_TOOLS_DIR = `.tools/mesh/istio-${ISTIO_MODULE_VERSION}`;
export const KUBE_TOOLS_DIR = `.tools/mesh/kubernetes-${KUBERNETES_VERSION}`;

/** Istio's CRDs from the pinned commit (manifests/charts/base/files/crd-all.gen.yaml), copied by setup-mesh.sh. */
export const ISTIO_CRDS_FILE = `${ISTIO_TOOLS_DIR}/crd-all.gen.yaml`;

/**
 * sigs.k8s.io/gateway-api, the version the pinned Istio commit's go.mod requires (setup-mesh.sh checks they
 * agree). Its standard-channel CRDs (config/crd/standard/, in the order of config/crd/kustomization.yaml)
 * are copied into one file for the waypoint tests, which need Gateway objects.
 */
export const GATEWAY_API_VERSION = "v1.6.0";

/** The Gateway API CRDs (standard channel) of that version, copied by setup-mesh.sh. */
export const GATEWAY_API_CRDS_FILE = `${ISTIO_TOOLS_DIR}/gateway-api-standard.yaml`;
