/**
 * The quarantine ledger (rollback/ledger.ts): what makes a rollback stick
 * when a stale copy of the stack file would undo it, and how the ledger and
 * the rollback event are read back from untyped outputs and environment.
 * decisions.test.ts covers the ledger's part in the decisions.
 */
import { describe, expect, it } from "vitest";
import { parseStackConfig, type StackConfig } from "../config/schema";
import { ledgerFromOutput, nextLedger, ROLLBACK_EVENT_ENV, rollbackEventFrom, stickyRefusal, withLedgerQuarantine } from "../rollback/ledger";
import { sagemakerRawConfig } from "./helpers";

/** Versions 1..4, pinned to 4 unless overridden. */
const config = (overrides: Record<string, unknown> = {}): StackConfig => parseStackConfig(sagemakerRawConfig(overrides, 4));

const AT = "2026-11-27T08:00:00.000Z";

describe("stickiness: a config pinning a version a rollback left", () => {
    it("is refused, naming the rollback, the version to pin instead, and how to release the version", () => {
        expect(stickyRefusal({ "4": { at: AT, reason: "5xx", rolledBackTo: "3" } }, config())).toBe(
            "mlops:pinned is 4, but version 4 was rolled back to 3 at 2026-11-27T08:00:00.000Z (5xx). " +
                "This config is probably older than that rollback: update it (pin 3), " +
                "or, if 4 is safe again, add it to mlops:rollback.allowRedeploy (mlops deploy --version 4 --force does that).",
        );
    });

    it("is refused without a target when the ledger does not know where the rollback went (a version listed in mlops:quarantined)", () => {
        const refusal = stickyRefusal({ "4": { at: AT, reason: "listed in mlops:quarantined" } }, config());
        expect(refusal).toContain("version 4 was rolled back at 2026-11-27T08:00:00.000Z (listed in mlops:quarantined). ");
        expect(refusal).toContain("update it (pin a later version)");
    });
});

describe("the ledger a run writes", () => {
    it("keeps the first record of why a version was quarantined when the config lists it too", () => {
        const previous = { "2": { at: AT, reason: "5xx", rolledBackTo: "1" } };
        expect(nextLedger(previous, config({ quarantined: ["2"] }), undefined, "later")).toEqual(previous);
    });

    it("keeps the pin out of the quarantine the decisions see, even where the ledger holds it (the refusal above names it)", () => {
        const held = withLedgerQuarantine(config({ quarantined: ["1"] }), { "4": { at: AT, reason: "5xx" }, "2": { at: AT, reason: "5xx" } });
        expect(held.quarantined).toEqual(["1", "2"]);
    });
});

describe("the rollback event mlops rollback hands the program", () => {
    it(`travels in ${ROLLBACK_EVENT_ENV}: the name the CLI and a program built from another release of this package agree on`, () => {
        expect(ROLLBACK_EVENT_ENV).toBe("MLOPS_ROLLBACK_EVENT");
    });

    it("is read with its four fields, and afterFastPath only when it is true", () => {
        const event = { from: "4", to: "3", reason: "5xx", at: AT };
        expect(rollbackEventFrom(JSON.stringify(event))).toEqual(event);
        expect(rollbackEventFrom(JSON.stringify({ ...event, afterFastPath: true }))).toEqual({ ...event, afterFastPath: true });
        expect(rollbackEventFrom(JSON.stringify({ ...event, afterFastPath: "yes" }))).toStrictEqual(event);
        expect(rollbackEventFrom(JSON.stringify({ ...event, extra: 1 }))).toStrictEqual(event);
    });

    it("is ignored when absent, empty, not JSON, JSON but not an object, or missing a field or with a field that is not text", () => {
        expect(rollbackEventFrom(undefined)).toBeUndefined();
        expect(rollbackEventFrom("")).toBeUndefined();
        expect(rollbackEventFrom("{")).toBeUndefined();
        expect(rollbackEventFrom("null")).toBeUndefined();
        expect(rollbackEventFrom("[]")).toBeUndefined();
        expect(rollbackEventFrom(JSON.stringify({ from: "4", to: "3", reason: "5xx", at: 1700000000 }))).toBeUndefined();
        expect(rollbackEventFrom(JSON.stringify({ from: "4", to: "3", at: AT }))).toBeUndefined();
    });
});

describe("the ledger read back from the stack's outputs", () => {
    it("keeps each entry with its time and reason as text, and its target only when it is text", () => {
        expect(
            ledgerFromOutput({
                "4": { at: AT, reason: "5xx", rolledBackTo: "3" },
                "3": { at: AT, reason: "5xx", rolledBackTo: 2 },
                "2": { at: AT, reason: 5 },
                "1": { at: 5, reason: "5xx" },
                "0": null,
            }),
        ).toStrictEqual({ "4": { at: AT, reason: "5xx", rolledBackTo: "3" }, "3": { at: AT, reason: "5xx" } });
    });

    it("is empty when the output is missing or not a map", () => {
        expect(ledgerFromOutput(null)).toEqual({});
        expect(ledgerFromOutput("4")).toEqual({});
    });
});
