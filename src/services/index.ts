/** Test services on loopback: redis-server and the envoyproxy/ratelimit service, started and always stopped. */
export { freePort, ServiceProcess } from "./child";
export { locateRatelimitService, locateRedisServer, RATELIMIT_LOCAL_BIN, SETUP_COMMAND, type Located } from "./locate";
export { startRedis, type RedisOptions, type StartedRedis } from "./redis";
export {
  startRatelimitService, type RatelimitDescriptorConfig, type RatelimitDomainConfig, type RatelimitServiceOptions,
  type StartedRatelimitService,
} from "./ratelimit";
export { servicesHarness, type ServicesHarness } from "./testing";
export { locateDockerRegistry, locateHtpasswd, locateSkopeo, REGISTRY_SETUP_COMMAND, startRegistry, type RegistryOptions, type StartedRegistry } from "./registry";
export { startControlPlane, type ControlPlaneOptions, type KubectlResult, type StartedControlPlane, type StartedIstiod } from "./controlplane";
export { ISTIO_DATA_DIR, startSidecar, type SidecarOptions, type StartedSidecar } from "./sidecar";
export {
  istioctlValidate, locateControlPlaneTools, locateEtcd, locateIstioBinary, locateIstioBootstrap, locateIstioCrds, locateKubeApiserver, locateKubectl,
  MESH_SETUP_COMMAND, type IstioctlVerdict,
} from "./meshtools";
