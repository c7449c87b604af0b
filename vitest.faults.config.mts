import { defineConfig } from "vitest/config";

/**
 * `npm run test:faults`: the fault scenarios on the sandbox's real engine,
 * and the alarm trigger's against moto, then a summary of the faults
 * injected and what was lost (test-e2e/faultSummary.ts).
 */
export default defineConfig({
    test: {
        include: ["test-e2e/faults.e2e.test.ts", "test/triggerHandler.moto.test.ts"],
        pool: "forks",
        fileParallelism: false,
        testTimeout: 10 * 60_000,
        hookTimeout: 60 * 60_000,
        reporters: ["default", "./test-e2e/faultSummary.ts"],
    },
});
