// pwas new's own failure paths (the installing runs are e2e/new.test.ts and e2e/packages.test.ts).
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PwasError } from "../errors";
import { newFilter, templateSource, TEMPLATES } from "./new";

let work: string;
beforeEach(() => void (work = mkdtempSync(join(tmpdir(), "pwas-new-unit-"))));
afterEach(() => rmSync(work, { recursive: true, force: true }));

test("pwas new: Ctrl-C stops the npm install (the abort reaches npm, not a PwasError about npm)", async () => {
  const controller = new AbortController();
  const dir = join(work, "stopped");
  const pending = newFilter({ name: "stopped", dir, signal: controller.signal, progress: (s) => s.startsWith("npm install") && controller.abort() });
  await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  expect(existsSync(join(dir, "package.json"))).toBe(true);
});

test("pwas new: no templates above the code is a PwasError naming the folder searched from", () => {
  let caught: unknown;
  try {
    templateSource(tmpdir());
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(PwasError);
  expect((caught as PwasError).code).toBe("E_NOT_FOUND");
  expect((caught as PwasError).message).toContain(tmpdir());
});

test("pwas new: TEMPLATES names every project folder under templates/ and every stock filter, as make pack ships them", () => {
  const root = templateSource();
  const foldersWith = (dir: string, file: string) => readdirSync(join(root, dir)).filter((d) => existsSync(join(root, dir, d, file))).sort();
  const of = (kind: string) => Object.keys(TEMPLATES).filter((t) => TEMPLATES[t].kind === kind).sort();
  expect(of("project")).toEqual(foldersWith("templates", "package.json"));
  expect(of("stock")).toEqual(foldersWith("filters", join("assembly", "index.ts")));
});
