import { execFile } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { rawConfigFromStackFile } from "../config/sources";

const ROOT = path.resolve(__dirname, "..");
const FIXTURE = path.join(ROOT, "test", "fixtures", "runIndexUnderMocks.ts");

/** Encode raw config the way the Pulumi engine does in PULUMI_CONFIG: strings as they are, everything else as JSON. */
function engineConfig(raw: Record<string, unknown>): string {
    return JSON.stringify(
        Object.fromEntries(Object.entries(raw).map(([key, value]) => [`mlops:${key}`, typeof value === "string" ? value : JSON.stringify(value)])),
    );
}

/** Run index.ts in its own process (the mock runtime and the config store are process-global). */
function runIndex(pulumiConfig: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
        execFile(
            process.execPath,
            ["--require", require.resolve("tsx/cjs"), FIXTURE],
            { cwd: ROOT, env: { ...process.env, PULUMI_CONFIG: pulumiConfig }, timeout: 60_000 },
            (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(JSON.parse(stdout) as Record<string, unknown>)),
        );
    });
}

describe("index.ts, the program the engine runs", () => {
    it("reads the example stack's config as the engine passes it and declares the warm versions", async () => {
        const result = await runIndex(engineConfig(rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml")));
        expect(result).toEqual({
            names: [
                "fraud-detector-config-2",
                "fraud-detector-config-3",
                "fraud-detector-endpoint",
                "fraud-detector-model-2",
                "fraud-detector-model-3",
                "fraud-detector-role",
                "fraud-detector-role-policy",
            ],
            pinned: "3",
            warmVersions: ["2", "3"],
        });
    }, 60_000);

    it("stops with a RunError naming every bad key, and declares nothing", async () => {
        const result = await runIndex(JSON.stringify({ "mlops:target": "sagemaker", "mlops:pinned": "3", "mlops:warm": "9" }));
        expect(result.error).toBe("RunError");
        expect(result.names).toEqual([]);
        expect(result.message).toContain("mlops:model: required");
        expect(result.message).toContain("mlops:warm: warm is 0..5");
        expect(result.message).toContain("mlops:sagemaker: required when mlops:target is 'sagemaker'");
    }, 60_000);
});
