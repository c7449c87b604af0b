import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test-e2e/**/*.e2e.test.ts"],
        pool: "forks",
        // One sandbox for the whole run: files run one after another.
        fileParallelism: false,
        testTimeout: 10 * 60_000,
        hookTimeout: 60 * 60_000,
    },
});
