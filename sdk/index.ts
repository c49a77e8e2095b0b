// Package entry for AssemblyScript (asc resolves "proxy-wasm-as" to this file).
export * from "./assembly/index";
