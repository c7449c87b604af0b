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
