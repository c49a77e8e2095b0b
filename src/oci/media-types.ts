/**
 * The media types and annotation keys of the image formats istio-agent accepts for a Wasm module, and of
 * the OCI image layout. One place for each name: everything under src/oci imports them from here.
 */

/** Manifest documents. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

/** Config blobs. */
export const OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json";
export const DOCKER_IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json";

/** Layers of the compat variant: a tar.gz holding plugin.wasm (OCI or Docker media type). */
export const OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const DOCKER_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/** The two layers of the Wasm artifact ("oci") variant: the runtime config JSON and the raw module. */
export const WASM_CONFIG = "application/vnd.module.wasm.config.v1+json";
export const WASM_CONTENT_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm";

/** The file the compat variant's layer holds; istio-agent takes the first tar entry with this base name. */
export const COMPAT_WASM_FILE = "plugin.wasm";
/** Titles of the artifact variant's layers. */
export const ARTIFACT_CONFIG_TITLE = "runtime-config.json";
export const ARTIFACT_WASM_TITLE = "filter.wasm";

/** Annotations. */
export const ANNOTATION_VARIANT = "module.wasm.image/variant";
export const ANNOTATION_TITLE = "org.opencontainers.image.title";
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
export const ANNOTATION_RUNTIME_TYPE = "module.wasm.runtime/type";
export const ANNOTATION_ABI_VERSION = "module.wasm.runtime/abi_version";

/** `type` of the artifact variant's runtime config for Envoy. */
export const RUNTIME_TYPE_ENVOY = "envoy_proxy";
