/**
 * SageMaker hot standby's decisions, pure: which endpoint config a stack
 * declares (kept across a rollback within it, new on a forward deploy), the
 * live weights its variants should run at, and the config rules of
 * `mlops:sagemaker.standby`.
 */
import { describe, expect, it } from "vitest";
import {
    configMadeFrom,
    desiredVariantWeights,
    endpointVariantsFor,
    endpointVariantsFromOutput,
    type EndpointVariantsRecord,
} from "../catalog/endpointVariants";
import { PROVIDER_BUSY_STATUSES, runsAt } from "../components/endpointVariantWeights";
import { BUSY_ENDPOINT_STATUSES } from "../rollback/endpointSettle";
import { parseStackConfig, StackConfigError } from "../config/schema";
import { sagemakerRawConfig } from "./helpers";

const settings = { instanceType: "ml.g5.xlarge", instanceCount: 2, variantName: "primary", standbyVariantName: "standby", standbyInstanceCount: 1 };
const catalog = ["1", "2", "3", "4"];

describe("endpointVariantsFor (hot standby: which config the endpoint runs)", () => {
    const deploy3 = endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog, previousPin: "2", madeFrom: "kms-a" });
    const after3 = { previous: deploy3.record, madeFrom: "kms-a" };

    it("a deploy declares a new config: the pin at weight 1 with instanceCount, its standby at weight 0 with standbyInstanceCount", () => {
        expect(deploy3).toEqual({
            kept: false,
            rolledBackWithin: false,
            record: {
                instanceType: "ml.g5.xlarge",
                madeFrom: "kms-a",
                createdFor: "3",
                variants: [
                    { variantName: "primary", version: "3", initialWeight: 1, initialInstanceCount: 2 },
                    { variantName: "standby", version: "2", initialWeight: 0, initialInstanceCount: 1 },
                ],
            },
        });
    });

    it("the same pin again keeps the config (a plain pulumi up changes nothing)", () => {
        expect(endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog, previousPin: "3", ...after3 })).toEqual({
            kept: true,
            rolledBackWithin: false,
            record: deploy3.record,
        });
    });

    it("a rollback to the standby keeps the config, rolled back within it, with the version it left at weight 0", () => {
        const rollback = endpointVariantsFor({ settings, pinned: "2", standby: "1", quarantined: ["3"], catalog, previousPin: "3", ...after3 });
        expect(rollback).toEqual({ kept: true, rolledBackWithin: true, record: deploy3.record });
        // A plain `pulumi config set mlops:pinned 2` quarantines nothing: 3 is later than the pin, so still kept.
        expect(endpointVariantsFor({ settings, pinned: "2", standby: "1", quarantined: [], catalog, previousPin: "3", ...after3 }).kept).toBe(true);
        // And every run after the rollback keeps it (previous pin 2).
        expect(endpointVariantsFor({ settings, pinned: "2", standby: "1", quarantined: ["3"], catalog, previousPin: "2", ...after3 }).kept).toBe(true);
    });

    it("a deploy back to the version the rollback left is a forward deploy: a new config, through UpdateEndpoint and the guardrails", () => {
        const back = endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog, previousPin: "2", ...after3 });
        expect(back.kept).toBe(false);
        expect(back.record.variants.map((v) => [v.version, v.initialWeight])).toEqual([
            ["3", 1],
            ["2", 0],
        ]);
    });

    it("a forward deploy after the rollback makes a new config with the version that served before it as the standby", () => {
        const deploy4 = endpointVariantsFor({ settings, pinned: "4", standby: "2", quarantined: ["3"], catalog, previousPin: "2", ...after3 });
        expect(deploy4.kept).toBe(false);
        expect(deploy4.record.createdFor).toBe("4");
        expect(deploy4.record.variants.map((v) => [v.variantName, v.version, v.initialWeight])).toEqual([
            ["primary", "4", 1],
            ["standby", "2", 0],
        ]);
    });

    it("the standby quarantined by hand while the pin serves: a new config with the next standby, never the quarantined one kept running", () => {
        const decision = endpointVariantsFor({ settings, pinned: "3", standby: "1", quarantined: ["2"], catalog, previousPin: "3", ...after3 });
        expect(decision.kept).toBe(false);
        expect(decision.record.variants.map((v) => v.version)).toEqual(["3", "1"]);
    });

    it("what the config is made from changes (a KMS key, a role, the database a restore points at): a new config with the pin at weight 1", () => {
        const restored = endpointVariantsFor({
            settings,
            pinned: "2",
            standby: "1",
            quarantined: ["3"],
            catalog,
            previousPin: "3",
            previous: deploy3.record,
            madeFrom: "kms-a restored",
        });
        expect(restored.kept).toBe(false);
        expect(restored.record.variants.map((v) => [v.version, v.initialWeight])).toEqual([
            ["2", 1],
            ["1", 0],
        ]);
    });

    it.each([
        ["the instance type changed", { instanceType: "ml.g5.2xlarge" }],
        ["the instance count changed", { instanceCount: 3 }],
        ["the standby's instance count changed", { standbyInstanceCount: 2 }],
        ["a variant name changed", { standbyVariantName: "hot" }],
    ])("makes a new config when %s", (_why, settingsChange) => {
        const decision = endpointVariantsFor({
            settings: { ...settings, ...settingsChange },
            pinned: "3",
            standby: "2",
            quarantined: [],
            catalog,
            previousPin: "3",
            ...after3,
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
            "mlops:sagemaker.standbyVariantName: must differ from variantName ('primary'): the endpoint config holds both variants",
        ]);
        expect(problemsOf({ sagemaker: { instanceType: "ml.m5.large", standbyInstanceCount: 1 } })).toEqual([
            "mlops:sagemaker.standbyInstanceCount: only for standby: hot (a cold standby runs no instances); remove it or set standby: hot",
        ]);
        expect(problemsOf({ sagemaker: { instanceType: "ml.m5.large", standby: "warm" } })).toEqual([
            "mlops:sagemaker.standby: standby is 'hot' (a running weight-0 variant) or 'cold' (no instances)",
        ]);
        expect(problemsOf({ sagemaker: { instanceType: "ml.m5.large", instanceCount: 2, standby: "hot", standbyInstanceCount: 3 } })).toEqual([
            "mlops:sagemaker.standbyInstanceCount: 3 is more than instanceCount (2): a standby larger than the fleet it stands in for costs more and serves no more; lower it, or raise instanceCount",
        ]);
        expect(problemsOf({ sagemaker: { instanceType: "ml.m5.large", standby: "hot", standbyInstanceCount: 0 } })).toEqual([
            "mlops:sagemaker.standbyInstanceCount: standbyInstanceCount must be at least 1 (SageMaker runs no variant on 0 instances)",
        ]);
    });
});

describe("endpointVariantsFor: every condition of keeping the config", () => {
    const made = endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog, previousPin: "2" });
    const keep = (input: Partial<Parameters<typeof endpointVariantsFor>[0]>) =>
        endpointVariantsFor({ settings, pinned: "3", standby: "2", quarantined: [], catalog, previousPin: "3", previous: made.record, ...input }).kept;

    it("keeps it as made, in whatever order the record lists the variants", () => {
        expect(made.record.madeFrom).toBe("");
        expect(keep({})).toBe(true);
        expect(keep({ previous: { ...made.record, variants: [...made.record.variants].reverse() } })).toBe(true);
    });

    it("a previous pin the catalog does not hold (or none) is no forward deploy", () => {
        expect(keep({ previousPin: "9" })).toBe(true);
        expect(keep({ previousPin: undefined })).toBe(true);
    });

    it("not when one of its versions left the catalog, the serving variant was renamed, or the pin is not one of its versions", () => {
        expect(keep({ catalog: ["3", "4"] })).toBe(false);
        expect(keep({ settings: { ...settings, variantName: "live" } })).toBe(false);
        expect(keep({ pinned: "1", standby: undefined })).toBe(false);
        expect(keep({ madeFrom: "another key" })).toBe(false);
    });

    it("a one-variant config is kept while there is no standby to add, and replaced once there is", () => {
        const alone = endpointVariantsFor({ settings, pinned: "1", standby: undefined, quarantined: [], catalog });
        const again = (standby: string | undefined) =>
            endpointVariantsFor({ settings, pinned: "1", standby, quarantined: [], catalog, previousPin: "1", previous: alone.record }).kept;
        expect(again(undefined)).toBe(true);
        expect(again("2")).toBe(false);
    });

    it("the standby is never the pin itself: one variant", () => {
        expect(endpointVariantsFor({ settings, pinned: "3", standby: "3", quarantined: [], catalog }).record.variants.map((v) => v.version)).toEqual(["3"]);
    });
});

describe("configMadeFrom", () => {
    it("differs when a KMS key, role, VPC, environment value or source differs; an Output value stands as (output)", () => {
        const base = configMadeFrom({}, { A: "1", B: undefined }, "db-1");
        expect(JSON.parse(base)).toEqual({ kmsKeyArn: null, executionRoleArn: null, vpc: null, environment: { A: "1", B: "(output)" }, source: "db-1" });
        const others = [
            configMadeFrom({ kmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k" }, { A: "1", B: undefined }, "db-1"),
            configMadeFrom({ executionRoleArn: "arn:aws:iam::123456789012:role/r" }, { A: "1", B: undefined }, "db-1"),
            configMadeFrom({ vpc: { subnetIds: ["subnet-1"], securityGroupIds: ["sg-1"] } }, { A: "1", B: undefined }, "db-1"),
            configMadeFrom({}, { A: "2", B: undefined }, "db-1"),
            configMadeFrom({}, { A: "1", B: undefined }, "db-restored"),
            configMadeFrom({}, { A: "1", B: undefined }, undefined),
        ];
        for (const other of others) expect(other).not.toBe(base);
    });
});

describe("endpointVariantsFromOutput refuses anything but a record", () => {
    const good = {
        instanceType: "ml.g5.xlarge",
        madeFrom: "m",
        createdFor: "3",
        variants: [{ variantName: "primary", version: "3", initialWeight: 1, initialInstanceCount: 2 }],
    };

    it("keeps madeFrom, and a record without it has none", () => {
        expect(endpointVariantsFromOutput(good)).toEqual(good);
        const without = { instanceType: good.instanceType, createdFor: good.createdFor, variants: good.variants };
        expect(endpointVariantsFromOutput(without)).toEqual(without);
    });

    it.each([
        ["null", null],
        ["a string", "3"],
        ["a numeric instance type", { ...good, instanceType: 5 }],
        ["no createdFor", { ...good, createdFor: undefined }],
        ["variants not a list", { ...good, variants: {} }],
        ["a numeric madeFrom", { ...good, madeFrom: 1 }],
        ["a null variant", { ...good, variants: [null] }],
        ["a variant without a name", { ...good, variants: [{ ...good.variants[0], variantName: 1 }] }],
        ["a variant without a version", { ...good, variants: [{ ...good.variants[0], version: 3 }] }],
        ["a variant without a weight", { ...good, variants: [{ ...good.variants[0], initialWeight: "1" }] }],
        ["a variant without a count", { ...good, variants: [{ ...good.variants[0], initialInstanceCount: "2" }] }],
    ])("%s", (_what, value) => {
        expect(endpointVariantsFromOutput(value)).toBeUndefined();
    });
});

describe("the live-weights provider's own copy of the busy statuses", () => {
    it("is the list the CLI and the trigger use (the provider is serialized alone and cannot import it)", () => {
        expect(PROVIDER_BUSY_STATUSES).toEqual(BUSY_ENDPOINT_STATUSES);
    });
});
