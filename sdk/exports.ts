// The ABI exports Envoy calls; a filter entry file re-exports them: export * from "proxy-wasm-as/exports".
export * from "./assembly/abi/exports";
