import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextServingRecord, SERVING_RECORD_LENGTH, servedVersions, servingRecordFromOutput, servingRecordOf } from "../rollback/servingRecord";

describe("the serving record", () => {
    it("puts a newly pinned version last, with this run's time, and moves a version that serves again", () => {
        const previous = [
            { version: "1", since: "t1" },
            { version: "2", since: "t2" },
        ];
        expect(nextServingRecord(previous, "3", "t3")).toEqual([...previous, { version: "3", since: "t3" }]);
        expect(nextServingRecord(previous, "1", "t3")).toEqual([
            { version: "2", since: "t2" },
            { version: "1", since: "t3" },
        ]);
    });

    it("stays as it was when the pin did not change (a plain pulumi up)", () => {
        const previous = [
            { version: "1", since: "t1" },
            { version: "2", since: "t2" },
        ];
        expect(nextServingRecord(previous, "2", "t3")).toEqual(previous);
    });

    it(`keeps the newest ${SERVING_RECORD_LENGTH} versions`, () => {
        const long = Array.from({ length: SERVING_RECORD_LENGTH }, (_, i) => ({ version: String(i) }));
        const next = nextServingRecord(long, "new", "t");
        expect(next).toHaveLength(SERVING_RECORD_LENGTH);
        expect(servedVersions(next).at(0)).toBe("1");
        expect(servedVersions(next).at(-1)).toBe("new");
    });

    it("reads a stack last updated before the record as having served its standbys, then its pin (kept, not deleted, through the upgrade), and an empty stack as nothing", () => {
        expect(servingRecordFromOutput(undefined, "3")).toEqual([{ version: "3" }]);
        expect(servingRecordFromOutput(undefined, "3", ["1", "2", "3"])).toEqual([{ version: "1" }, { version: "2" }, { version: "3" }]);
        expect(servingRecordFromOutput(undefined, undefined, ["1"])).toEqual([]);
        // A record, once there, is all that counts.
        expect(servingRecordFromOutput([{ version: "3" }], "3", ["1", "2", "3"])).toEqual([{ version: "3" }]);
    });

    it("reads untyped outputs defensively: bad entries dropped, a duplicate keeps its last place", () => {
        expect(servingRecordFromOutput([{ version: "1" }, { version: 2 }, null, "x", { version: "3", since: 5 }, { version: "1", since: "t" }], "3")).toEqual([
            { version: "3" },
            { version: "1", since: "t" },
        ]);
    });

    it(`cuts a record to the newest ${SERVING_RECORD_LENGTH} even when the pin did not change`, () => {
        // A record written longer than the limit (by hand, or by a program that kept more) shrinks on the next plain pulumi up.
        const long = Array.from({ length: SERVING_RECORD_LENGTH + 5 }, (_, i) => ({ version: String(i) }));
        const next = nextServingRecord(long, String(SERVING_RECORD_LENGTH + 4), "t");
        expect(next).toEqual(long.slice(5));
    });

    it("reads an older program's standbys as served only where they are version ids", () => {
        expect(servingRecordFromOutput(undefined, "3", [2, "1", null, "3"])).toEqual([{ version: "1" }, { version: "3" }]);
        expect(servingRecordFromOutput(undefined, "3", "1")).toEqual([{ version: "3" }]);
    });

    it("reads a stack's record from its mlops output: servingHistory, else an older program's pinnedVersion and warmVersions, else nothing", () => {
        expect(servingRecordOf(undefined)).toEqual([]);
        expect(servingRecordOf({ servingHistory: [{ version: "2", since: "t2" }], pinnedVersion: "3", warmVersions: ["1"] })).toEqual([
            { version: "2", since: "t2" },
        ]);
        expect(servingRecordOf({ pinnedVersion: "3", warmVersions: ["2"] })).toEqual([{ version: "2" }, { version: "3" }]);
    });

    it("always holds each version once with the pin last, whatever it started from (property)", () => {
        const ids = fc.constantFrom("1", "2", "3", "4", "5");
        fc.assert(
            fc.property(fc.array(fc.record({ version: ids })), ids, (raw, pinned) => {
                const next = servedVersions(nextServingRecord(servingRecordFromOutput(raw, undefined), pinned, "now"));
                return next.at(-1) === pinned && new Set(next).size === next.length;
            }),
        );
    });
});
