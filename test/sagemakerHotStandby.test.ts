/**
 * SageMakerModelEndpoint with standby: hot under the mock runtime (the mocks
 * stand for the engine and the AWS provider): the one two-variant config,
 * the live-weights resource, and what a rollback within the config and the
 * next forward deploy declare. The decisions themselves: endpointVariants.test.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { SageMakerModelEndpoint, type SageMakerModelEndpointArgs } from "../components/sagemakerModelEndpoint";
import { parseStackConfig } from "../config/schema";
import { installRecordingMocks, type RegisteredResource } from "../plan/mockRuntime";
import { outputValue, sagemakerRawConfig } from "./helpers";

const ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration";
const MODEL = "aws:sagemaker/model:Model";
const WEIGHTS = "pulumi-nodejs:dynamic/sagemaker:EndpointVariantWeights";

/** Declare the component under mocks (they stand for the engine and the AWS provider) and wait for every registration. */
async function declareHot(extra: Partial<SageMakerModelEndpointArgs> & { pinned: string; quarantined?: string[]; servingHistory?: string[] }) {
    const config = parseStackConfig(
        sagemakerRawConfig({ pinned: extra.pinned, sagemaker: { instanceType: "ml.g5.xlarge", instanceCount: 2, standby: "hot", standbyInstanceCount: 1 } }, 4),
    );
    const registered = await installRecordingMocks("test");
    const component = new SageMakerModelEndpoint("fraud-detector", {
        model: config.model,
        versions: config.versions,
        warm: config.warm,
        settings: config.sagemaker ?? { instanceType: "-" },
        ...extra,
    });
    const endpointConfigNames = await outputValue(component.endpointConfigNames);
    await pulumi.runtime.disconnect();
    const ofType = (type: string): RegisteredResource[] => registered.filter((r) => r.type === type);
    return { component, registered, ofType, endpointConfigNames };
}

describe("SageMakerModelEndpoint with standby: hot (under the mock runtime)", () => {
    it("declares one config with both versions as production variants, and the weights resource after the Endpoint", async () => {
        const { ofType, component, endpointConfigNames } = await declareHot({ pinned: "3", servingHistory: ["2", "3"] });
        const configs = ofType(ENDPOINT_CONFIG);
        expect(configs.map((c) => c.name)).toEqual(["fraud-detector-config-3"]);
        expect(configs[0].inputs.productionVariants).toEqual([
            {
                variantName: "primary",
                modelName: "fraud-detector-model-3-mock",
                instanceType: "ml.g5.xlarge",
                initialInstanceCount: 2,
                initialVariantWeight: 1,
            },
            {
                variantName: "standby",
                modelName: "fraud-detector-model-2-mock",
                instanceType: "ml.g5.xlarge",
                initialInstanceCount: 1,
                initialVariantWeight: 0,
            },
        ]);
        expect(configs[0].options?.retainOnDelete).toBe(true);
        expect(ofType(MODEL).map((m) => m.name)).toEqual(["fraud-detector-model-2", "fraud-detector-model-3"]);
        const weights = ofType(WEIGHTS);
        expect(weights.map((w) => w.name)).toEqual(["fraud-detector-variant-weights"]);
        expect(weights[0].inputs.variants).toEqual([
            { variantName: "primary", weight: 1, instanceCount: 2 },
            { variantName: "standby", weight: 0, instanceCount: 1 },
        ]);
        expect(weights[0].inputs.region).toBe("us-east-1");
        expect(weights[0].options?.dependencies.some((urn) => urn.endsWith("::fraud-detector-endpoint"))).toBe(true);
        expect(endpointConfigNames).toEqual({ "2": "fraud-detector-config-3-mock", "3": "fraud-detector-config-3-mock" });
        expect(component.servingVariantName).toBe("primary");
        expect(component.endpointVariants?.createdFor).toBe("3");
    });

    it("after a hot rollback to 2, declares the same config (no replace, same endpointConfigName) and the weights moved to the standby", async () => {
        const before = await declareHot({ pinned: "3", servingHistory: ["2", "3"] });
        const after = await declareHot({
            pinned: "2",
            quarantined: ["3"],
            servingHistory: ["1", "2", "3"],
            endpointVariants: before.component.endpointVariants,
        });
        const [configBefore] = before.ofType(ENDPOINT_CONFIG);
        const configAfter = after.ofType(ENDPOINT_CONFIG).find((c) => c.name === configBefore.name);
        expect(configAfter?.inputs).toEqual(configBefore.inputs);
        const endpointOf = (run: typeof before) => run.registered.find((r) => r.name === "fraud-detector-endpoint")?.inputs.endpointConfigName;
        expect(endpointOf(after)).toEqual(endpointOf(before));
        expect(after.ofType(WEIGHTS)[0].inputs.variants).toEqual([
            { variantName: "primary", weight: 0, instanceCount: 2 },
            { variantName: "standby", weight: 1, instanceCount: 2 },
        ]);
        // The version left keeps its Model (it still runs at weight 0); 1, warm behind 2, keeps a cold config.
        expect(after.ofType(MODEL).map((m) => m.name)).toEqual(["fraud-detector-model-1", "fraud-detector-model-2", "fraud-detector-model-3"]);
        expect(after.ofType(ENDPOINT_CONFIG).map((c) => c.name)).toEqual(["fraud-detector-config-1", "fraud-detector-config-3"]);
        expect(after.component.servingVariantName).toBe("standby");
    });

    it("a forward deploy after the rollback declares a new config with the old pinned version as the standby", async () => {
        const first = await declareHot({ pinned: "3", servingHistory: ["2", "3"] });
        const rolledBack = await declareHot({
            pinned: "2",
            quarantined: ["3"],
            servingHistory: ["2", "3"],
            endpointVariants: first.component.endpointVariants,
        });
        const forward = await declareHot({
            pinned: "4",
            quarantined: ["3"],
            servingHistory: ["3", "2"],
            endpointVariants: rolledBack.component.endpointVariants,
        });
        const configs = forward.ofType(ENDPOINT_CONFIG);
        expect(configs.map((c) => c.name)).toEqual(["fraud-detector-config-4"]);
        expect(
            (configs[0].inputs.productionVariants as { modelName: string; initialVariantWeight: number }[]).map((v) => [v.modelName, v.initialVariantWeight]),
        ).toEqual([
            ["fraud-detector-model-4-mock", 1],
            ["fraud-detector-model-2-mock", 0],
        ]);
        expect(forward.registered.find((r) => r.name === "fraud-detector-endpoint")?.inputs.endpointConfigName).toBe("fraud-detector-config-4-mock");
        expect(forward.component.servingVariantName).toBe("primary");
    });

    it("under cold standby declares no weights resource and one single-variant config per declared version (unchanged)", async () => {
        const config = parseStackConfig(sagemakerRawConfig({}, 3));
        const registered = await installRecordingMocks("test");
        const component = new SageMakerModelEndpoint("fraud-detector", {
            model: config.model,
            versions: config.versions,
            pinned: "3",
            warm: 1,
            servingHistory: ["2", "3"],
            settings: config.sagemaker ?? { instanceType: "-" },
        });
        await pulumi.runtime.disconnect();
        expect(registered.filter((r) => r.type === WEIGHTS)).toEqual([]);
        expect(registered.filter((r) => r.type === ENDPOINT_CONFIG).map((c) => c.name)).toEqual(["fraud-detector-config-2", "fraud-detector-config-3"]);
        expect(component.endpointVariants).toBeUndefined();
    });
});
