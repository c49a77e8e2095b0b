// `pwas new --link` for every template: generate into a temp folder (npm install links the SDK and this
// checkout), then `pwas test` there runs the generated tests, emulator and real Envoy. The same projects
// built from the published packages, outside this checkout, are e2e/packages.test.ts.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { TEMPLATES } from "../src/scaffold/new";

const run = promisify(execFile);
const ROOT = join(__dirname, "..");
const CLI = join(ROOT, "dist", "pwas.js");
let work: string;

beforeAll(async () => {
  await run(process.execPath, [join(ROOT, "scripts", "bundle-cli.mjs")], { cwd: ROOT });
  work = mkdtempSync(join(tmpdir(), "pwas-new-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test.each(Object.keys(TEMPLATES))("template %s: generated project builds and passes its tests", async (template) => {
  const dir = join(work, `my-${template}`);
  await run(process.execPath, [CLI, "new", `my-${template}`, "--template", template, "--dir", dir, "--link"], { cwd: work });
  for (const f of ["package.json", "asconfig.json", "README.md", "assembly/index.ts"]) expect(existsSync(join(dir, f))).toBe(true);
  expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name).toBe(`my-${template}`);
  const { stdout, stderr } = await run(process.execPath, [CLI, "test", "."], { cwd: dir, maxBuffer: 16 << 20 }).catch((e) => {
    throw new Error(`pwas test failed for ${template}:\n${e.stdout}\n${e.stderr}`);
  });
  const summary = `${stdout}\n${stderr}`;
  expect(summary).toMatch(/Tests:\s+\d+ passed, \d+ total/);
  expect(summary).not.toMatch(/failed/);
  expect(existsSync(join(dir, "build", `my-${template}.wasm`))).toBe(true);
}, 180_000);

test("refuses a bad name, an unknown template and a non-empty folder with clear messages", async () => {
  const fail = (args: string[]) => run(process.execPath, [CLI, "new", ...args], { cwd: work }).then(() => "", (e) => e.stderr as string);
  expect(await fail(["Bad_Name", "--no-install"])).toMatch(/E_USAGE "Bad_Name" is not a valid package name for a filter/);
  expect(await fail(["x", "--template", "nope", "--no-install"])).toMatch(/E_USAGE unknown template "nope"; choose one of: http-headers/);
  const taken = join(work, "taken");
  mkdirSync(taken, { recursive: true });
  writeFileSync(join(taken, "notes.txt"), "mine");
  expect(await fail(["again", "--dir", taken, "--no-install"])).toMatch(/already exists and is not empty/);
  expect(readFileSync(join(taken, "notes.txt"), "utf8")).toBe("mine");
});
