import { defineConfig } from "vitest/config";

/**
 * `npm run test:aws`: tier 2, emulated AWS. The trigger handler, the CLI's
 * AWS calls and the dynamic provider against a moto server on loopback
 * (test-aws/motoServer.ts), checked with real SDK calls. moto comes from
 * `bash test-aws/install-moto.sh`; asked for by name, these tests fail
 * without it (MLOPS_REQUIRE_MOTO), naming that command, instead of skipping.
 */
export default defineConfig({
    test: {
        include: ["test/**/*.moto.test.ts"],
        // Each file starts its own moto and may install Pulumi's process-global mock runtime.
        pool: "forks",
        testTimeout: 60_000,
        // On Node < 22 the AWS SDK warns once per process that its 2027 releases need Node 22 (docs say so):
        // not a test result. mlops's bin silences it itself, and test/cliConventions.test.ts checks that.
        env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", MLOPS_REQUIRE_MOTO: "1" },
    },
});
