/** Compile filters: the build pipeline behind `pwas build` and `pwas test`. */
export { buildFilter, loadFilterProject, defaultOutFile, type BuildOptions, type BuildResult, type FilterProject } from "./build";
export { compile, ascArgs, type CompileOptions, type CompileResult } from "./compile";
export { testFilter } from "./test";
