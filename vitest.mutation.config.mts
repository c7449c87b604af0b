import { defineConfig } from "vitest/config";

/**
 * The tests `npm run test:mutation` runs against each mutant (Stryker's
 * vitest runner, stryker.config.mjs): those of the modules that decide and
 * verify, and (but for one) nothing that runs a Pulumi program under the
 * mock runtime. Those are slow, and Stryker's runner puts every file in one
 * thread, where the runtime's process-global state would leak from file to
 * file: test/notifySecrets.test.ts runs one program under it, and no other
 * file here touches the runtime, so there is nothing for it to leak into.
 */
export default defineConfig({
    test: {
        include: [
            "test/catalog.test.ts",
            "test/decisions.test.ts",
            "test/ledger.test.ts",
            "test/servingRecord.test.ts",
            "test/stackFileEdit.test.ts",
            "test/databaseSnapshots.test.ts",
            "test/restoreBudget.test.ts",
            "test/verify.test.ts",
            "test/triggerHandler.moto.test.ts",
            "test/handleAlarmEvent.test.ts",
            "test/kubernetesSwitch.test.ts",
            "test/kubernetesFastSwitch.test.ts",
            "test/endpointVariants.test.ts",
            "test/sagemakerFastSwitch.test.ts",
            "test/sagemakerHotStandby.moto.test.ts",
            "test/stackFileWrite.test.ts",
            "test/terminalText.test.ts",
            "test/notifySecrets.test.ts",
        ],
        testTimeout: 60_000,
        // Without moto the moto tests would skip, and the mutants only they
        // reach would read as not covered: fail instead, as CI does.
        env: { CI: "true" },
    },
});
