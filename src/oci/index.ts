/** OCI images of Wasm modules: packaging (compat and artifact formats), image layouts, a registry client, push and pull. */
export * from "./media-types";
export { canonicalJson, digestOf, sha256Hex, type Descriptor } from "./digest";
export { gunzip, gzipDeterministic, readTar, writeTar, type ReadTarEntry, type TarEntry } from "./archive";
export {
  DEFAULT_FORMAT, IMAGE_FORMATS, looksLikeWasm, packageModule, parseFormat, parseManifest, proxyWasmAbiVersion, referencedBlobs,
  type Image, type ImageFormat, type Index, type Manifest, type PackageOptions,
} from "./image";
export { DEFAULT_TAG, isLayoutDir, layoutEntries, layoutTar, readLayout, writeLayout } from "./layout";
export { DEFAULT_REFERENCE_TAG, formatReference, isLoopbackHost, parseReference, type ImageReference } from "./reference";
export { dockerConfigPath, ENV_PASSWORD, ENV_TOKEN, ENV_USERNAME, resolveCredentials, type CredentialFlags, type Credentials } from "./credentials";
export { checkTransport, parseChallenge, RegistryClient, type ClientOptions } from "./client";
export { pushImage, type PushResult, type RegistryOptions } from "./push";
export { extractModule, pullModule, type PulledFormat, type PullOptions, type PullResult } from "./pull";
export { loadImageSource, type ImageSource } from "./source";
