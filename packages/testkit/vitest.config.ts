import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["source"] },
  test: {
    name: "testkit",
    include: ["test/**/*.test.ts"],
    globalSetup: ["./vitest.globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
