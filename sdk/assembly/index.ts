// proxy-wasm-as: the public API. A filter imports from here and re-exports "proxy-wasm-as/exports"
// from its entry file. See sdk/README.md for a walkthrough.

import "./runtime";
import { registerRootFactory, RootFactory, setCollectInterval } from "./internal/dispatch";

export { PAUSE_AND_WATERMARK } from "./abi/enums";
export { WasmResult, LogLevel, Action, BufferType, MapType, PeerType, StreamType, MetricType, GrpcStatus } from "./abi/enums";
export { Context, RootContext, HttpContext, TcpContext } from "./context";
export { Header, isHeaderName, isHeaderValue, isHeaderValueBytes, asciiLower } from "./header";
export { normalizePath, NormalizedPath, PathNormalization } from "./path";
export { RouteRules, RouteMatch, ROUTE_RULES_FIELD, mergePatch } from "./routes";
export {
  HeaderMap, requestHeaders, requestTrailers, responseHeaders, responseTrailers,
  httpCallResponseHeaders, httpCallResponseTrailers, grpcInitialMetadata, grpcTrailingMetadata,
} from "./headers";
export {
  Buffer, requestBody, responseBody, downstreamData, upstreamData, httpCallResponseBody,
  grpcReceiveBuffer, vmConfiguration, pluginConfiguration, foreignFunctionArguments,
} from "./buffer";
export { sendLocalResponse, sendHttpResponse, sendGrpcError } from "./reply";
export {
  HttpCallHandler, GrpcHandler, CallResult, GrpcStream, httpCall, grpcCall, grpcStream,
  cancelGrpcCall, grpcStatusMessage, lastGrpcStreamResult,
} from "./callouts";
export {
  SharedValue, SharedDataUpdater, getSharedData, getSharedDataBytes, setSharedData, setSharedDataBytes,
  atomicUpdate, lastSharedDataResult, registerSharedQueue, resolveSharedQueue, enqueueSharedQueue,
  dequeueSharedQueue, lastQueueResult,
} from "./shared";
export { Counter, Gauge, Histogram } from "./metrics";
export { getProperty, getPropertyString, getPropertyInt, setProperty, attributes, lastPropertyResult, propertyPath, getPropertyByPath } from "./properties";
export { callForeignFunction, clearRouteCache, lastForeignFunctionResult } from "./foreign";
export {
  hostHas, setFilterState, declareProperty, verifySignature, sign, compress, uncompress, LifeSpan, PropertyType,
  SignatureResult,
} from "./envoy";
export { Expression, lastExpressionResult } from "./cel";
export { log } from "./log";
export { nowNanos, nowMillis, randomU32, randomBelow, randomFloat } from "./time";
export { JsonValue, JsonKind, JsonResult, parseJson, parseJsonString } from "./json";
export { ConfigErrors, ConfigObject, ConfigArray, readPluginConfig, readVmConfig, parseConfig, parseDurationNanos } from "./config";
export { decodeUtf8, encodeUtf8, isValidUtf8, bytesEqualString } from "./utf8";
export {
  StringMatcher, StringMatchKind, HeaderMatcher, HeaderMatchKind, HeaderMatchers, HeaderView, lastCompileError,
  parseInteger, parseIntegerUnsafe, parsedOk,
} from "./matchers";
export { Regex, RegexResult, RegexError, RegexErrorCode } from "./regex";

/**
 * Registers the root context factory for `rootId` (the plugin's root_id; "" matches any root_id with no
 * factory of its own). Call it at the top level of the filter's entry file.
 */
export function registerRootContext(factory: RootFactory, rootId: string = ""): void {
  registerRootFactory(factory, rootId);
}

/**
 * Also collects garbage after every `streams` finished streams (0, the default, turns this rule off).
 * Garbage is collected anyway once the allocation budget is spent and after each onConfigure, which bounds
 * memory whatever a filter allocates; a filter rarely needs this. See docs/memory.md.
 */
export function setGarbageCollectionInterval(streams: i32): void { setCollectInterval(streams); }

