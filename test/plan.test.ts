import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { warmVersions } from "../catalog/catalog";
import { sagemakerChildNames } from "../catalog/names";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { changedPaths, diffRegistrations } from "../plan/diff";
import { recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { PlanInputError, planPinChange, type RecordProgram } from "../plan/plan";
import { REPLACE_ON_CHANGE, changeReplaces } from "../plan/replaceOnChange";
import { sagemakerRawConfig } from "./helpers";

const ENDPOINT = "aws:sagemaker/endpoint:Endpoint";
const MODEL = "aws:sagemaker/model:Model";
const ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration";

const resource = (type: string, name: string, inputs: Record<string, unknown>): RegisteredResource => ({ type, name, inputs });

describe("changedPaths", () => {
    it("names the leaves that differ, with array indexes", () => {
        expect(
            changedPaths(
                { a: 1, list: [{ modelName: "m1", w: 1 }], nested: { x: "same" } },
                { a: 1, list: [{ modelName: "m2", w: 1 }], nested: { x: "same" }, added: true },
            ),
        ).toEqual(["added", "list[0].modelName"]);
    });

    it("reports an array whose length changed as a whole", () => {
        expect(changedPaths({ alarms: ["a"] }, { alarms: ["a", "b"] })).toEqual(["alarms"]);
    });
});

describe("replace-on-change table", () => {
    it("updates the Endpoint in place for a new config pointer or traffic policy", () => {
        expect(changeReplaces(ENDPOINT, "endpointConfigName")).toBe(false);
        expect(changeReplaces(ENDPOINT, "deploymentConfig.blueGreenUpdatePolicy.terminationWaitInSeconds")).toBe(false);
    });

    it("replaces the Endpoint when its rollback alarm set changes", () => {
        expect(changeReplaces(ENDPOINT, "deploymentConfig.autoRollbackConfiguration")).toBe(true);
        expect(changeReplaces(ENDPOINT, "deploymentConfig.autoRollbackConfiguration.alarms[1].alarmName")).toBe(true);
    });

    it("replaces a Model or EndpointConfiguration on anything but tags", () => {
        expect(changeReplaces(MODEL, "primaryContainer.image")).toBe(true);
        expect(changeReplaces(MODEL, "tags.team")).toBe(false);
        expect(changeReplaces(ENDPOINT_CONFIG, "productionVariants[0].initialInstanceCount")).toBe(true);
    });

    it("plans a replace for any change to a type it does not know", () => {
        expect(changeReplaces("aws:s3/bucket:Bucket", "tags")).toBe(true);
    });

    it("covers every type the program declares", async () => {
        const registered = await recordProgram(parseStackConfig(sagemakerRawConfig()));
        for (const { type } of registered) expect(REPLACE_ON_CHANGE[type], type).toBeDefined();
    });
});

describe("diffRegistrations", () => {
    it("classifies creates, updates, replaces and retained deletes", () => {
        const before = [
            resource(ENDPOINT, "e", { endpointConfigName: "c2" }),
            resource(MODEL, "m1", { primaryContainer: { image: "a" } }),
            resource(MODEL, "gone", {}),
            resource("aws:iam/rolePolicy:RolePolicy", "p", { role: "r", policy: "{}" }),
        ];
        const after = [
            resource(ENDPOINT, "e", { endpointConfigName: "c1" }),
            resource(MODEL, "m1", { primaryContainer: { image: "b" } }),
            resource(MODEL, "new", {}),
            resource("aws:iam/rolePolicy:RolePolicy", "p", { role: "r", policy: "{}" }),
        ];
        expect(diffRegistrations(before, after)).toEqual([
            { type: ENDPOINT, name: "e", op: "update", changed: ["endpointConfigName"] },
            { type: MODEL, name: "gone", op: "delete", changed: [], retained: true },
            { type: MODEL, name: "m1", op: "replace", changed: ["primaryContainer.image"] },
            { type: MODEL, name: "new", op: "create", changed: [] },
        ]);
    });
});

describe("planPinChange input checks (before anything runs)", () => {
    const neverRun: RecordProgram = () => Promise.reject(new Error("the program must not run for bad input"));

    it.each([
        [{}, "9", "--to 9: not in mlops:versions (known: 1, 2, 3)"],
        [{}, "3", "--to 3: already the pinned version"],
        [{ quarantined: ["2"] }, "2", "--to 2: version '2' is quarantined"],
    ])("refuses %j --to %s", async (overrides, to, message) => {
        const error = await planPinChange(sagemakerRawConfig(overrides), to, { record: neverRun }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PlanInputError);
        expect((error as Error).message).toContain(message);
    });
});

describe("mlops plan on the example stack (isolated mock runs, one process each)", () => {
    const example = rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml");

    it("rolls back 3 -> 2 (warm) with no replace, one Endpoint update of endpointConfigName, and nothing built for 2", async () => {
        const plan = await planPinChange(example, "2");
        expect(plan.summary.replace).toBe(0);
        expect(plan.operations.filter((o) => o.type === ENDPOINT)).toEqual([
            { type: ENDPOINT, name: "fraud-detector-endpoint", op: "update", changed: ["endpointConfigName"] },
        ]);
        const target = sagemakerChildNames("fraud-detector", "2");
        expect(plan.operations.filter((o) => o.name === target.model || o.name === target.endpointConfiguration)).toEqual([]);
        expect(plan.targetWarm).toBe(true);
        // Version 3 leaves the warm set but stays in AWS: SageMaker may still roll back to its config.
        expect(plan.operations.filter((o) => o.op === "delete").every((o) => o.retained === true)).toBe(true);
    }, 60_000);

    it("shows the creates of a cold rollback 3 -> 1 honestly", async () => {
        const plan = await planPinChange(example, "1");
        const target = sagemakerChildNames("fraud-detector", "1");
        expect(plan.targetWarm).toBe(false);
        expect(plan.operations).toEqual(
            expect.arrayContaining([
                { type: MODEL, name: target.model, op: "create", changed: [] },
                { type: ENDPOINT_CONFIG, name: target.endpointConfiguration, op: "create", changed: [] },
                { type: ENDPOINT, name: "fraud-detector-endpoint", op: "update", changed: ["endpointConfigName"] },
            ]),
        );
        expect(plan.summary.replace).toBe(0);
    }, 60_000);
});

describe("rollback property (in-process mock runs)", () => {
    it("for any catalog, pin and warm ≥ 1, rolling back to a warm version never creates or replaces its resources", async () => {
        const scenarios = fc
            .record({
                count: fc.integer({ min: 2, max: 6 }),
                warm: fc.integer({ min: 1, max: 5 }),
                pinOffset: fc.nat(),
                targetOffset: fc.nat(),
                quarantineMask: fc.nat(),
            })
            .map(({ count, warm, pinOffset, targetOffset, quarantineMask }) => {
                const pinned = String(1 + (pinOffset % count));
                const quarantined = Array.from({ length: count }, (_, i) => String(i + 1)).filter((id, i) => id !== pinned && (quarantineMask >> i) & 1);
                const raw = sagemakerRawConfig({ warm, pinned, quarantined }, count);
                const standby = warmVersions(parseStackConfig(raw)).slice(0, -1);
                return { raw, target: standby.length === 0 ? undefined : standby[targetOffset % standby.length] };
            })
            .filter((s) => s.target !== undefined);
        await fc.assert(
            fc.asyncProperty(scenarios, async ({ raw, target }) => {
                const before = await recordProgram(parseStackConfig(raw));
                const after = await recordProgram(parseStackConfig({ ...raw, pinned: target }));
                const names = sagemakerChildNames("fraud-detector", target as string);
                const operations = diffRegistrations(before, after);
                expect(operations.filter((o) => o.op === "replace")).toEqual([]);
                expect(operations.filter((o) => o.name === names.model || o.name === names.endpointConfiguration)).toEqual([]);
                expect(operations.filter((o) => o.type === ENDPOINT)).toEqual([
                    { type: ENDPOINT, name: "fraud-detector-endpoint", op: "update", changed: ["endpointConfigName"] },
                ]);
            }),
            { numRuns: 25 },
        );
    }, 120_000);
});
