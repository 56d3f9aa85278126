/**
 * The test projects, one per package with tests. The root `vitest.config.ts` takes its `projects` from this list
 * (vitest 3.2 reads a workspace file only when the root config has no `projects`, and then prints a deprecation).
 */
export default ["packages/testkit", "packages/multidb", "packages/demo", "examples", "packages/chaos"]
