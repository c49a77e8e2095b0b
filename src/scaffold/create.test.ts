// create-proxy-wasm-as's argument handling and questions, on the real scaffold (no npm install: the
// installing runs are e2e/packages.test.ts, from the published packages).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type CreateIo } from "./create";
import { TEMPLATES } from "./new";

let work: string;
let cwd: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "pwas-create-"));
  cwd = process.cwd();
  process.chdir(work);
});
afterEach(() => {
  process.chdir(cwd);
  rmSync(work, { recursive: true, force: true });
});

/** An io that records what was printed and answers questions from `answers` in order. */
function recorder(answers?: string[]): CreateIo & { out: jest.Mock; lines: string[]; errors: string[]; questions: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  const questions: string[] = [];
  const io = {
    lines, errors, questions,
    out: jest.fn((l: string) => void lines.push(l)),
    err: (l: string) => void errors.push(l),
    ask: answers ? async (q: string) => (questions.push(q), answers.shift() ?? "") : undefined,
  };
  return io;
}

const pkg = (dir: string) => JSON.parse(readFileSync(join(work, dir, "package.json"), "utf8"));

test("flags only (no terminal): --template picks the template, the package name is the folder's", async () => {
  const io = recorder();
  expect(await create(["canary", "--template", "routing", "--no-install"], io)).toBe(0);
  expect(pkg("canary").name).toBe("canary");
  expect(pkg("canary").description).toMatch(/from the routing template/);
  expect(existsSync(join(work, "canary", "assembly", "index.ts"))).toBe(true);
  expect(existsSync(join(work, "canary", ".github", "workflows", "ci.yml"))).toBe(true);
  expect(io.lines.join("\n")).toMatch(/created canary from the routing template/);
});

test("no terminal and no --template: the default template, said so", async () => {
  const io = recorder();
  expect(await create(["plain", "--no-install"], io)).toBe(0);
  expect(io.lines[0]).toBe("template: http-headers (the default; --template chooses another)");
  expect(pkg("plain").description).toMatch(/from the http-headers template/);
});

test("on a terminal: asks for the folder and the template, by number or by name, again after a wrong answer", async () => {
  const names = Object.keys(TEMPLATES);
  const io = recorder(["asked-filter", "99", "tcp"]);
  expect(await create(["--no-install"], io)).toBe(0);
  expect(io.questions[0]).toBe("Project folder (my-filter): ");
  expect(io.questions.slice(1)).toEqual([`Template [1-${names.length}, default 1 (http-headers)]: `, `Template [1-${names.length}, default 1 (http-headers)]: `]);
  expect(io.lines).toContain(`"99" is not one of the templates; give its number or its name`);
  expect(pkg("asked-filter").description).toMatch(/from the tcp template/);

  const byNumber = recorder([String(names.indexOf("auth") + 1)]);
  expect(await create(["numbered", "--no-install"], byNumber)).toBe(0);
  expect(pkg("numbered").description).toMatch(/from the auth template/);
});

test("refuses an existing non-empty folder, an invalid package name and an unknown template with a sentence", async () => {
  mkdirSync(join(work, "taken"));
  writeFileSync(join(work, "taken", "notes.txt"), "mine");
  const cases: [string[], RegExp][] = [
    [["taken", "--no-install"], /taken already exists and is not empty: choose another name, or empty or remove that folder/],
    [["My_Filter", "--no-install"], /"My_Filter" is not a valid package name for a filter: use lower-case letters, digits and dashes/],
    [["ok", "--template", "nope", "--no-install"], /unknown template "nope"; choose one of: http-headers, http-body, tcp/],
  ];
  for (const [args, message] of cases) {
    const io = recorder();
    expect(await create(args, io)).toBe(1);
    expect(io.errors.join("\n")).toMatch(message);
  }
  expect(readFileSync(join(work, "taken", "notes.txt"), "utf8")).toBe("mine");
  expect(existsSync(join(work, "ok"))).toBe(false);
  const noFolder = recorder();
  expect(await create([], noFolder)).toBe(2);
  expect(noFolder.errors[0]).toMatch(/give the folder to create, e.g. npm create proxy-wasm-as@latest my-filter/);
});

test("an empty existing folder is used", async () => {
  mkdirSync(join(work, "empty"));
  expect(await create(["empty", "--template", "fault", "--no-install"], recorder())).toBe(0);
  expect(pkg("empty").name).toBe("empty");
});
