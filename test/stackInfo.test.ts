import { describe, expect, it } from "vitest";
import { renderStatus, statusFrom } from "../cli/stackInfo";

const outputs = {
    model: "fraud-detector",
    target: "kubernetes",
    pinnedVersion: "3",
    warmVersions: ["1"],
    servingHistory: [{ version: "1" }, { version: "3", since: "2026-11-27T09:00:00.000Z" }],
    kubernetes: { namespace: "fraud", serviceName: "fraud-detector" },
};
const lastUpdate = { kind: "update", startTime: new Date("2026-11-27T09:00:00Z"), result: "succeeded", message: "deploy 2 -> 3" };

describe("mlops status", () => {
    it("shows what serves, the warm versions, the endpoint and the last update", () => {
        expect(renderStatus(statusFrom("prod", outputs, [lastUpdate]))).toBe(
            [
                "Stack prod: fraud-detector on kubernetes, serving version 3",
                "  warm versions: 1",
                "  served here:   1, 3 (from 2026-11-27T09:00:00.000Z)",
                "  endpoint:      Service fraud/fraud-detector",
                "  last update:   2026-11-27T09:00:00.000Z deploy succeeded: deploy 2 -> 3",
            ].join("\n"),
        );
    });

    it("reads a stack last updated before the serving record: the pin is not counted as warm, and its standbys are taken as having served before it", () => {
        const older = { ...outputs, warmVersions: ["2", "3"], servingHistory: undefined };
        expect(statusFrom("prod", older, [])).toMatchObject({ warmVersions: ["2"], servingHistory: [{ version: "2" }, { version: "3" }] });
    });

    it("says which version stands in, and why, when nothing else has served", () => {
        const standIn = "nothing but 3 has served on this stack yet (...)";
        expect(renderStatus(statusFrom("prod", { ...outputs, warmVersions: ["2"], warmStandIn: standIn }, []))).toContain(`  warm versions: 2 (${standIn})`);
    });

    it("says when an update was cut short, with what it left unfinished", () => {
        const pending = [{ operation: "updating", type: "kubernetes:core/v1:Service", name: "fraud-detector-service", urn: "urn:x" }];
        const status = statusFrom("prod", outputs, [lastUpdate], pending);
        expect(status.interrupted).toEqual(pending);
        expect(renderStatus(status)).toContain(
            "  interrupted:   an update was cut short with updating fraud-detector-service unfinished; the next mlops deploy or rollback repairs that first",
        );
        expect(statusFrom("prod", outputs, [lastUpdate], [])).not.toHaveProperty("interrupted");
    });
});

describe("mlops status under SageMaker hot standby", () => {
    const endpointVariants = {
        instanceType: "ml.g5.xlarge",
        createdFor: "3",
        variants: [
            { variantName: "primary", version: "3", initialWeight: 1, initialInstanceCount: 2 },
            { variantName: "standby", version: "2", initialWeight: 0, initialInstanceCount: 1 },
        ],
    };
    const outputs = (pinnedVersion: string) => ({
        model: "fraud-detector",
        target: "sagemaker",
        pinnedVersion,
        servingHistory: [{ version: "2" }, { version: "3" }],
        sagemaker: { endpointName: "fraud-ep", standby: "hot", endpointVariants },
    });

    it("names each variant's version and role", () => {
        expect(renderStatus(statusFrom("prod", outputs("3"), []))).toContain(
            "  variants:      primary: 3 (serving, 2 × ml.g5.xlarge as created); standby: 2 (hot standby, weight 0, 1 × ml.g5.xlarge as created)",
        );
    });

    it("after a rollback within the config, says the version left keeps running at weight 0 until the next deploy", () => {
        expect(renderStatus(statusFrom("prod", outputs("2"), []))).toContain(
            "  variants:      primary: 3 (left by a rollback, running at weight 0 until the next deploy, 2 × ml.g5.xlarge as created); standby: 2 (serving, 1 × ml.g5.xlarge as created)",
        );
    });

    it("shows no variants line under cold standby", () => {
        expect(renderStatus(statusFrom("prod", { ...outputs("3"), sagemaker: { endpointName: "fraud-ep" } }, []))).not.toContain("variants:");
    });
});
