import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describeRequiring } from "../requirements";
import { locateIstioCrds } from "../services/meshtools";

const crds = locateIstioCrds();
const describeWithCrds = describeRequiring(crds.ok ? undefined : `generated schema drift check: ${crds.reason}`);

describeWithCrds("generated schemas", () => {
  test("match what the pinned Istio commit's CRDs give (node src/mesh/generate-schema.mjs --check)", () => {
    const script = join(__dirname, "generate-schema.mjs");
    const args = [script, "--check", ...(crds.ok ? ["--crd", crds.path] : [])];
    const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/generated schemas match/);
  });
});
