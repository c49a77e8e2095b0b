// The host's enum values must be the SDK's: read sdk/assembly/abi/enums.ts and compare.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as abi from "./abi";

const sdkEnums = readFileSync(join(__dirname, "..", "..", "sdk", "assembly", "abi", "enums.ts"), "utf8");

function parseEnum(name: string): Record<string, number> {
  const m = new RegExp(`export enum ${name} \\{([^}]*)\\}`).exec(sdkEnums);
  if (!m) throw new Error(`enum ${name} not found in the SDK`);
  const out: Record<string, number> = {};
  for (const line of m[1].split("\n")) {
    const e = /^\s*(\w+)\s*=\s*(\d+)/.exec(line);
    if (e) out[e[1]] = Number(e[2]);
  }
  return out;
}

const names = ["WasmResult", "LogLevel", "Action", "BufferType", "BufferFlags", "MapType", "PeerType", "StreamType", "MetricType", "GrpcStatus"] as const;

describe("ABI enums agree with the SDK", () => {
  test.each(names)("%s", (name) => {
    const host = abi[name] as unknown as Record<string, number | string>;
    const numeric = Object.fromEntries(Object.entries(host).filter(([, v]) => typeof v === "number"));
    expect(numeric).toEqual(parseEnum(name));
  });
});
