import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { editStackFileText } from "../config/stackFileEdit";

const edit = { pinned: "2", quarantined: ["1", "3"], allowRedeploy: [] };

describe("editStackFileText", () => {
    it("replaces values where they stand: every other byte, comments and their indentation included, stays", () => {
        const text = [
            "config:",
            '  mlops:pinned: "3"   # the serving one',
            '  mlops:quarantined: ["1"] # held back',
            "  mlops:sagemaker:",
            "    deployment:",
            "      strategy: canary",
            "      # rollbackAlarmNames: [a]",
            "  # a comment about the next section, at its indent",
            "  mlops:alarms: {}",
            "",
        ].join("\n");
        const out = editStackFileText(text, edit);
        expect(out).toBe(text.replace('"3"   #', '"2"   #').replace('["1"] #', '[ "1", "3" ] #'));
    });

    it("re-renders a block list (its text runs into the next line) and still yields the edit", () => {
        const text = 'config:\n  mlops:pinned: 3\n  mlops:quarantined:\n    - "1"\n  mlops:rollback:\n    notify: https://hooks.example.com/x\n';
        expect(parse(editStackFileText(text, edit))).toEqual({
            config: { "mlops:pinned": "2", "mlops:quarantined": ["1", "3"], "mlops:rollback": { notify: "https://hooks.example.com/x" } },
        });
    });

    it("re-renders a block scalar pin rather than splicing across its lines", () => {
        const text = "config:\n  mlops:pinned: >-\n    3\n  mlops:quarantined: []\n";
        expect(parse(editStackFileText(text, edit))).toEqual({ config: { "mlops:pinned": "2", "mlops:quarantined": ["1", "3"] } });
    });

    it("adds allowRedeploy only when it has entries", () => {
        const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n';
        expect(editStackFileText(text, { ...edit, allowRedeploy: [] })).not.toContain("allowRedeploy");
        const parsed = parse(editStackFileText(text, { ...edit, allowRedeploy: ["3"] })) as { config: Record<string, unknown> };
        expect(parsed.config["mlops:rollback"]).toEqual({ allowRedeploy: ["3"] });
    });

    it("records a database restore as one more line of mlops:database, at its indentation, and replaces an earlier one in place", () => {
        const text = [
            "config:",
            '  mlops:pinned: "3"',
            "  mlops:quarantined: []",
            "  # the feature store",
            "  mlops:database:",
            "    kind: instance",
            "    identifier: fraud-features # managed elsewhere",
            "  # alarms next",
            "  mlops:alarms: {}",
            "",
        ].join("\n");
        const first = editStackFileText(text, { ...edit, restoredInto: "fraud-features-restore-202611271305" });
        expect(first).toBe(
            text
                .replace('"3"', '"2"')
                .replace("[]", '[ "1", "3" ]')
                .replace("# managed elsewhere\n", '# managed elsewhere\n    restoredInto: "fraud-features-restore-202611271305"\n'),
        );
        const second = editStackFileText(first, { ...edit, restoredInto: "fraud-features-restore-202612010900" });
        expect(second).toBe(first.replace("202611271305", "202612010900"));
    });
});
