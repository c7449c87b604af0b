import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultRollbackTarget, warmSet } from "../catalog/catalog";
import { sagemakerChildNames } from "../catalog/names";
import { parseStackConfig } from "../config/schema";
import { rawConfigFromStackFile } from "../config/sources";
import { changedPaths, diffRegistrations } from "../plan/diff";
import { recordProgram, type RegisteredResource } from "../plan/mockRuntime";
import { PlanInputError, planPinChange, renderPlan, type RecordProgram } from "../plan/plan";
import { REPLACE_ON_CHANGE, changeReplaces } from "../plan/replaceOnChange";
import { sagemakerRawConfig } from "./helpers";

const ENDPOINT = "aws:sagemaker/endpoint:Endpoint";
const MODEL = "aws:sagemaker/model:Model";
const ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";

const resource = (type: string, name: string, inputs: Record<string, unknown>, retainOnDelete = false): RegisteredResource => ({
    type,
    name,
    inputs,
    options: { parent: "urn:pulumi:plan::mlops::mlops:test:Component::parent", dependencies: [], retainOnDelete, protect: false },
});

describe("changedPaths", () => {
    it("names the leaves that differ, with array indexes", () => {
        expect(
            changedPaths(
                { a: 1, list: [{ modelName: "m1", w: 1 }], nested: { x: "same" } },
                { a: 1, list: [{ modelName: "m2", w: 1 }], nested: { x: "same" }, added: true },
            ),
        ).toEqual(["added", "list[0].modelName"]);
    });

    it("quotes keys that are not identifiers, such as label keys", () => {
        expect(changedPaths({ selector: { "app.kubernetes.io/version": "2" } }, { selector: { "app.kubernetes.io/version": "3" } })).toEqual([
            'selector["app.kubernetes.io/version"]',
        ]);
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

    it("plans a replace when a whole block above a replacing path changes (never understate)", () => {
        expect(changeReplaces(ENDPOINT, "deploymentConfig")).toBe(true);
    });

    it("plans a replace for any change to a type it does not know", () => {
        expect(changeReplaces("aws:s3/bucket:Bucket", "tags")).toBe(true);
    });

    it("covers every type the program declares, on both targets", async () => {
        const sagemaker = await recordProgram(parseStackConfig(sagemakerRawConfig()));
        const kubernetes = await recordProgram(parseStackConfig(rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml")));
        const types = new Set([...sagemaker, ...kubernetes].map((r) => r.type));
        expect(types.size).toBeGreaterThanOrEqual(9);
        for (const type of types) expect(REPLACE_ON_CHANGE[type], type).toBeDefined();
    });

    it("updates a Kubernetes Service's selector in place and replaces a Deployment whose selector changes", () => {
        expect(changeReplaces(SERVICE, 'spec.selector["mlops-rollback/version"]')).toBe(false);
        expect(changeReplaces(SERVICE, "spec.clusterIP")).toBe(true);
        expect(changeReplaces(DEPLOYMENT, 'spec.selector.matchLabels["mlops-rollback/version"]')).toBe(true);
        expect(changeReplaces(DEPLOYMENT, "spec.replicas")).toBe(false);
        expect(changeReplaces(PDB, 'spec.selector.matchLabels["mlops-rollback/version"]')).toBe(false);
    });
});

describe("diffRegistrations", () => {
    it("classifies creates, updates, replaces and retained deletes", () => {
        const before = [
            resource(ENDPOINT, "e", { endpointConfigName: "c2" }),
            resource(MODEL, "m1", { primaryContainer: { image: "a" } }),
            resource(MODEL, "gone", {}, true),
            resource(DEPLOYMENT, "dropped", {}),
            resource("aws:iam/rolePolicy:RolePolicy", "p", { role: "r", policy: "{}" }),
        ];
        const after = [
            resource(ENDPOINT, "e", { endpointConfigName: "c1" }),
            resource(MODEL, "m1", { primaryContainer: { image: "b" } }),
            resource(MODEL, "new", {}),
            resource("aws:iam/rolePolicy:RolePolicy", "p", { role: "r", policy: "{}" }),
        ];
        expect(diffRegistrations(before, after)).toEqual(
            [
                { type: ENDPOINT, name: "e", op: "update", changed: ["endpointConfigName"] },
                { type: MODEL, name: "gone", op: "delete", changed: [], retained: true },
                { type: MODEL, name: "m1", op: "replace", changed: ["primaryContainer.image"] },
                { type: MODEL, name: "new", op: "create", changed: [] },
                { type: DEPLOYMENT, name: "dropped", op: "delete", changed: [] },
            ].sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name)),
        );
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

describe("planPinChange: whose time to restore", () => {
    // The mock runs stand for the layer below the budget: they return nothing, the budget reads only the config.
    const noResources: RecordProgram = () => Promise.resolve([]);

    it("a rollback's is the version it leaves (3, restored to 2); a deploy's is the version it pins (3 from 2, restored to 2)", async () => {
        const rollback = await planPinChange(sagemakerRawConfig(), "2", { record: noResources });
        expect([rollback.restoreBudget.pinned, rollback.restoreBudget.rollbackVersion]).toEqual(["3", "2"]);
        const deploy = await planPinChange(sagemakerRawConfig({ pinned: "2" }), "3", { record: noResources });
        expect([deploy.restoreBudget.pinned, deploy.restoreBudget.rollbackVersion]).toEqual(["3", "2"]);
        const deployFromOne = await planPinChange(sagemakerRawConfig({ pinned: "1" }), "2", { record: noResources });
        expect([deployFromOne.restoreBudget.pinned, deployFromOne.restoreBudget.rollbackVersion]).toEqual(["2", "1"]);
    });
});

describe("planPinChange on SageMaker: hot standby or cold", () => {
    // As above: the budget and the plan's words read only the config and the serving record.
    const noResources: RecordProgram = () => Promise.resolve([]);
    const SERVED = ["1", "2", "3"];
    const raw = (sagemaker: Record<string, unknown>, warm = 1) =>
        sagemakerRawConfig({ warm, sagemaker: { instanceType: "ml.g5.xlarge", instanceCount: 2, ...sagemaker } });
    const planned = async (rawConfig: Record<string, unknown>, to: string) => {
        const plan = await planPinChange(rawConfig, to, { record: noResources, servingHistory: SERVED });
        return { plan, text: renderPlan(plan, parseStackConfig(rawConfig)) };
    };

    it("hot, rollback 3 -> 2: 2 is the hot standby, moved to with one weights call, and the text says so instead of a new fleet", async () => {
        const { plan, text } = await planned(raw({ standby: "hot" }), "2");
        expect(text).toContain(
            "It is the hot standby (mlops:sagemaker.standby: hot): its variant already runs at weight 0, so mlops rollback moves all traffic to it with one weights call before the update runs: see the time to restore below.",
        );
        expect(text).not.toContain("still starts a new fleet");
        expect(plan.restoreBudget.paths.find((p) => p.kind === "byHand")?.steps.map((s) => s.source)).toEqual(["byHand", "sagemakerWeights"]);
        expect(text.split("\n").at(-1)).toBe(
            "  Hot standby: version 2 on 2 × ml.g5.xlarge running at weight 0, 1460 instance-hours a month (AWS prices instances per instance-hour; a month counted as 730 hours).",
        );
    });

    it("hot with a partial standby: the raise comes first", async () => {
        const { text } = await planned(raw({ standby: "hot", standbyInstanceCount: 1 }), "2");
        expect(text).toContain(
            "so mlops rollback moves all traffic to it, after raising it from 1 to 2 instances (partial standby), with one weights call before the update runs",
        );
    });

    it("hot, warm 2, rollback 3 -> 1: 1 is warm but not the hot standby, so the rollback is cold (a new fleet); the budget below is of a rollback to 2", async () => {
        const { plan, text } = await planned(raw({ standby: "hot" }, 2), "1");
        expect(plan.targetWarm).toBe(true);
        expect(text).toContain(
            "It is not the hot standby (version 2 is), so SageMaker still starts a new fleet for it before traffic moves, as under standby: cold; the time to restore below is that of a rollback to 2.",
        );
        expect(plan.restoreBudget.rollbackVersion).toBe("2");
    });

    it("cold (the default), rollback 3 -> 2: the new fleet, as before, and what hot would cost", async () => {
        const { text } = await planned(raw({}), "2");
        expect(text).toContain("SageMaker itself still starts a new fleet for it before traffic moves: see the time to restore below.");
        expect(text).not.toContain("hot standby (mlops:sagemaker.standby: hot)");
        expect(text.split("\n").at(-1)).toBe(
            "  Standby: cold: a rollback to version 2 starts a new fleet (the steps above). With mlops:sagemaker.standby: hot it would be one weights call, for 2 × ml.g5.xlarge running at weight 0, 1460 instance-hours a month (AWS prices instances per instance-hour; a month counted as 730 hours).",
        );
    });

    it("--json: restoreBudget carries standby (mode, version, instance type and counts, instance-hours a month) and the weights step", async () => {
        const { plan } = await planned(raw({ standby: "hot", standbyInstanceCount: 1 }), "2");
        // What `mlops plan --json` prints of it (cli/main.ts passes restoreBudget through JSON.stringify as it is).
        const json = JSON.parse(JSON.stringify(plan.restoreBudget)) as Record<string, unknown> & {
            paths: { kind: string; steps: Record<string, unknown>[] }[];
        };
        expect(Object.keys(json)).toEqual(["pinned", "rollbackVersion", "paths", "noAutomaticRestore", "standby"]);
        expect(json.standby).toEqual({
            mode: "hot",
            version: "2",
            instanceType: "ml.g5.xlarge",
            standbyInstanceCount: 1,
            instanceCount: 2,
            instanceHoursPerMonth: 730,
            hoursPerMonth: 730,
        });
        // A step with no figure has no seconds key.
        expect(json.paths.find((p) => p.kind === "byHand")?.steps.at(-1)).toEqual({
            phase: "restore",
            what: "mlops rollback moves all traffic to variant standby (version 2, 2 × ml.g5.xlarge running, hot standby) with one UpdateEndpointWeightsAndCapacities call, confirmed with DescribeEndpoint",
            basis: "not estimated",
            source: "sagemakerWeights",
        });
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

describe("mlops plan on the example stack with standby: hot (isolated mock runs)", () => {
    const example = rawConfigFromStackFile("stacks/Pulumi.sagemaker-example.yaml");
    const hot = { ...example, sagemaker: { ...(example.sagemaker as Record<string, unknown>), standby: "hot" } };
    const WEIGHTS = "pulumi-nodejs:dynamic/sagemaker:EndpointVariantWeights";

    it("rolls back 3 -> 2 by moving the live weights only: the same config, no Endpoint update, no replace", async () => {
        const plan = await planPinChange(hot, "2");
        expect(plan.summary.replace).toBe(0);
        expect(plan.operations.filter((o) => o.type === ENDPOINT || o.type === ENDPOINT_CONFIG)).toEqual([]);
        expect(plan.operations.filter((o) => o.type === WEIGHTS)).toEqual([
            { type: WEIGHTS, name: "fraud-detector-variant-weights", op: "update", changed: ["variants[0].weight", "variants[1].weight"] },
        ]);
    }, 60_000);

    it("a forward deploy 3 -> 4 after it declares a new config (a new fleet, through the guardrails)", async () => {
        const catalog = example.versions as Record<string, unknown>[];
        const withFour = { ...hot, versions: [...catalog, { ...catalog[2], version: "4", artifact: "s3://acme-ml-models/fraud-detector/4/model.tar.gz" }] };
        const plan = await planPinChange(withFour, "4");
        expect(plan.operations.filter((o) => o.type === ENDPOINT)).toEqual([
            { type: ENDPOINT, name: "fraud-detector-endpoint", op: "update", changed: ["endpointConfigName"] },
        ]);
        expect(plan.operations).toEqual(
            expect.arrayContaining([
                { type: ENDPOINT_CONFIG, name: sagemakerChildNames("fraud-detector", "4").endpointConfiguration, op: "create", changed: [] },
            ]),
        );
    }, 60_000);
});

describe("mlops plan on the Kubernetes example stack", () => {
    const example = rawConfigFromStackFile("stacks/Pulumi.kubernetes-example.yaml");

    it("rolls back 3 -> 2 (warm) by moving the Service selector, with no replace and no new Deployment for 2", async () => {
        const plan = await planPinChange(example, "2");
        expect(plan.summary.replace).toBe(0);
        expect(plan.operations.filter((o) => o.type === SERVICE)).toEqual([
            { type: SERVICE, name: "fraud-detector-service", op: "update", changed: ['spec.selector["mlops-rollback/version"]'] },
        ]);
        expect(plan.operations.filter((o) => o.name === "fraud-detector-deployment-2")).toEqual([]);
        // The Deployment of the version rolled back from goes; 1 never served here, so nothing is built for it.
        expect(plan.operations.filter((o) => o.type === DEPLOYMENT)).toEqual([
            { type: DEPLOYMENT, name: "fraud-detector-deployment-3", op: "delete", changed: [] },
        ]);
        expect(plan.servingHistory).toEqual({ versions: ["3"], known: false });
    }, 60_000);
});

describe("warm means served last: mlops plan of a deploy that skips a version", () => {
    const kubernetes = (pinned: string, warm = 1) => sagemakerRawConfig({ target: "kubernetes", sagemaker: undefined, pinned, warm, kubernetes: {} }, 4);
    const deployments = (plan: { operations: { type: string; name: string; op: string }[] }) =>
        plan.operations.filter((o) => o.type === DEPLOYMENT).map((o) => `${o.op} ${o.name}`);

    it("the issue's case: 2 serves, deploy straight to 4 keeps 2 as the standby and the rollback target, and builds nothing for 3", async () => {
        const plan = await planPinChange(kubernetes("2"), "4", { servingHistory: ["1", "2"] });
        expect(deployments(plan)).toEqual(["delete fraud-detector-deployment-1", "create fraud-detector-deployment-4"]);
        expect(plan.restoreBudget.rollbackVersion).toBe("2");
        expect(plan.warmStandIn).toBeUndefined();
    }, 60_000);

    it("with warm 2, keeps the two that served last (3 never did)", async () => {
        const plan = await planPinChange(kubernetes("2", 2), "4", { servingHistory: ["1", "2"] });
        expect(deployments(plan)).toEqual(["create fraud-detector-deployment-4"]);
        expect(plan.restoreBudget.rollbackVersion).toBe("2");
    }, 60_000);

    it("on SageMaker, keeps 2's Model and config, and creates none for 3", async () => {
        const plan = await planPinChange(sagemakerRawConfig({ pinned: "2" }, 4), "4", { servingHistory: ["1", "2"] });
        const three = sagemakerChildNames("fraud-detector", "3");
        const two = sagemakerChildNames("fraud-detector", "2");
        expect(plan.operations.filter((o) => [three.model, three.endpointConfiguration, two.model, two.endpointConfiguration].includes(o.name))).toEqual([]);
        expect(plan.restoreBudget.rollbackVersion).toBe("2");
    }, 60_000);
});

describe("rollback property (in-process mock runs)", () => {
    it("for any catalog, serving record, pin, warm and target, the default rollback target served, is not quarantined, and rolling back to it never creates or replaces it and moves one pointer", async () => {
        const scenarios = fc
            .record({
                target: fc.constantFrom("sagemaker" as const, "kubernetes" as const),
                count: fc.integer({ min: 2, max: 6 }),
                warm: fc.integer({ min: 0, max: 5 }),
                standbyReplicas: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
                pinOffset: fc.nat(),
                quarantineMask: fc.nat(),
                // The record: an order of distinct versions (a shuffled subset of the catalog).
                servedSeed: fc.shuffledSubarray(["1", "2", "3", "4", "5", "6"]),
            })
            .map(({ target, count, warm, standbyReplicas, pinOffset, quarantineMask, servedSeed }) => {
                const pinned = String(1 + (pinOffset % count));
                const quarantined = Array.from({ length: count }, (_, i) => String(i + 1)).filter((id, i) => id !== pinned && (quarantineMask >> i) & 1);
                const targetSection = target === "sagemaker" ? {} : { target, sagemaker: undefined, kubernetes: { standbyReplicas } };
                const raw = sagemakerRawConfig({ warm, pinned, quarantined, ...targetSection }, count);
                // The stack serves the pin: it is last in its own record.
                const servingHistory = [...servedSeed.filter((id) => Number(id) <= count && id !== pinned), pinned];
                return { target, raw, pinned, quarantined, servingHistory, rollbackTo: defaultRollbackTarget({ ...parseStackConfig(raw), servingHistory }) };
            })
            // Every run exercises a rollback; that no target is also right is the catalog properties' job (test/catalog.test.ts).
            .filter((scenario) => scenario.rollbackTo !== undefined);
        await fc.assert(
            fc.asyncProperty(scenarios, async ({ target, raw, pinned, quarantined, servingHistory, rollbackTo }) => {
                if (rollbackTo === undefined) throw new Error("filtered out above");
                // Served on this stack, or, where nothing but the pin has served, a stand-in that says so; never quarantined.
                if (servingHistory.length > 1) expect(servingHistory.slice(0, -1)).toContain(rollbackTo);
                else
                    expect(warmSet({ ...parseStackConfig(raw), servingHistory }).standIn).toMatch(
                        new RegExp(`versions? (\\d, )*${rollbackTo}(, \\d)*, the catalog's previous`),
                    );
                expect(quarantined).not.toContain(rollbackTo);
                const before = await recordProgram(parseStackConfig(raw), "plan", { servingHistory });
                // What mlops rollback runs: the target pinned, the version left quarantined.
                const afterConfig = parseStackConfig({ ...raw, pinned: rollbackTo, quarantined: [...quarantined, pinned] });
                const after = await recordProgram(afterConfig, "plan", { servingHistory });
                const operations = diffRegistrations(before, after);
                expect(operations.filter((o) => o.op === "replace")).toEqual([]);
                if (target === "sagemaker") {
                    const names = sagemakerChildNames("fraud-detector", rollbackTo);
                    expect(operations.filter((o) => o.name === names.model || o.name === names.endpointConfiguration)).toEqual([]);
                    expect(operations.filter((o) => o.type === ENDPOINT)).toEqual([
                        { type: ENDPOINT, name: "fraud-detector-endpoint", op: "update", changed: ["endpointConfigName"] },
                    ]);
                } else {
                    // The target's Deployment exists; at most its replica count changes (standby -> serving).
                    const targetDeployment = operations.filter((o) => o.name === `fraud-detector-deployment-${rollbackTo}`);
                    expect(targetDeployment.every((o) => o.op === "update" && o.changed.join() === "spec.replicas")).toBe(true);
                    expect(operations.filter((o) => o.type === SERVICE)).toEqual([
                        { type: SERVICE, name: "fraud-detector-service", op: "update", changed: ['spec.selector["mlops-rollback/version"]'] },
                    ]);
                }
            }),
            { numRuns: 40 },
        );
    }, 180_000);
});
