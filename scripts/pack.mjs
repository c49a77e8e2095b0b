// `make pack`: the three publishable packages as npm tarballs in dist/packages (or the folder given as the
// first argument), each checked for what must not ship. Prints one JSON line per tarball.
//   proxy-wasm-as          sdk/            the AssemblyScript SDK, as it is in the tree
//   pwas                   ./              the CLI and libraries; its prepack bundles dist/ and dist/types
//   create-proxy-wasm-as   create/         staged in dist/stage: the scaffold bundled into index.js, and
//                                          the templates and stock-filter sources it copies from
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = resolve(process.argv[2] ?? join(ROOT, "dist", "packages"));
const STAGE = join(ROOT, "dist", "stage", "create-proxy-wasm-as");
// What the scaffold can copy from, read from the tree (src/scaffold/new.test.ts checks that TEMPLATES names
// exactly these): every stock filter (a folder with assembly/index.ts), and every template folder that is a
// project (has a package.json).
const foldersWith = (dir, file) => readdirSync(dir).filter((d) => existsSync(join(dir, d, file)));
const STOCK = foldersWith(join(ROOT, "filters"), join("assembly", "index.ts"));
const PROJECT_TEMPLATES = foldersWith(join(ROOT, "templates"), "package.json");

const version = (dir) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;

// The three are released together: a generated project depends on ^<version> of the other two.
const versions = { pwas: version(ROOT), "proxy-wasm-as": version(join(ROOT, "sdk")), "create-proxy-wasm-as": version(join(ROOT, "create")) };
if (new Set(Object.values(versions)).size !== 1) {
  throw new Error(`the three packages must share one version; found ${JSON.stringify(versions)}`);
}

rmSync(STAGE, { recursive: true, force: true });
mkdirSync(STAGE, { recursive: true });
for (const f of ["package.json", "README.md", "LICENSE"]) cpSync(join(ROOT, "create", f), join(STAGE, f));
const noBuild = (src) => !/[\\/](build|node_modules)$/.test(src);
for (const t of [...PROJECT_TEMPLATES, "common"]) cpSync(join(ROOT, "templates", t), join(STAGE, "templates", t), { recursive: true, filter: noBuild });
cpSync(join(ROOT, "templates", "stock", "tests"), join(STAGE, "templates", "stock", "tests"), { recursive: true });
for (const f of STOCK) {
  cpSync(join(ROOT, "filters", f, "assembly"), join(STAGE, "filters", f, "assembly"), { recursive: true, filter: noBuild });
  cpSync(join(ROOT, "filters", f, "README.md"), join(STAGE, "filters", f, "README.md"));
  // A stock filter's package.json carries facts about it ("pwas": {"failOpen": "forbidden"}) that go with a copy.
  if (existsSync(join(ROOT, "filters", f, "package.json"))) cpSync(join(ROOT, "filters", f, "package.json"), join(STAGE, "filters", f, "package.json"));
}
await build({
  entryPoints: [join(ROOT, "src", "scaffold", "create-bin.ts")],
  outfile: join(STAGE, "index.js"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  logLevel: "warning",
});

mkdirSync(OUT, { recursive: true });
const results = [];
for (const dir of [join(ROOT, "sdk"), ROOT, STAGE]) {
  const json = execFileSync("npm", ["pack", "--json", "--pack-destination", OUT, "--loglevel=error"], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const [info] = JSON.parse(json.slice(json.indexOf("[")));
  check(info);
  results.push({ name: info.name, version: info.version, tarball: join(OUT, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.entryCount });
}
for (const r of results) console.log(JSON.stringify(r));

/** What must not ship: the toolkit's own tests, build outputs, and anything naming this machine's paths. */
function check(info) {
  const problems = [];
  for (const { path } of info.files) {
    // Tests under templates/ are the generated projects' own tests; everything else named *.test.* is ours.
    if (/\.test\.ts$/.test(path) && !path.startsWith("templates/")) problems.push(`${path}: a test`);
    if (/^build\/|^(templates|filters)\/.*\/build\//.test(path) || /\.wasm$|\.map$/.test(path)) problems.push(`${path}: a build output`);
  }
  const tarball = join(OUT, info.filename);
  const listing = execFileSync("tar", ["-xzOf", tarball], { maxBuffer: 256 << 20 });
  for (const needle of [ROOT]) {
    if (listing.includes(needle)) problems.push(`contains the absolute path ${needle}`);
  }
  if (problems.length > 0) throw new Error(`${info.name}: ${info.filename} must not ship:\n  ${problems.join("\n  ")}`);
}
