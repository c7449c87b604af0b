import { defineConfig } from "vitest/config";

/**
 * `npm test` (and `npm run test:unit`): tier 1, the unit tests. The tests
 * against moto (test/*.moto.test.ts, tier 2) have their own command,
 * `npm run test:aws` (vitest.aws.config.mts).
 *
 * Two projects, both in forked workers:
 * - "isolated": each file in a fresh worker. Pulumi's mock runtime (and the
 *   config store, the stack resource) is process-global, and some files stub
 *   modules, env or clocks: a file that does any of that, or is not listed
 *   below, runs here.
 * - "shared": the files listed in SHARED, which touch none of that (pure
 *   functions, the CLI's logic over fakes, and child processes of their own),
 *   run one after another in the same worker, so that what they import (zod,
 *   the AWS SDK, the Automation API) is loaded once per worker, not per file.
 *   A file joins only after a check that it sets no process-global state.
 */
const SHARED = [
    "test/bench.test.ts",
    "test/catalog.test.ts",
    "test/decisions.test.ts",
    "test/deploymentPolicy.test.ts",
    "test/endpointVariants.test.ts",
    "test/handleAlarmEvent.test.ts",
    "test/kubernetesFastSwitch.test.ts",
    "test/kubernetesSwitch.test.ts",
    "test/ledger.test.ts",
    "test/mutationReport.test.ts",
    "test/pinChange.test.ts",
    "test/policyRules.test.ts",
    "test/programEntry.test.ts",
    "test/restoreBudget.test.ts",
    "test/sagemakerFastSwitch.test.ts",
    "test/servingRecord.test.ts",
    "test/stackFileEdit.test.ts",
    "test/stackInfo.test.ts",
    "test/stackLock.test.ts",
    "test/stackOutput.test.ts",
    "test/terminalText.test.ts",
    "test/userProgram.test.ts",
];
const MOTO = "test/**/*.moto.test.ts";

export default defineConfig({
    test: {
        pool: "forks",
        // Vitest's default is one worker fewer than the CPUs: one on a two-core
        // machine, which then idles while a test waits on the child processes
        // (mlops, tsx, node) that many tests start. Two keep both cores busy.
        maxWorkers: 2,
        testTimeout: 60_000,
        // On Node < 22 the AWS SDK warns once per process that its 2027 releases need Node 22 (docs say so):
        // not a test result. mlops's bin silences it itself, and test/cliConventions.test.ts checks that.
        env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
        // A beforeAll that runs a program once for the tests that read its result gets as long as a test.
        hookTimeout: 60_000,
        projects: [
            {
                extends: true,
                test: { name: "isolated", include: ["test/**/*.test.ts"], exclude: [MOTO, ...SHARED], isolate: true },
            },
            {
                extends: true,
                test: { name: "shared", include: SHARED, isolate: false },
            },
        ],
    },
});
