/**
 * `mlops rollback` on SageMaker with standby: hot: the weights switch before
 * the update, and every way it may not happen. The engine is a FakeStack and
 * SageMaker a FakeSageMaker (each stands for the layer below the CLI: the
 * Automation API, the SageMaker API); the same calls against emulated AWS
 * are in test/sagemakerHotStandby.moto.test.ts.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { endpointVariantsFor, type EndpointVariantsRecord } from "../catalog/endpointVariants";
import { runPinChange, type PinChangeDeps, type PinChangeOptions } from "../cli/pinChange";
import type { LiveEndpoint, LiveVariant, VariantCall } from "../components/endpointVariantWeights";
import { decideWeightsSwitch } from "../rollback/sagemakerWeightsSwitch";
import { FakeStack } from "./fixtures/fakeStack";

const ROOT = path.resolve(__dirname, "..");
const CONFIG_NAME = "fraud-detector-config-3-a1b2c3d";
const ENDPOINT = "fraud-detector-endpoint-d4e5f6a";

/** Stands for SageMaker's DescribeEndpoint and UpdateEndpointWeightsAndCapacities: one endpoint, every call the CLI made. */
class FakeSageMaker {
    readonly calls: string[] = [];
    status = "InService";
    configName = CONFIG_NAME;
    /** Readings DescribeEndpoint gives before `status` (e.g. Updating, Updating). */
    statusQueue: string[] = [];
    /** An error every update fails with, if set. */
    updateError: Error | undefined;
    constructor(public variants: LiveVariant[]) {}
    describe(endpointName: string): Promise<LiveEndpoint> {
        this.calls.push(`describe ${endpointName}`);
        const status = this.statusQueue.shift() ?? this.status;
        return Promise.resolve({ status, configName: this.configName, variants: this.variants.map((v) => ({ ...v })) });
    }
    update(endpointName: string, variants: readonly VariantCall[]): Promise<void> {
        this.calls.push(
            `update ${endpointName} ${variants.map((v) => `${v.variantName}:w${v.weight}${v.instanceCount === undefined ? "" : `x${v.instanceCount}`}`).join(" ")}`,
        );
        if (this.updateError !== undefined) return Promise.reject(this.updateError);
        this.variants = this.variants.map((live) => {
            const asked = variants.find((v) => v.variantName === live.variantName);
            return asked === undefined ? live : { ...live, weight: asked.weight ?? live.weight, instanceCount: asked.instanceCount ?? live.instanceCount };
        });
        return Promise.resolve();
    }
}

const record = (standbyInstanceCount: number): EndpointVariantsRecord =>
    endpointVariantsFor({
        settings: { instanceType: "ml.m5.large", instanceCount: 2, variantName: "primary", standbyVariantName: "standby", standbyInstanceCount },
        pinned: "3",
        standby: "2",
        quarantined: [],
        catalog: ["1", "2", "3"],
    }).record;

let projectDir: string;
let file: string;
let stack: FakeStack;
let stderr: string;
let events: string[];

function useStandby(standbyInstanceCount: number): void {
    const withoutStandby = readFileSync(file, "utf8").replace(/ {4}standby: hot\n( {4}standbyInstanceCount: \d+\n)?/, "");
    writeFileSync(
        file,
        withoutStandby.replace(
            "    variantName: primary\n",
            `    variantName: primary\n    standby: hot\n${standbyInstanceCount === 2 ? "" : `    standbyInstanceCount: ${standbyInstanceCount}\n`}`,
        ),
    );
    stack.outputsAfterUp = {
        target: "sagemaker",
        pinnedVersion: "3",
        servingHistory: [
            { version: "2", since: "2026-11-20T09:00:00.000Z" },
            { version: "3", since: "2026-11-26T09:00:00.000Z" },
        ],
        sagemaker: {
            endpointName: ENDPOINT,
            endpointConfigNames: { "2": CONFIG_NAME, "3": CONFIG_NAME },
            standby: "hot",
            endpointVariants: record(standbyInstanceCount),
        },
    };
}

beforeEach(() => {
    projectDir = mkdtempSync(path.join(tmpdir(), "mlops-sagemaker-switch-"));
    mkdirSync(path.join(projectDir, "stacks"));
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(projectDir, "Pulumi.yaml"));
    file = path.join(projectDir, "stacks", "Pulumi.prod.yaml");
    writeFileSync(file, readFileSync(path.join(ROOT, "stacks", "Pulumi.sagemaker-example.yaml"), "utf8"));
    stack = new FakeStack("prod", file);
    useStandby(2);
    stderr = "";
    events = [];
});

const pinnedInFile = (): string => /mlops:pinned: "(\w+)"/.exec(readFileSync(file, "utf8"))?.[1] ?? "?";
const options = (extra: Partial<PinChangeOptions> = {}): PinChangeOptions => ({ stack: "prod", file, projectDir, yes: true, version: "2", ...extra });

function deps(sagemaker: FakeSageMaker, overrides: Partial<PinChangeDeps> = {}): PinChangeDeps {
    const up = stack.up.bind(stack);
    stack.up = (upOptions) => {
        events.push(`up (file pins ${pinnedInFile()})`);
        return up(upOptions);
    };
    return {
        openStack: () => Promise.resolve(stack),
        verifierFor: () => ({ verify: (_outputs, pinned) => Promise.resolve({ ok: true, detail: `version ${pinned} carries all the weight` }) }),
        sagemakerWeights: () => ({
            describe: (name) => {
                events.push(`describe (file pins ${pinnedInFile()})`);
                return sagemaker.describe(name);
            },
            update: (name, variants) => {
                events.push(`update (file pins ${pinnedInFile()})`);
                return sagemaker.update(name, variants);
            },
        }),
        sleep: () => Promise.resolve(),
        notify: () => Promise.resolve(),
        stdout: () => undefined,
        stderr: (text) => (stderr += text),
        now: () => new Date("2026-11-27T09:00:00.000Z"),
        ...overrides,
    };
}

const full = (): FakeSageMaker =>
    new FakeSageMaker([
        { variantName: "primary", weight: 1, instanceCount: 2 },
        { variantName: "standby", weight: 0, instanceCount: 2 },
    ]);

describe("mlops rollback on SageMaker with standby: hot", () => {
    it("moves the weight with one call, confirms it on DescribeEndpoint, and only then runs the update that records it", async () => {
        const sagemaker = full();
        const result = await runPinChange("rollback", options(), deps(sagemaker));
        expect(sagemaker.calls.filter((call) => call.startsWith("update"))).toEqual([`update ${ENDPOINT} primary:w0 standby:w1`]);
        expect(events.filter((event) => !event.startsWith("describe"))).toEqual(["update (file pins 2)", "up (file pins 2)"]);
        expect(sagemaker.variants).toEqual([
            { variantName: "primary", weight: 0, instanceCount: 2 },
            { variantName: "standby", weight: 1, instanceCount: 2 },
        ]);
        expect(result).toMatchObject({ kind: "rollback", from: "3", to: "2", result: "succeeded", trafficSwitchedSeconds: 0 });
        expect(stderr).toContain(`Moving endpoint ${ENDPOINT} from 3 to 2 with one UpdateEndpointWeightsAndCapacities call`);
        expect(stderr).toContain("Traffic is on 2: variant standby carries all the weight, 0 s after the rollback began.");
        expect(stack.calls[0].options.rollbackEvent).toMatchObject({ from: "3", to: "2" });
    });

    it("with a partial standby, raises its instance count first, then moves the weight, and says it may take minutes", async () => {
        useStandby(1);
        const sagemaker = new FakeSageMaker([
            { variantName: "primary", weight: 1, instanceCount: 2 },
            { variantName: "standby", weight: 0, instanceCount: 1 },
        ]);
        await runPinChange("rollback", options(), deps(sagemaker));
        expect(sagemaker.calls.filter((call) => call.startsWith("update"))).toEqual([
            `update ${ENDPOINT} standby:w0x2`,
            `update ${ENDPOINT} primary:w0 standby:w1`,
        ]);
        expect(stderr).toContain(
            "variant standby runs 1 of 2 instances: its count is raised first (SageMaker adds instances in minutes; AWS publishes no figure)",
        );
    });

    it("waits while SageMaker is busy with the endpoint, and never calls until it is InService", async () => {
        const sagemaker = full();
        sagemaker.statusQueue = ["Updating", "Updating"];
        await runPinChange("rollback", options(), deps(sagemaker));
        // Two Updating readings waited out, the InService one decided on, a fresh reading before the call, then the one call.
        expect(sagemaker.calls.slice(0, 5)).toEqual([
            `describe ${ENDPOINT}`,
            `describe ${ENDPOINT}`,
            `describe ${ENDPOINT}`,
            `describe ${ENDPOINT}`,
            `update ${ENDPOINT} primary:w0 standby:w1`,
        ]);
        expect(sagemaker.calls.filter((call) => call.startsWith("update"))).toHaveLength(1);
        expect(stderr).toContain(`Endpoint ${ENDPOINT}: the endpoint is Updating; waiting for SageMaker to finish (0 s)...`);
    });

    it("writes nothing when the weight is on the standby already (the alarm trigger moved it), and records the rollback", async () => {
        const sagemaker = new FakeSageMaker([
            { variantName: "primary", weight: 0, instanceCount: 2 },
            { variantName: "standby", weight: 1, instanceCount: 2 },
        ]);
        const result = await runPinChange("rollback", options(), deps(sagemaker));
        expect(sagemaker.calls.filter((call) => call.startsWith("update"))).toEqual([]);
        expect(stderr).toContain(
            "Variant standby (version 2) carries all the weight already (the alarm trigger or another run moved it); nothing was written.",
        );
        expect(result.result).toBe("succeeded");
    });

    it.each([
        [
            "the endpoint runs another config (e.g. an update of this stack that changed it and then failed)",
            (s: FakeSageMaker) => void (s.configName = "fraud-detector-config-4-zzz"),
            "the endpoint runs config fraud-detector-config-4-zzz, not",
        ],
        [
            "the weight is split (moved outside the stack)",
            (s: FakeSageMaker) => void (s.variants = s.variants.map((v) => ({ ...v, weight: 0.5 }))),
            "the weight is on primary and standby, not on variant primary of version 3 alone",
        ],
        ["the endpoint failed", (s: FakeSageMaker) => void (s.status = "Failed"), "the endpoint is Failed, not InService"],
    ])("moves no weight, and leaves the switch to the update, when %s", async (_why, setUp, message) => {
        const sagemaker = full();
        setUp(sagemaker);
        const result = await runPinChange("rollback", options(), deps(sagemaker));
        expect(sagemaker.calls.filter((call) => call.startsWith("update"))).toEqual([]);
        expect(stderr).toContain(`No weights switch: ${message}`);
        expect(stderr).toContain("the update moves traffic (SageMaker starts a new fleet if the config changes).");
        expect(events).toEqual(["describe (file pins 3)", "up (file pins 2)"]);
        expect(result.trafficSwitchedSeconds).toBeUndefined();
    });

    it("puts the stack file back and fails when the call fails and no weight is on the target or on its way there", async () => {
        const sagemaker = full();
        sagemaker.updateError = new Error("AccessDeniedException: not authorized to perform sagemaker:UpdateEndpointWeightsAndCapacities");
        const before = readFileSync(file, "utf8");
        const run = runPinChange("rollback", options(), deps(sagemaker));
        await expect(run).rejects.toThrow(
            /the weights switch of endpoint .* to 2 failed \(AccessDeniedException: .*\), and no weight is on 2 or on its way there; .*Pulumi\.prod\.yaml is as it was/,
        );
        expect(stack.calls).toEqual([]);
        expect(readFileSync(file, "utf8")).toBe(before);
    });

    it("keeps the stack file pinning the target when the call fails but SageMaker shows the weight on its way (DesiredWeight)", async () => {
        const sagemaker = full();
        sagemaker.updateError = new Error("socket hang up");
        const describe = sagemaker.describe.bind(sagemaker);
        let reads = 0;
        sagemaker.describe = async (name) => {
            const live = await describe(name);
            // From the reading after the error on: the call had landed, and SageMaker is applying it.
            return ++reads < 3
                ? live
                : { ...live, status: "Updating", variants: live.variants.map((v) => (v.variantName === "standby" ? { ...v, desiredWeight: 1 } : v)) };
        };
        const result = await runPinChange("rollback", options(), deps(sagemaker));
        expect(stderr).toContain("warning: the weights switch reported socket hang up, but variant standby has or is getting weight");
        expect(pinnedInFile()).toBe("2");
        expect(result.trafficSwitchedSeconds).toBeUndefined();
    });

    it("puts the stack file back when the calls end without any weight on the target (a raise that never takes)", async () => {
        useStandby(1);
        const sagemaker = new FakeSageMaker([
            { variantName: "primary", weight: 1, instanceCount: 2 },
            { variantName: "standby", weight: 0, instanceCount: 1 },
        ]);
        const update = sagemaker.update.bind(sagemaker);
        // SageMaker accepts the raise but never adds the instances.
        sagemaker.update = (name, variants) => {
            if (variants.length > 1) return update(name, variants);
            sagemaker.calls.push("update ignored");
            return Promise.resolve();
        };
        const before = readFileSync(file, "utf8");
        await expect(runPinChange("rollback", options(), deps(sagemaker))).rejects.toThrow(
            /after 2 UpdateEndpointWeightsAndCapacities call\(s\) SageMaker still shows no weight on variant standby .*Pulumi\.prod\.yaml is as it was/,
        );
        expect(readFileSync(file, "utf8")).toBe(before);
        expect(stack.calls).toEqual([]);
    });

    it("a rollback to a version that is not a variant of the config (cold) goes through the update", async () => {
        const sagemaker = full();
        writeFileSync(file, readFileSync(file, "utf8").replace("mlops:warm: 1", "mlops:warm: 2"));
        stack.outputsAfterUp = {
            ...stack.outputsAfterUp,
            servingHistory: [
                { version: "1", since: "2026-11-10T09:00:00.000Z" },
                { version: "2", since: "2026-11-20T09:00:00.000Z" },
                { version: "3", since: "2026-11-26T09:00:00.000Z" },
            ],
        };
        await runPinChange("rollback", options({ version: "1" }), deps(sagemaker));
        expect(sagemaker.calls).toEqual([]);
        expect(stderr).toContain("No weights switch: version 1 is not a variant of the endpoint's config (only 3, 2 are); the update starts a new fleet.");
        expect(events).toEqual(["up (file pins 1)"]);
    });

    it("under cold standby never calls SageMaker before the update", async () => {
        writeFileSync(file, readFileSync(file, "utf8").replace("    standby: hot\n", ""));
        const sagemaker = full();
        await runPinChange("rollback", options(), deps(sagemaker));
        expect(sagemaker.calls).toEqual([]);
        expect(events).toEqual(["up (file pins 2)"]);
    });
});

describe("decideWeightsSwitch", () => {
    const target = { configName: CONFIG_NAME, record: record(2), from: "3", to: "2", instanceCount: 2 };
    const live = (variants: LiveVariant[], status = "InService"): LiveEndpoint => ({ status, configName: CONFIG_NAME, variants });

    it("is busy while SageMaker changes the endpoint", () => {
        for (const status of ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"]) {
            expect(decideWeightsSwitch(live([{ variantName: "primary", weight: 1, instanceCount: 2 }], status), target).kind).toBe("busy");
        }
    });

    it("refuses a config without the target's variant live, and leaves a version outside the config to the update", () => {
        expect(decideWeightsSwitch(live([{ variantName: "primary", weight: 1, instanceCount: 2 }]), target)).toEqual({
            kind: "refuse",
            why: "the endpoint shows no variant standby",
        });
        expect(decideWeightsSwitch(live([]), { ...target, to: "1" }).kind).toBe("through-update");
    });

    it("at reduced capacity, one call with weight and count together", () => {
        const decision = decideWeightsSwitch(
            live([
                { variantName: "primary", weight: 1, instanceCount: 2 },
                { variantName: "standby", weight: 0, instanceCount: 1 },
            ]),
            { ...target, record: record(1), atReducedCapacity: true },
        );
        expect(decision).toEqual({
            kind: "switch",
            // Only the count that rises is sent: the call changes the capacity of one variant.
            calls: [
                [
                    { variantName: "primary", weight: 0 },
                    { variantName: "standby", weight: 1, instanceCount: 2 },
                ],
            ],
            why: "all weight to variant standby at once, on 1 of 2 instances until SageMaker adds the rest",
        });
    });
});
