#!/usr/bin/env node
// The create-proxy-wasm-as bin (scripts/pack.mjs bundles it into the package's index.js).
import { main } from "./create";

void main();
