import { describe, expect, it } from "vitest";
import { nextRetainedVersions } from "../catalog/catalog";
import {
    decideSwitch,
    ownershipToRelease,
    selectorSwitchPatch,
    SWITCH_FIELD_MANAGER,
    trafficOf,
    trafficOnTarget,
    type SwitchPolicy,
} from "../rollback/kubernetesSwitch";

const target = { leaving: ["3"], to: "2" };
const UID = "5b2f6c1e-0d4a-4c3e-9a57-2f0e8d1c9b10";
const policy: SwitchPolicy = { replicas: 2, atReducedCapacity: false, startupTimeoutSeconds: 600 };

describe("decideSwitch", () => {
    it("switches a hot standby: as many ready pods as replicas, or more", () => {
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 2 }, target, policy)).toEqual({
            kind: "switch",
            reducedCapacity: false,
            why: "version 2 has 2 ready pods (hot standby)",
        });
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 5 }, target, policy).kind).toBe("switch");
    });

    it("leaves a partial standby to the update by default, and switches it at reduced capacity only when told", () => {
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 1 }, target, policy)).toEqual({
            kind: "through-update",
            why: "version 2 has 1 of 2 pods ready (partial standby); the update scales version 2 to 2 pods and then moves the Service: up to 600 s (mlops:kubernetes.startupTimeoutSeconds) while its pods load the model. To switch first at reduced capacity, set mlops:kubernetes.rollbackAtReducedCapacity: true",
        });
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 1 }, target, { ...policy, atReducedCapacity: true })).toMatchObject({
            kind: "switch",
            reducedCapacity: true,
        });
    });

    it("never switches to a version with no ready pod", () => {
        for (const atReducedCapacity of [false, true]) {
            expect(decideSwitch({ uid: UID, selected: "3", targetReady: 0 }, target, { ...policy, atReducedCapacity })).toEqual({
                kind: "through-update",
                why: "version 2 has no ready pods; the update scales version 2 to 2 pods and then moves the Service: up to 600 s (mlops:kubernetes.startupTimeoutSeconds) while its pods load the model",
            });
        }
    });

    it("writes nothing when the Service already selects the target, and refuses when it selects neither version", () => {
        expect(decideSwitch({ uid: UID, selected: "2", targetReady: 0 }, target, policy).kind).toBe("already-switched");
        expect(decideSwitch({ uid: UID, selected: "1", targetReady: 2 }, target, policy)).toEqual({
            kind: "refuse",
            why: "the Service selects version 1, not 3, the version this rollback leaves: it was changed outside this stack; nothing was written",
        });
        expect(decideSwitch({ uid: UID, selected: undefined, targetReady: 2 }, target, policy).why).toMatch(/^the Service selects version \(none\), not 3/);
        // After an update that did not finish, the version the stack recorded may be the one left.
        expect(decideSwitch({ uid: UID, selected: "4", targetReady: 2 }, { ...target, leaving: ["3", "4"] }, policy).kind).toBe("switch");
    });

    it("refuses a target whose Deployment was scaled down or deleted outside the stack: the update would see no change and move traffic onto nothing", () => {
        const declared = { ...policy, standbyReplicas: 2 };
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 0, targetReplicas: 0 }, target, declared)).toEqual({
            kind: "refuse",
            why: "version 2's Deployment runs 0 replicas, where the stack declares 2: it was changed outside the stack, and this rollback would move traffic onto pods that are not there; nothing was written. Put it back (kubectl scale, or pulumi up --refresh), then roll back again",
        });
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 0 }, target, declared).why).toMatch(
            /^version 2's Deployment is gone, where the stack declares 2/,
        );
        // A standby declared at zero is no drift: the update scales it up.
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 0, targetReplicas: 0 }, target, { ...policy, standbyReplicas: 0 }).kind).toBe(
            "through-update",
        );
        // Scaling up (a new pod loading) is no drift either.
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 1, targetReplicas: 2 }, target, declared).kind).toBe("through-update");
    });

    it("goes through the update when there is no such Service, or it is not the stack's (another cluster's uid)", () => {
        expect(decideSwitch({ selected: undefined, targetReady: 0 }, target, policy).kind).toBe("through-update");
        expect(decideSwitch({ uid: "other", selected: "3", targetReady: 2 }, { ...target, serviceUid: UID }, policy)).toEqual({
            kind: "through-update",
            why: `the Service mlops reaches (uid other) is not the stack's (uid ${UID}): the kubeconfig mlops reads (kubernetes:kubeconfig of the stack file, else KUBECONFIG) points at another cluster than the stack's provider`,
        });
        expect(decideSwitch({ uid: UID, selected: "3", targetReady: 2 }, { ...target, serviceUid: UID }, policy).kind).toBe("switch");
    });
});

describe("selectorSwitchPatch", () => {
    it("tests the version being left and replaces it in one patch, with the label's '/' escaped (RFC 6901)", () => {
        expect(selectorSwitchPatch("3", "2", UID)).toEqual([
            { op: "test", path: "/metadata/uid", value: UID },
            { op: "test", path: "/spec/selector/mlops-rollback~1version", value: "3" },
            { op: "replace", path: "/spec/selector/mlops-rollback~1version", value: "2" },
        ]);
        expect(selectorSwitchPatch("3", "2")).toEqual([
            { op: "test", path: "/spec/selector/mlops-rollback~1version", value: "3" },
            { op: "replace", path: "/spec/selector/mlops-rollback~1version", value: "2" },
        ]);
    });
});

describe("trafficOf", () => {
    const pod = (name: string, ready?: boolean | null) => ({ targetRef: { kind: "Pod", name }, ...(ready === undefined ? {} : { conditions: { ready } }) });

    it("is on the target only when every ready endpoint is one of its pods, and there is one", () => {
        const switched = trafficOf(
            [pod("fraud-detector-2-abc-1", true), pod("fraud-detector-2-abc-2", null), pod("fraud-detector-3-def-1", false)],
            "fraud-detector-2",
        );
        expect(switched).toEqual({ targetReady: 2, otherReady: 0 });
        expect(trafficOnTarget(switched)).toBe(true);

        const lagging = trafficOf([pod("fraud-detector-2-abc-1", true), pod("fraud-detector-3-def-1", true)], "fraud-detector-2");
        expect(lagging).toEqual({ targetReady: 1, otherReady: 1 });
        expect(trafficOnTarget(lagging)).toBe(false);

        expect(trafficOnTarget(trafficOf([], "fraud-detector-2"))).toBe(false);
        expect(trafficOnTarget(trafficOf([pod("fraud-detector-2-abc-1", false)], "fraud-detector-2"))).toBe(false);
    });

    it("does not take version 20's or 2-rc1's pods for version 2's", () => {
        expect(trafficOf([pod("fraud-detector-20-7c9f8d-abcde", true)], "fraud-detector-2")).toEqual({ targetReady: 0, otherReady: 1 });
        expect(trafficOf([pod("fraud-detector-2-rc1-7c9f8d-abcde", true)], "fraud-detector-2")).toEqual({ targetReady: 0, otherReady: 1 });
        expect(trafficOf([pod("fraud-detector-2-7c9f8d-abcde", true)], "fraud-detector-2")).toEqual({ targetReady: 1, otherReady: 0 });
    });
});

describe("ownershipToRelease", () => {
    const pulumiApply = { manager: "pulumi-kubernetes-409a1513", operation: "Apply", fieldsV1: { "f:spec": { "f:selector": {} } } };
    const switchUpdate = { manager: SWITCH_FIELD_MANAGER, operation: "Update", fieldsV1: { "f:spec": { "f:selector": {} } } };

    it("gives the selector back once the stack records the version it selects", () => {
        expect(ownershipToRelease([pulumiApply, switchUpdate], "2", ["2"])).toEqual({ kind: "release", index: 1 });
        // Nobody else owning it is fine too: removing an entry changes no value.
        expect(ownershipToRelease([switchUpdate], "2", ["2"])).toEqual({ kind: "release", index: 0 });
        // Before an update mlops runs: the version it moves the Service away from.
        expect(ownershipToRelease([pulumiApply, switchUpdate], "2", ["3", "2"])).toEqual({ kind: "release", index: 1 });
    });

    it("keeps it while the switch is not recorded: a stale update must still conflict", () => {
        expect(ownershipToRelease([pulumiApply, switchUpdate], "2", ["3"])).toEqual({
            kind: "keep",
            why: "the Service selects version 2, and the stack records 3: the switch is not recorded yet",
        });
    });

    it("has nothing to release when mlops-rollback owns nothing", () => {
        expect(ownershipToRelease([pulumiApply], "2", ["2"])).toEqual({ kind: "none" });
    });
});

describe("nextRetainedVersions", () => {
    const versions = ["1", "2", "3", "4"].map((version) => ({ version }));
    const at = (pinned: string) => ({ pinned, versions });

    it("keeps what a rollback (or a chain of them) left, until the next forward deploy retires them all", () => {
        expect(nextRetainedVersions([], "3", at("2"))).toEqual(["3"]);
        expect(nextRetainedVersions(["3"], "2", at("1"))).toEqual(["2", "3"]);
        // A plain pulumi up, or the reconcile of an unfinished rollback: the record stays.
        expect(nextRetainedVersions(["2", "3"], "1", at("1"))).toEqual(["2", "3"]);
        // Forward, even to a version between: retired.
        expect(nextRetainedVersions(["2", "3"], "1", at("4"))).toEqual([]);
        expect(nextRetainedVersions(["3"], "1", at("2"))).toEqual([]);
    });

    it("never retains the pin or a version gone from the catalog, and keeps the record on a first deploy", () => {
        expect(nextRetainedVersions(["3"], "3", at("3"))).toEqual([]);
        expect(nextRetainedVersions(["9", "3"], "4", at("2"))).toEqual(["3", "4"]);
        expect(nextRetainedVersions([], null, at("3"))).toEqual([]);
        expect(nextRetainedVersions(["3"], "9", at("2"))).toEqual(["3"]);
    });
});
