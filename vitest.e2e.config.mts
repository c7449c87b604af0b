import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        // The fault tests have their own command (npm run test:faults, vitest.faults.config.mts).
        include: ["test-e2e/**/*.e2e.test.ts"],
        exclude: ["test-e2e/faults.e2e.test.ts"],
        pool: "forks",
        // One sandbox for the whole run: files run one after another.
        fileParallelism: false,
        testTimeout: 10 * 60_000,
        hookTimeout: 60 * 60_000,
    },
});
