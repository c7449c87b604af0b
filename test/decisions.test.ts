import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../config/schema";
import {
    decideDeploy,
    decideRollback,
    decideUnfinishedRollback,
    parseUpdateMessage,
    updateMessage,
    type Decision,
    type PinChange,
    type StackView,
} from "../rollback/decisions";
import { nextLedger, stickyRefusal, withLedgerQuarantine, ledgerFromOutput, rollbackEventFrom } from "../rollback/ledger";
import { sagemakerRawConfig } from "./helpers";

/**
 * The parsed config with the stack's serving record. By default the stack
 * served each catalog version in turn up to the pin, so that "served last"
 * and "the catalog's previous" agree and the tests below read as plain rules.
 */
function config(overrides: Record<string, unknown> = {}, count = 4, servingHistory?: string[]): StackView {
    const parsed = parseStackConfig(sagemakerRawConfig(overrides, count));
    const order = parsed.versions.map((v) => v.version);
    return { ...parsed, servingHistory: servingHistory ?? order.slice(0, order.indexOf(parsed.pinned) + 1) };
}

function accepted(decision: Decision): PinChange {
    if (!decision.ok) throw new Error(`expected a change, got the refusal: ${decision.refusal}`);
    return decision.change;
}

function refused(decision: Decision): string {
    if (decision.ok) throw new Error(`expected a refusal, got ${JSON.stringify(decision.change)}`);
    return decision.refusal;
}

describe("decideRollback", () => {
    it("by default goes to the newest warm version before the pin, quarantines the one it leaves and records why", () => {
        // Strictly: a change carries no key it has no value for (no standIn where the target served here).
        expect(accepted(decideRollback(config({ warm: 2 }), { reason: "5xx rate 4%" }))).toStrictEqual({
            kind: "rollback",
            from: "4",
            to: "3",
            quarantined: ["4"],
            allowRedeploy: [],
            warm: true,
            message: "rollback 4 -> 3: 5xx rate 4%",
            reason: "5xx rate 4%",
        });
    });

    it("skips quarantined versions when choosing the default target", () => {
        expect(accepted(decideRollback(config({ warm: 2, quarantined: ["3"] }), {})).to).toBe("2");
    });

    it("records 'manual rollback' when no reason is given", () => {
        expect(accepted(decideRollback(config(), {})).message).toBe("rollback 4 -> 3: manual rollback");
    });

    it.each([
        [{}, { version: "9" }, "--version 9: not in mlops:versions (known: 1, 2, 3, 4)"],
        [{}, { version: "4" }, "--version 4: already the pinned version"],
        [{ pinned: "2" }, { version: "3" }, "--version 3: comes after the pinned 2 in the catalog; use mlops deploy --version 3"],
        [{ warm: 2, quarantined: ["3"] }, { version: "3" }, "--version 3: quarantined (a rollback left it); pass --force"],
        [{ warm: 0 }, {}, "no warm version to roll back to from 4: mlops:warm is 0. Pass --version <v> --allow-cold"],
        [
            { warm: 1, quarantined: ["1", "2", "3"] },
            {},
            "no warm version to roll back to from 4: no earlier version that served on this stack may be pinned again (served here before: 1, 2, 3; quarantined: 1, 2, 3)",
        ],
    ])("refuses %j with %j", (overrides, request, message) => {
        expect(refused(decideRollback(config(overrides), request))).toContain(message);
    });

    it("refuses a cold target without --allow-cold and says what would be created", () => {
        expect(refused(decideRollback(config(), { version: "1" }))).toBe(
            "--version 1: not warm (warm: 3, the latest versions that served here before 4), so the rollback would first create a SageMaker Model and EndpointConfiguration (fraud-detector-model-1, fraud-detector-config-1) and a new instance fleet and wait for it to become ready; pass --allow-cold to accept that, or pick a warm version",
        );
        const kubernetes = config({ target: "kubernetes", sagemaker: undefined, kubernetes: { replicas: 3 } });
        expect(refused(decideRollback(kubernetes, { version: "1" }))).toContain("the Deployment fraud-detector-1 with 3 new pods that must load the model");
    });

    it("rolls back cold with --allow-cold", () => {
        const change = accepted(decideRollback(config(), { version: "1", allowCold: true }));
        expect(change).toMatchObject({ to: "1", warm: false, quarantined: ["4"] });
    });

    it("with --force (and --allow-cold: a quarantined version is never kept warm), rolls back to a quarantined version, releases it, and still quarantines the one it leaves", () => {
        const change = accepted(decideRollback(config({ warm: 2, quarantined: ["3"] }), { version: "3", force: true, allowCold: true }));
        expect(change).toMatchObject({ to: "3", quarantined: ["4"], allowRedeploy: ["3"] });
    });

    it("lists every warm version when it refuses a cold target, or says there is none", () => {
        expect(refused(decideRollback(config({ warm: 2 }, 5), { version: "1" }))).toContain(
            "--version 1: not warm (warm: 3, 4, the latest versions that served here before 5), so the rollback would first create",
        );
        expect(refused(decideRollback(config({ warm: 0 }), { version: "2" }))).toContain(
            "--version 2: not warm (warm: none, the latest versions that served here before 4)",
        );
    });

    it("says when the warm version only stands in for a serving record (a first deploy): a cold target is refused with why, a warm one carries why", () => {
        const firstDeploy = config({}, 4, []);
        expect(refused(decideRollback(firstDeploy, { version: "1" }))).toContain(
            "--version 1: not warm (warm: 3, the catalog's previous, standing in: nothing but 4 has served here), so the rollback would first create",
        );
        expect(accepted(decideRollback(firstDeploy, {})).standIn).toBe(
            "nothing but 4 has served on this stack yet (a first deploy, or a stack last updated before mlops-rollback kept a serving record), " +
                "so version 3, the catalog's previous one, is kept warm as the rollback target though it has not served here",
        );
        // Cold, the stand-in is not what the rollback goes to: nothing to say.
        expect(accepted(decideRollback(firstDeploy, { version: "2", allowCold: true })).standIn).toBeUndefined();
        expect(accepted(decideRollback(config(), {})).standIn).toBeUndefined();
    });

    it("with --force to a quarantined version, releases only that one: the others stay quarantined", () => {
        expect(accepted(decideRollback(config({ warm: 2, quarantined: ["1", "3"] }), { version: "3", force: true, allowCold: true }))).toMatchObject({
            quarantined: ["1", "4"],
            allowRedeploy: ["3"],
        });
    });

    it("holds the version it rolls back from again, even where an earlier --force released it, and keeps the other releases", () => {
        expect(accepted(decideRollback(config({ rollback: { allowRedeploy: ["4", "2"] } }), {}))).toMatchObject({
            quarantined: ["4"],
            allowRedeploy: ["2"],
        });
    });

    it("says why there is no target: the pin is the catalog's first version, or nothing that served before it may be pinned again", () => {
        expect(refused(decideRollback(config({ pinned: "1" }, 4, ["1"]), {}))).toBe(
            "no warm version to roll back to from 1: 1 is the catalog's first version. Pass --version <v> --allow-cold to roll back to a version that must be built first",
        );
        // Only the pin has served, and every earlier version is quarantined.
        expect(refused(decideRollback(config({ quarantined: ["1", "2", "3"] }, 4, ["4"]), {}))).toContain(
            "no earlier version that served on this stack may be pinned again (nothing but 4 has served here)",
        );
        // 5 served before 4 (rolled back from, then released): it comes after the pin, and is not quarantined.
        expect(refused(decideRollback(config({ pinned: "4" }, 5, ["5", "4"]), {}))).toContain(
            "no earlier version that served on this stack may be pinned again (served here before: 5). Pass --version",
        );
    });

    it("never rolls back to the pin, a quarantined version without --force, or a later version (property)", () => {
        fc.assert(
            fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 5 }), fc.nat(), fc.nat(), (count, warm, pinSeed, quarantineMask) => {
                const pinned = String(1 + (pinSeed % count));
                const quarantined = Array.from({ length: count }, (_, i) => String(i + 1)).filter((id, i) => id !== pinned && (quarantineMask >> i) & 1);
                const c = config({ pinned, warm, quarantined }, count);
                const decision = decideRollback(c, {});
                // A refusal only when no warm version before the pin is left.
                const eligible = c.versions.slice(0, Number(pinned) - 1).filter((v) => !quarantined.includes(v.version));
                if (!decision.ok) return warm === 0 || eligible.length === 0;
                const { to, from, quarantined: after } = decision.change;
                return to !== from && !c.quarantined.includes(to) && Number(to) < Number(from) && after.includes(from) && !after.includes(to);
            }),
        );
    });
});

describe("decideDeploy", () => {
    it("pins a later version and records it, with no reason or stand-in when there is none", () => {
        expect(accepted(decideDeploy(config({ pinned: "2" }), { version: "4" }))).toStrictEqual({
            kind: "deploy",
            from: "2",
            to: "4",
            quarantined: [],
            allowRedeploy: [],
            warm: false,
            message: "deploy 2 -> 4",
        });
    });

    it.each([
        [{ pinned: "2" }, "9", "--version 9: not in mlops:versions"],
        [{}, "4", "--version 4: already the pinned version"],
        [{ pinned: "3" }, "1", "--version 1: comes before the pinned 3; use mlops rollback --version 1"],
        [{ pinned: "2", quarantined: ["4"] }, "4", "--version 4: quarantined (a rollback left it); pass --force if it is safe again"],
    ])("refuses %j --version %s", (overrides, version, message) => {
        expect(refused(decideDeploy(config(overrides), { version }))).toContain(message);
    });

    it("on a stack's first deploy, says which version stands in as warm and why; once a version served, says nothing", () => {
        const first = accepted(decideDeploy(config({ pinned: "3" }, 4, []), { version: "3", deployedPin: null }));
        expect(first.standIn).toContain("nothing but 3 has served on this stack yet");
        expect(first.standIn).toContain("so version 2, the catalog's previous one, is kept warm");
        expect(accepted(decideDeploy(config({ pinned: "2" }, 4, ["2"]), { version: "4" })).standIn).toBeUndefined();
    });

    it("with --force, deploys a quarantined version and releases it from the quarantine and the ledger", () => {
        expect(accepted(decideDeploy(config({ pinned: "2", quarantined: ["4"] }), { version: "4", force: true }))).toMatchObject({
            quarantined: [],
            allowRedeploy: ["4"],
        });
    });

    it("names the whole catalog when it refuses a version it does not know", () => {
        expect(refused(decideDeploy(config({ pinned: "2" }), { version: "9" }))).toBe(
            "--version 9: not in mlops:versions (known: 1, 2, 3, 4); add it to the catalog first",
        );
    });

    it("records a stack's first deploy as from its pin, with no reason of its own", () => {
        expect(accepted(decideDeploy(config({ pinned: "3" }, 4, []), { version: "3", deployedPin: null }))).toMatchObject({
            from: "3",
            to: "3",
            message: "deploy 3 -> 3",
        });
    });

    it("moves forward from the pin, whatever older version the stack still runs or whichever version a stale file missed", () => {
        // The stack runs 1 (a deploy to 2 did not finish): deploying 4 moves from the pin, 2.
        expect(accepted(decideDeploy(config({ pinned: "2" }), { version: "4", deployedPin: "1" }))).toMatchObject({ from: "2", message: "deploy 2 -> 4" });
        // The stack already runs 4 but this file pins 2: a plain deploy, not the end of an unfinished one.
        expect(accepted(decideDeploy(config({ pinned: "2" }), { version: "4", deployedPin: "4" }))).toMatchObject({ from: "2", message: "deploy 2 -> 4" });
    });

    it("does not deploy the pin again when what the stack runs is unknown (offline) or a version the catalog no longer lists", () => {
        expect(refused(decideDeploy(config({ pinned: "4" }), { version: "4", rerun: true }))).toBe(
            "--version 4: already the pinned version; nothing to deploy",
        );
        expect(refused(decideDeploy(config({ pinned: "3" }), { version: "3", deployedPin: "9" }))).toBe(
            "--version 3: already the pinned version; nothing to deploy",
        );
    });

    it("records the reason given, in the change and its message", () => {
        expect(accepted(decideDeploy(config({ pinned: "2" }), { version: "4", reason: "new model" }))).toMatchObject({
            message: "deploy 2 -> 4: new model",
            reason: "new model",
        });
    });

    it("on a first deploy, names as the stand-in the newest earlier version that is not quarantined", () => {
        expect(accepted(decideDeploy(config({ pinned: "3", quarantined: ["2"] }, 4, []), { version: "3", deployedPin: null })).standIn).toContain(
            "so version 1, the catalog's previous one, is kept warm",
        );
    });

    it("with --force, releases the version it deploys and keeps every other quarantined one", () => {
        expect(accepted(decideDeploy(config({ pinned: "2", quarantined: ["1", "4"] }), { version: "4", force: true }))).toMatchObject({
            quarantined: ["1"],
            allowRedeploy: ["4"],
        });
    });
});

describe("update messages", () => {
    it("round-trips kind, versions and reason, folding the reason onto one line", () => {
        const message = updateMessage("rollback", "4", "3", "alarm fired\n  at 09:00");
        expect(message).toBe("rollback 4 -> 3: alarm fired at 09:00");
        expect(parseUpdateMessage(message)).toEqual({ kind: "rollback", from: "4", to: "3", reason: "alarm fired at 09:00" });
        expect(parseUpdateMessage("deploy 2 -> 3")).toStrictEqual({ kind: "deploy", from: "2", to: "3" });
        expect(parseUpdateMessage("pulumi up by alice")).toBeUndefined();
    });

    it("trims a reason and leaves a blank one out", () => {
        expect(updateMessage("rollback", "4", "3", "  5xx alarm \n")).toBe("rollback 4 -> 3: 5xx alarm");
        expect(updateMessage("rollback", "4", "3", " \n ")).toBe("rollback 4 -> 3");
    });

    it("reads only messages that are wholly ours, with version ids of any length", () => {
        expect(parseUpdateMessage("rollback v10 -> v9: alarm")).toEqual({ kind: "rollback", from: "v10", to: "v9", reason: "alarm" });
        expect(parseUpdateMessage("deploy 2024.1 -> 2024.2")).toEqual({ kind: "deploy", from: "2024.1", to: "2024.2" });
        expect(parseUpdateMessage("revert: deploy 2 -> 3")).toBeUndefined();
    });
});

describe("the quarantine ledger", () => {
    const entry = { at: "2026-11-27T08:00:00.000Z", reason: "5xx", rolledBackTo: "3" };

    it("refuses a pin of a version in the ledger and names the rollback", () => {
        expect(stickyRefusal({ "4": entry }, config())).toContain("version 4 was rolled back to 3 at 2026-11-27T08:00:00.000Z (5xx)");
        expect(stickyRefusal({ "2": entry }, config())).toBeUndefined();
    });

    it("lets allowRedeploy release a version", () => {
        expect(stickyRefusal({ "4": entry }, config({ rollback: { allowRedeploy: ["4"] } }))).toBeUndefined();
        expect(nextLedger({ "4": entry }, config({ rollback: { allowRedeploy: ["4"] } }), undefined, "now")).toEqual({});
    });

    it("quarantines ledger versions the config forgot, but never the pin", () => {
        expect(withLedgerQuarantine(config({ quarantined: [] }), { "2": entry, "9": entry }).quarantined).toEqual(["2"]);
    });

    it("adds newly quarantined versions and the rollback event, keeping earlier entries as they were", () => {
        const previous = { "1": { at: "earlier", reason: "old" } };
        const event = { from: "4", to: "3", reason: "alarm", at: "2026-11-27T09:00:00.000Z" };
        expect(nextLedger(previous, config({ pinned: "3", quarantined: ["2", "4"] }), event, "now")).toEqual({
            "1": { at: "earlier", reason: "old" },
            "2": { at: "now", reason: "listed in mlops:quarantined" },
            "4": { at: "2026-11-27T09:00:00.000Z", reason: "alarm", rolledBackTo: "3" },
        });
    });

    it("reads untyped outputs and events defensively", () => {
        expect(ledgerFromOutput(undefined)).toEqual({});
        expect(ledgerFromOutput({ "4": entry, bad: { at: 1 } })).toEqual({ "4": entry });
        expect(rollbackEventFrom("not json")).toBeUndefined();
        expect(rollbackEventFrom(JSON.stringify({ from: "4", to: "3" }))).toBeUndefined();
    });
});

describe("an update the stack file records but the stack never finished", () => {
    // The file after `mlops rollback` 4 -> 3 wrote it; the stack still runs 4.
    const rolledBackFile = () => config({ pinned: "3", quarantined: ["4"] });

    it("mlops rollback (no --version, or the pinned one) runs that rollback again, from what the stack runs", () => {
        for (const version of [undefined, "3"]) {
            expect(decideUnfinishedRollback(rolledBackFile(), "4", {}, { version })).toEqual({
                ok: true,
                change: {
                    kind: "rollback",
                    from: "4",
                    to: "3",
                    quarantined: ["4"],
                    allowRedeploy: [],
                    warm: true,
                    message: "rollback 4 -> 3: finishing a rollback that did not complete",
                    reason: "finishing a rollback that did not complete",
                },
            });
        }
    });

    it("does not apply once the rollback finished, to another --version, to a stack never deployed or to a version the file does not quarantine", () => {
        const entry = { at: "2026-11-27T08:00:00.000Z", reason: "5xx", rolledBackTo: "3" };
        expect(decideUnfinishedRollback(rolledBackFile(), "3", {}, {})).toBeUndefined(); // the stack runs the pin
        expect(decideUnfinishedRollback(rolledBackFile(), "4", { "4": entry }, {})).toBeUndefined(); // the ledger has the rollback
        expect(decideUnfinishedRollback(rolledBackFile(), "4", {}, { version: "2" })).toBeUndefined();
        expect(decideUnfinishedRollback(rolledBackFile(), null, {}, {})).toBeUndefined();
        expect(decideUnfinishedRollback(config({ pinned: "3" }), "4", {}, {})).toBeUndefined(); // a failed deploy 4 -> 3 is no rollback
        // A stale file whose pin the stack's ledger holds: the normal refusal decides, not this.
        expect(decideUnfinishedRollback(rolledBackFile(), "4", { "3": { ...entry, rolledBackTo: "2" } }, {})).toBeUndefined();
    });

    it("with --force, finishes it even where the stack's ledger holds the pin, and keeps the file's releases", () => {
        const entry = { at: "2026-11-27T08:00:00.000Z", reason: "5xx", rolledBackTo: "2" };
        expect(decideUnfinishedRollback(rolledBackFile(), "4", { "3": entry }, { force: true })).toMatchObject({ ok: true, change: { from: "4", to: "3" } });
        const released = config({ pinned: "3", quarantined: ["4"], rollback: { allowRedeploy: ["2"] } });
        expect(decideUnfinishedRollback(released, "4", {}, { reason: "5xx" })).toMatchObject({
            ok: true,
            change: { allowRedeploy: ["2"], message: "rollback 4 -> 3: 5xx", reason: "5xx" },
        });
    });

    it("is no rollback when the file pins a later version than the stack runs (a deploy that did not finish)", () => {
        expect(decideUnfinishedRollback(config({ pinned: "4", quarantined: ["3"] }), "3", {}, {})).toBeUndefined();
    });

    it("mlops deploy --version <the pin> runs a deploy again when the stack runs an earlier version, from that version", () => {
        const change = accepted(decideDeploy(config({ pinned: "4" }), { version: "4", deployedPin: "3" }));
        expect(change).toMatchObject({ from: "3", to: "4", message: "deploy 3 -> 4" });
        expect(refused(decideDeploy(config({ pinned: "4" }), { version: "4", deployedPin: "4" }))).toContain("already the pinned version");
        expect(refused(decideDeploy(config({ pinned: "4" }), { version: "4" }))).toContain("already the pinned version");
        // A stale file pinning 3 while the stack runs 4 is no unfinished deploy: no silent downgrade.
        expect(refused(decideDeploy(config({ pinned: "3" }), { version: "3", deployedPin: "4" }))).toContain("already the pinned version");
    });

    it("mlops deploy --version <the pin> runs the last update again when it was cut short or failed at the version the stack runs", () => {
        expect(accepted(decideDeploy(config({ pinned: "4" }), { version: "4", deployedPin: "4", rerun: true }))).toMatchObject({
            from: "4",
            to: "4",
            message: "deploy 4 -> 4: finishing an update that did not complete",
        });
    });
});
