/**
 * Child-process entry of benchmark 3: declare `endpoints` model endpoints of
 * one target under the mock runtime and report the time from the first
 * declaration to the last registration, the resources registered, and the
 * process's peak memory. One process per size: the runtime is process-global.
 */
import * as pulumi from "@pulumi/pulumi";
import { KubernetesModelEndpoint } from "../components/kubernetesModelEndpoint";
import { SageMakerModelEndpoint } from "../components/sagemakerModelEndpoint";
import { parseStackConfig } from "../config/schema";
import { installRecordingMocks } from "../plan/mockRuntime";

export interface ProgramCostRun {
    readonly target: "sagemaker" | "kubernetes";
    readonly endpoints: number;
    readonly warm: number;
}

export interface ProgramCostResult extends ProgramCostRun {
    readonly resources: number;
    readonly milliseconds: number;
    readonly peakRssMiB: number;
}

const VERSIONS = 5;

function configFor(run: ProgramCostRun, index: number) {
    const versions = Array.from({ length: VERSIONS }, (_, v) => ({
        version: String(v + 1),
        image: `123456789012.dkr.ecr.us-east-1.amazonaws.com/model-${index}@sha256:${(v + 1).toString(16).padStart(64, "0")}`,
        artifact: `s3://models/model-${index}/${v + 1}/model.tar.gz`,
    }));
    return parseStackConfig({
        target: run.target,
        model: `model-${index}`,
        pinned: String(VERSIONS),
        warm: run.warm,
        versions,
        ...(run.target === "sagemaker" ? { sagemaker: { instanceType: "ml.m5.large" } } : { kubernetes: { namespace: `model-${index}` } }),
    });
}

async function main(): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const run = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ProgramCostRun;
    const configs = Array.from({ length: run.endpoints }, (_, index) => configFor(run, index));
    const registered = await installRecordingMocks("bench");
    const started = process.hrtime.bigint();
    for (const config of configs) {
        // A stack in its steady state: every version served, in catalog order (without a record the
        // components would say on stdout, which carries this process's result, that the catalog stands in).
        const servingHistory = config.versions.map((v) => v.version);
        const catalog = { versions: config.versions, pinned: config.pinned, warm: config.warm, quarantined: config.quarantined, servingHistory };
        if (config.sagemaker !== undefined) new SageMakerModelEndpoint(config.model, { model: config.model, ...catalog, settings: config.sagemaker });
        if (config.kubernetes !== undefined) new KubernetesModelEndpoint(config.model, { model: config.model, ...catalog, settings: config.kubernetes });
    }
    await pulumi.runtime.disconnect();
    const milliseconds = Number(process.hrtime.bigint() - started) / 1e6;
    const result: ProgramCostResult = { ...run, resources: registered.length, milliseconds, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
    process.stdout.write(JSON.stringify(result));
}

main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
});
