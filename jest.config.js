/** Unit tests (emulator, SDK, filters) and e2e tests (real Envoy) share one runner; `make e2e` selects e2e/. */
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testMatch: ["<rootDir>/src/**/*.test.ts", "<rootDir>/sdk/tests/**/*.test.ts", "<rootDir>/filters/*/tests/**/*.test.ts", "<rootDir>/e2e/**/*.test.ts", "<rootDir>/templates/*/tests/**/*.test.ts"],
  // Build outputs are ignored; src/build/ is the build pipeline's source (and its tests), not an output.
  testPathIgnorePatterns: ["/node_modules/", "^(?!.*/src/build/).*/build/", "/.tools/", "<rootDir>/templates/stock/"],
  // Filter and template tests import the toolkit as a generated project would ("pwas/emulator").
  moduleNameMapper: { "^pwas/(emulator|envoy|build)$": "<rootDir>/src/$1" },
  // `make pack` stages copies of the filters and templates under dist/: they are not modules of this repo.
  modulePathIgnorePatterns: ["<rootDir>/dist/", "<rootDir>/.tools/"],
  testTimeout: 60000,
};
