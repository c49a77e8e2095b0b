/**
 * Tests that need a tool from outside npm (Go, redis-server, the ratelimit service, docker-registry) say
 * so through this one function. On a developer's machine a missing tool skips the suite with the printed
 * reason. Under CI (CI=true), where `make setup` has installed everything, a missing tool is an install bug,
 * so the suite fails with the reason instead of skipping.
 */
export function describeRequiring(missingReason: string | undefined): jest.Describe {
  if (missingReason === undefined) return describe;
  if (process.env.CI) {
    return ((name: string) =>
      describe(name, () => {
        test("has the tools it needs (make setup installs them)", () => {
          throw new Error(missingReason);
        });
      })) as unknown as jest.Describe;
  }
  console.log(`skipped: ${missingReason}`);
  return describe.skip;
}
