import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { desiredVariantWeights, endpointVariantsFor, endpointVariantsFromOutput, type EndpointVariantsRecord } from "../catalog/endpointVariants";
import { runsAt } from "../components/endpointVariantWeights";
import { SageMakerModelEndpoint, type SageMakerModelEndpointArgs } from "../components/sagemakerModelEndpoint";
import { parseStackConfig, StackConfigError } from "../config/schema";
import { installRecordingMocks, type RegisteredResource } from "../plan/mockRuntime";
import { outputValue, sagemakerRawConfig } from "./helpers";

const ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration";
const MODEL = "aws:sagemaker/model:Model";
const WEIGHTS = "pulumi-nodejs:dynamic/sagemaker:EndpointVariantWeights";

const settings = { instanceType: "ml.g5.xlarge", instanceCount: 2, variantName: "primary", standbyVariantName: "standby", standbyInstanceCount: 1 };
const catalog = ["1", "2", "3", "4"];

describe("endpointVariantsFor (hot standby: which config the endpoint runs)", () => {
    const deploy3 = endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog });

    it("a deploy declares a new config: the pin at weight 1 with instanceCount, its standby at weight 0 with standbyInstanceCount", () => {
        expect(deploy3).toEqual({
            kept: false,
            record: {
                instanceType: "ml.g5.xlarge",
                createdFor: "3",
                variants: [
                    { variantName: "primary", version: "3", initialWeight: 1, initialInstanceCount: 2 },
                    { variantName: "standby", version: "2", initialWeight: 0, initialInstanceCount: 1 },
                ],
            },
        });
    });

    it("the same pin again keeps the config (a plain pulumi up changes nothing)", () => {
        expect(endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog, previous: deploy3.record })).toEqual({
            kept: true,
            record: deploy3.record,
        });
    });

    it("a rollback to the standby keeps the config, with the version it left (quarantined) at weight 0", () => {
        const rollback = endpointVariantsFor({ settings, pinned: "2", standby: "1", quarantined: ["3"], catalog, previous: deploy3.record });
        expect(rollback).toEqual({ kept: true, record: deploy3.record });
    });

    it("a deploy back to the version the rollback left keeps it too (one weights call back)", () => {
        expect(endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog, previous: deploy3.record }).kept).toBe(true);
    });

    it("a forward deploy after the rollback makes a new config with the version that served before it as the standby", () => {
        const deploy4 = endpointVariantsFor({ settings, pinned: "4", standby: "2", quarantined: ["3"], catalog, previous: deploy3.record });
        expect(deploy4.kept).toBe(false);
        expect(deploy4.record.createdFor).toBe("4");
        expect(deploy4.record.variants.map((v) => [v.variantName, v.version, v.initialWeight])).toEqual([
            ["primary", "4", 1],
            ["standby", "2", 0],
        ]);
    });

    it.each([
        ["the standby wanted is another version (the old one was quarantined by hand)", { standby: "1", quarantined: [] }, {}],
        ["the instance type changed", {}, { instanceType: "ml.g5.2xlarge" }],
        ["the instance count changed", {}, { instanceCount: 3 }],
        ["the standby's instance count changed", {}, { standbyInstanceCount: 2 }],
        ["a variant name changed", {}, { standbyVariantName: "hot" }],
    ])("makes a new config when %s", (_why, inputChange, settingsChange) => {
        const decision = endpointVariantsFor({
            settings: { ...settings, ...settingsChange },
            pinned: "3",
            standby: "2",
            quarantined: [],
            catalog,
            previous: deploy3.record,
            ...inputChange,
        });
        expect(decision.kept).toBe(false);
    });

    it("with no version to keep hot, one variant only", () => {
        expect(endpointVariantsFor({ settings, pinned: "1", standby: undefined, quarantined: [], catalog }).record.variants).toEqual([
            { variantName: "primary", version: "1", initialWeight: 1, initialInstanceCount: 2 },
        ]);
    });

    it("standbyInstanceCount defaults to instanceCount (a full-size standby)", () => {
        const full = endpointVariantsFor({ settings: { ...settings, standbyInstanceCount: undefined }, pinned: "3", standby: "2", quarantined: [], catalog });
        expect(full.record.variants[1].initialInstanceCount).toBe(2);
    });
});

describe("desiredVariantWeights", () => {
    const record: EndpointVariantsRecord = {
        instanceType: "ml.g5.xlarge",
        createdFor: "3",
        variants: [
            { variantName: "primary", version: "3", initialWeight: 1, initialInstanceCount: 2 },
            { variantName: "standby", version: "2", initialWeight: 0, initialInstanceCount: 1 },
        ],
    };

    it("serving the version the config was made for: its initial weights", () => {
        expect(desiredVariantWeights(record, "3", 2)).toEqual([
            { variantName: "primary", weight: 1, instanceCount: 2 },
            { variantName: "standby", weight: 0, instanceCount: 1 },
        ]);
    });

    it("after a rollback to the standby: all weight there, raised to instanceCount; the version left keeps its instances at weight 0", () => {
        expect(desiredVariantWeights(record, "2", 2)).toEqual([
            { variantName: "primary", weight: 0, instanceCount: 2 },
            { variantName: "standby", weight: 1, instanceCount: 2 },
        ]);
    });

    it("reads a record back from the stack output, and nothing else", () => {
        expect(endpointVariantsFromOutput(JSON.parse(JSON.stringify(record)))).toEqual(record);
        expect(endpointVariantsFromOutput({ instanceType: "x", createdFor: "3", variants: [{ variantName: "a" }] })).toBeUndefined();
        expect(endpointVariantsFromOutput("3")).toBeUndefined();
    });

    it("runsAt: every wanted variant with its weight and count (a missing CurrentWeight counts as 0)", () => {
        const wanted = desiredVariantWeights(record, "2", 2);
        expect(
            runsAt(
                [
                    { variantName: "primary", instanceCount: 2 },
                    { variantName: "standby", weight: 1, instanceCount: 2 },
                ],
                wanted,
            ),
        ).toBe(true);
        expect(
            runsAt(
                [
                    { variantName: "primary", weight: 0, instanceCount: 2 },
                    { variantName: "standby", weight: 1, instanceCount: 1 },
                ],
                wanted,
            ),
        ).toBe(false);
        expect(runsAt([{ variantName: "standby", weight: 1, instanceCount: 2 }], wanted)).toBe(false);
    });
});

describe("mlops:sagemaker.standby config", () => {
    const problemsOf = (overrides: Record<string, unknown>) => {
        try {
            parseStackConfig(sagemakerRawConfig(overrides));
            return [];
        } catch (error) {
            if (!(error instanceof StackConfigError)) throw error;
            return error.problems.map((p) => `${p.path}: ${p.message}`);
        }
    };

    it("defaults to cold, with no standby instances", () => {
        expect(parseStackConfig(sagemakerRawConfig()).sagemaker).toMatchObject({ standby: "cold", standbyVariantName: "standby" });
        expect(parseStackConfig(sagemakerRawConfig()).sagemaker?.standbyInstanceCount).toBeUndefined();
    });

    it("refuses hot with warm 0, a standby variant named like the serving one, and a standby count under cold", () => {
        expect(problemsOf({ warm: 0, sagemaker: { instanceType: "ml.m5.large", standby: "hot", standbyVariantName: "primary" } })).toEqual([
            "mlops:sagemaker.standby: hot keeps the rollback target running, and mlops:warm is 0 (no rollback target is kept); set warm to 1 or more, or standby: cold",
            "mlops:sagemaker.standbyVariantName: must differ from variantName: the endpoint config holds both variants",
        ]);
        expect(problemsOf({ sagemaker: { instanceType: "ml.m5.large", standbyInstanceCount: 1 } })).toEqual([
            "mlops:sagemaker.standbyInstanceCount: only for standby: hot (a cold standby runs no instances); remove it or set standby: hot",
        ]);
        expect(problemsOf({ sagemaker: { instanceType: "ml.m5.large", standby: "warm" } })).toEqual([
            "mlops:sagemaker.standby: standby is 'hot' (a running weight-0 variant) or 'cold' (no instances)",
        ]);
        expect(problemsOf({ sagemaker: { instanceType: "ml.m5.large", standby: "hot", standbyInstanceCount: 0 } })).toEqual([
            "mlops:sagemaker.standbyInstanceCount: standbyInstanceCount must be at least 1 (SageMaker runs no variant on 0 instances)",
        ]);
    });
});

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
