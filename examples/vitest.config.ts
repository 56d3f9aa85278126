import { defineProject } from "vitest/config"
import { alias } from "../vitest.shared.js"

export default defineProject({
  resolve: { alias },
  test: {
    name: "examples",
    include: ["test/**/*.test.ts"],
    globalSetup: ["../packages/testkit/vitest.globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
