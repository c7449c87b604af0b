import { copyFileSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../cli/main";
import { historyEntry, renderHistory, renderStatus, statusFrom } from "../cli/stackInfo";
import { isPrintable } from "../cli/terminalText";
import { FakeStack } from "./fixtures/fakeStack";

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

describe("status and history print text from the stack as text, never as terminal commands", () => {
    // An update message carries the --reason of a rollback run before the CLI refused control characters, or of a plain `pulumi up -m`.
    const forged = "rollback 3 -> 2: fine\n2026-11-27T10:00:00.000Z  deploy    9       succeeded  deploy 2 -> 9\u001b[2J";
    const forgedUpdate = { kind: "update", startTime: new Date("2026-11-27T09:00:00Z"), result: "succeeded", message: forged, pinned: "2" };

    it("history: one row per update, the forged line and the escape sequence shown escaped", () => {
        const table = renderHistory([historyEntry(forgedUpdate), historyEntry(lastUpdate)]);
        expect(table.split("\n")).toHaveLength(3);
        expect(table).not.toContain("\u001b");
        expect(table).toContain("fine\\n2026-11-27T10:00:00.000Z  deploy    9       succeeded  deploy 2 -> 9\\x1b[2J");
        // Widths count the escaped text: the columns before the message still line up.
        const [header, first] = table.split("\n");
        expect(first.indexOf("rollback 3 -> 2")).toBe(header.indexOf("message"));
    });

    it("status: the last update's message and a ledger reason stay on their own line, escaped", () => {
        const status = statusFrom(
            "prod",
            { ...outputs, quarantineLedger: { "3": { rolledBackTo: "2", at: "2026-11-27T09:00:00.000Z", reason: "alarm\r  warm versions: 9\u009b2J" } } },
            [forgedUpdate],
        );
        const text = renderStatus(status);
        expect(text.split("\n")).toHaveLength(6);
        expect(text).toContain("  quarantined:   3 (alarm\\r  warm versions: 9\\x9b2J, 2026-11-27T09:00:00.000Z)");
        expect(text).toContain("  last update:   2026-11-27T09:00:00.000Z update succeeded: rollback 3 -> 2: fine\\n2026-11-27T10:00:00.000Z");
        // Nothing but the line breaks between the lines is a control character.
        expect(isPrintable(text.replace(/\n/g, ""))).toBe(true);
    });

    it("status: a model name or an error from the cluster with control characters in it, escaped", () => {
        const live = { error: "dial tcp: \u001b]0;owned\u0007" };
        const text = renderStatus({ ...statusFrom("prod", { ...outputs, model: "m\u001b[1m" }, []), live });
        expect(text).toContain("Stack prod: m\\x1b[1m on kubernetes");
        expect(text).toContain("could not read the Service (dial tcp: \\x1b]0;owned\\x07)");
    });
});

describe("mlops status and history, the commands (a FakeStack stands for the engine)", () => {
    const forgedMessage = "rollback 3 -> 2: ok\u009b2J\u001b]0;pwned\u0007\n2026-11-27T10:00:00.000Z  deploy";

    async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
        const project = mkdtempSync(path.join(tmpdir(), "mlops-info-"));
        mkdirSync(path.join(project, "stacks"));
        copyFileSync(path.join(__dirname, "..", "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
        const file = path.join(project, "stacks", "Pulumi.prod.yaml");
        copyFileSync(path.join(__dirname, "..", "stacks", "Pulumi.kubernetes-example.yaml"), file);
        const stack = new FakeStack("prod", file);
        stack.outputsAfterUp = { ...outputs, quarantineLedger: { "3": { rolledBackTo: "2", at: "2026-11-27T09:00:00.000Z", reason: "x\u2028y" } } };
        stack.history_ = [{ kind: "update", startTime: new Date("2026-11-27T09:00:00Z"), result: "succeeded", message: forgedMessage, pinned: "2" }];
        const out = { stdout: "", stderr: "" };
        const io = { stdout: (text: string) => (out.stdout += text), stderr: (text: string) => (out.stderr += text), cwd: project };
        const deps = {
            openStack: () => Promise.resolve(stack),
            selectedStack: () => Promise.resolve("prod"),
            pinChange: () => Promise.reject(new Error("not used")),
        };
        return { code: await main(["node", "mlops", ...args], io, deps), ...out };
    }

    it.each([["history"], ["status"]])("%s prints the forged message escaped, as text and as JSON", async (command) => {
        const text = await run([command, "--stack", "prod"]);
        expect(text.code, text.stderr).toBe(0);
        expect(text.stdout).toContain("ok\\x9b2J\\x1b]0;pwned\\x07\\n2026-11-27T10:00:00.000Z  deploy");
        expect(isPrintable(text.stdout.replace(/\n/g, ""))).toBe(true);
        const json = await run([command, "--stack", "prod", "--json"]);
        expect(json.stdout.trimEnd()).not.toContain("\n");
        expect(isPrintable(json.stdout.trimEnd())).toBe(true);
        expect(JSON.stringify(JSON.parse(json.stdout))).toContain(JSON.stringify(forgedMessage).slice(1, -1));
    });
});
