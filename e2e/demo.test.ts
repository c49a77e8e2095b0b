// `make demo` end to end: the tour must find every step as expected.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = join(__dirname, "..");

test("the demo tour: auth, routing, rate limit and fault all behave in one Envoy", async () => {
  await run(process.execPath, [join(ROOT, "scripts", "bundle-cli.mjs")], { cwd: ROOT });
  const { stdout } = await run(process.execPath, [join(ROOT, "dist", "demo.js")], { cwd: ROOT, maxBuffer: 8 << 20 }).catch((e) => {
    throw new Error(`demo failed:\n${e.stdout}\n${e.stderr}`);
  });
  const steps = stdout.split("\n").filter((l) => /^\s+[✓✗] /.test(l));
  expect(steps.length).toBeGreaterThanOrEqual(9);
  expect(steps.filter((l) => l.includes("✗"))).toEqual([]);
  expect(stdout).toMatch(/(\d+) of \1 steps as expected/);
}, 240_000);
