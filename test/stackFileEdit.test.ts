import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { StackFileError } from "../config/sources";
import { editStackFile, editStackFileText, replaceFile } from "../config/stackFileEdit";

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

    it("re-renders a block scalar pin rather than splicing across its lines, keeping the file's final newline", () => {
        expect(editStackFileText("config:\n  mlops:pinned: >-\n    3\n  mlops:quarantined: []\n", edit)).toBe(
            'config:\n  mlops:pinned: >-\n    2\n  mlops:quarantined: [ "1", "3" ]\n',
        );
        // At the end of the file the block scalar's text takes the last newline with it.
        expect(editStackFileText("config:\n  mlops:quarantined: []\n  mlops:pinned: >-\n    3\n", edit)).toBe(
            'config:\n  mlops:quarantined: [ "1", "3" ]\n  mlops:pinned: >-\n    2\n',
        );
    });

    it("writes a list spread over several lines back on its key's line, even when its versions are unchanged", () => {
        // GIVEN a pin change that leaves the quarantine as it is
        const text = 'config:\n  mlops:pinned: "3"   # the serving one\n  mlops:quarantined: [\n    "1",\n    "3",\n  ]\n';
        // THEN the list is not one line of text, so the document is re-rendered
        expect(editStackFileText(text, edit)).toBe('config:\n  mlops:pinned: "2" # the serving one\n  mlops:quarantined: [ "1", "3" ]\n');
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
            '  mlops:pinned: "3"   # the serving one',
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

describe("editStackFileText: what the file lacks, and what it cannot hold", () => {
    it("refuses a file without a config map", () => {
        for (const text of ["", "other: 1\n", "config:\n", "config: []\n"]) {
            expect(() => editStackFileText(text, edit), JSON.stringify(text)).toThrow(new StackFileError("the stack file has no 'config:' map to edit"));
        }
    });

    it("refuses to record a restore in a file without mlops:database", () => {
        expect(() => editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n', { ...edit, restoredInto: "r-1" })).toThrow(
            new StackFileError("the stack file has no 'mlops:database:' map to record the restore in"),
        );
    });

    it("adds a key the file lacks after its others, and a release under its mlops:rollback, keeping that section's other settings", () => {
        const text = 'config:\n  mlops:pinned: "3" # pin\n  mlops:rollback:\n    notify: https://hooks.example.com/x\n';
        expect(editStackFileText(text, { ...edit, allowRedeploy: ["3"] })).toBe(
            'config:\n  mlops:pinned: "2" # pin\n  mlops:rollback:\n    notify: https://hooks.example.com/x\n    allowRedeploy: [ "3" ]\n  mlops:quarantined: [ "1", "3" ]\n',
        );
    });

    it("adds mlops:rollback for a file's first release, as one flow list", () => {
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n', { ...edit, allowRedeploy: ["3"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:rollback:\n    allowRedeploy: [ "3" ]\n',
        );
    });

    it("empties a release list in place when a rollback holds the version again", () => {
        const text =
            'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n  mlops:rollback:\n    notify: https://hooks.example.com/x\n    allowRedeploy: ["3"] # released\n';
        expect(editStackFileText(text, edit)).toBe(text.replace('"3"\n', '"2"\n').replace("[]", '[ "1", "3" ]').replace('["3"] #', "[] #"));
    });

    it("fills a release list in place when a rollback releases a version", () => {
        const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n  mlops:rollback:\n    allowRedeploy: []   # none released\n';
        expect(editStackFileText(text, { ...edit, allowRedeploy: ["3"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:rollback:\n    allowRedeploy: [ "3" ]   # none released\n',
        );
    });

    it("writes a list for an empty value of a flow config map, spaced like the map's other entries", () => {
        expect(editStackFileText('config: { "mlops:pinned": "3", "mlops:quarantined": }\n', edit)).toBe(
            'config: { "mlops:pinned": "2", "mlops:quarantined": [ "1", "3" ] }\n',
        );
    });

    it("keeps a splice only if it reads back as the edit: a list tagged as another type is written back as a plain list", () => {
        // Under YAML 1.1, `!!omap [ "3" ]` is a map, not the list of versions the splice meant.
        const text = '%YAML 1.1\n---\nconfig:\n  mlops:pinned: "3"\n  mlops:quarantined: !!omap []\n  mlops:rollback:\n    allowRedeploy: []\n';
        expect(editStackFileText(text, edit)).toBe(
            '%YAML 1.1\n---\nconfig:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:rollback:\n    allowRedeploy: []\n',
        );
        const releaseTagged = text.replace("!!omap []", "[]").replace("allowRedeploy: []", "allowRedeploy: !!omap []");
        expect(editStackFileText(releaseTagged, { ...edit, allowRedeploy: ["3"] })).toBe(
            '%YAML 1.1\n---\nconfig:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:rollback:\n    allowRedeploy: [ "3" ]\n',
        );
    });

    it("writes the lists on their keys' lines where the file had a block list at its very end, or no value", () => {
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n    - "1"', edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n',
        );
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n  mlops:warm: 1\n', edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:warm: 1\n',
        );
    });

    it("quotes version ids, so that YAML reads them back as text and never as numbers", () => {
        expect(editStackFileText("config:\n  mlops:pinned: 3\n  mlops:quarantined: [1]\n", edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n',
        );
    });

    it("edits a flow config map in place, and replaces an aliased pin by its value, leaving the anchor", () => {
        expect(editStackFileText('config: { "mlops:pinned": "3", "mlops:quarantined": [] }\n', edit)).toBe(
            'config: { "mlops:pinned": "2", "mlops:quarantined": [ "1", "3" ] }\n',
        );
        expect(editStackFileText('x: &p "3"\nconfig:\n  mlops:pinned: *p\n  mlops:quarantined: []\n', edit)).toBe(
            'x: &p "3"\nconfig:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n',
        );
    });
});

describe("editStackFileText: recording a restore in mlops:database", () => {
    const head = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n  mlops:database:';
    const after = 'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:database:';
    const restore = { ...edit, restoredInto: "fraud-features-restore-202611271305" };

    it("adds it inside a flow map, written on one line or over several: the map is re-rendered, with no block line spliced into its braces", () => {
        const reRendered = `${after}\n    {\n      kind: instance,\n      identifier: fraud-features,\n      restoredInto: fraud-features-restore-202611271305\n    }\n`;
        expect(editStackFileText(`${head} { kind: instance, identifier: fraud-features }\n`, restore)).toBe(reRendered);
        expect(editStackFileText(`${head} {\n    kind: instance,\n    identifier: fraud-features,\n  }\n`, restore)).toBe(reRendered);
    });

    it("adds it as the last line of a file without a final newline", () => {
        expect(editStackFileText(`${head}\n    kind: instance\n    identifier: fraud-features`, restore)).toBe(
            `${after}\n    kind: instance\n    identifier: fraud-features\n    restoredInto: "fraud-features-restore-202611271305"`,
        );
    });

    it("adds it after a section whose last value is not a plain one-line value (a nested map, a block scalar, a flow map), at the section's indentation", () => {
        expect(editStackFileText(`${head}\n    kind: instance\n    manage:\n      engine: postgres\n`, restore)).toBe(
            `${after}\n    kind: instance\n    manage:\n      engine: postgres\n    restoredInto: fraud-features-restore-202611271305\n`,
        );
        expect(editStackFileText(`${head}\n    kind: instance\n    identifier: >-\n      fraud-features\n`, restore)).toBe(
            `${after}\n    kind: instance\n    identifier: >-\n      fraud-features\n    restoredInto: fraud-features-restore-202611271305\n`,
        );
        const manage = "manage: { engine: postgres, instanceClass: db.t4g.medium, allocatedStorageGiB: 20 }";
        expect(editStackFileText(`${head}\n    kind: instance\n    ${manage}\n`, restore)).toBe(
            `${after}\n    kind: instance\n    ${manage}\n    restoredInto: fraud-features-restore-202611271305\n`,
        );
    });

    it("adds it after a last key written without a value (`? addressEnv`)", () => {
        expect(editStackFileText(`${head}\n    kind: instance\n    identifier: fraud-features\n    ? addressEnv\n`, restore)).toBe(
            `${after}\n    kind: instance\n    identifier: fraud-features\n    addressEnv: null\n    restoredInto: fraud-features-restore-202611271305\n`,
        );
    });

    it("adds it at the section's indentation when the section's first key carries an anchor", () => {
        // The anchor starts the line, not the key: a line at the key's column would not be a key of the section.
        expect(editStackFileText(`${head}\n    &kind kind: instance\n    identifier: "fraud-features"\n`, restore)).toBe(
            `${after}\n    &kind kind: instance\n    identifier: "fraud-features"\n    restoredInto: fraud-features-restore-202611271305\n`,
        );
        // After a key without a value, such a line would even read back as that key's value.
        expect(editStackFileText(`${head}\n    &kind kind: instance\n    addressEnv:\n`, restore)).toBe(
            `${after}\n    &kind kind: instance\n    addressEnv:\n    restoredInto: fraud-features-restore-202611271305\n`,
        );
    });

    it("writes a restore that a formatter folded over two lines back on one, even when it already names the restore", () => {
        const folded = '"fraud-features-restore-\\\n      202611271305"';
        const oneLine = '"fraud-features-restore-202611271305"';
        expect(editStackFileText(`${head}\n    kind: instance\n    restoredInto: ${folded}\n`, restore)).toBe(
            `${after}\n    kind: instance\n    restoredInto: ${oneLine}\n`,
        );
        expect(editStackFileText(`${head}\n    restoredInto: ${folded}\n    manage:\n      engine: postgres\n`, restore)).toBe(
            `${after}\n    restoredInto: ${oneLine}\n    manage:\n      engine: postgres\n`,
        );
        expect(editStackFileText(`${head} { kind: instance, restoredInto: ${folded} }\n`, restore)).toBe(
            `${after} { kind: instance, restoredInto: ${oneLine} }\n`,
        );
    });

    it("leaves a recorded restore as it stands when the edit records none, whether the rest is edited in place or re-rendered", () => {
        const database = '\n    kind: instance\n    restoredInto: "fraud-features-restore-202611271305"\n';
        const inPlace = 'config:\n  mlops:pinned: "3"   # the serving one\n  mlops:quarantined: []\n  mlops:database:' + database;
        expect(editStackFileText(inPlace, edit)).toBe(
            'config:\n  mlops:pinned: "2"   # the serving one\n  mlops:quarantined: [ "1", "3" ]\n  mlops:database:' + database,
        );
        // A block list is not one line of text, so this one is re-rendered.
        const blockList = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n    - "1"\n  mlops:database:' + database;
        expect(editStackFileText(blockList, edit)).toBe(after + database);
    });
});

describe("editStackFile: the file on disk", () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), "mlops-stack-file-"));
    });
    afterEach(() => {
        rmSync(dir, { recursive: true, force: true });
    });
    const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n';

    it("writes the edit and returns the text it replaced, so that a dry run can put it back byte for byte", () => {
        const file = path.join(dir, "Pulumi.prod.yaml");
        writeFileSync(file, text);
        expect(editStackFile(file, edit)).toBe(text);
        expect(readFileSync(file, "utf8")).toBe('config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n');
        replaceFile(file, text);
        expect(readFileSync(file, "utf8")).toBe(text);
    });

    it("writes through a symlink to its target, keeps the file's mode, and leaves no temporary file", () => {
        const target = path.join(dir, "Pulumi.prod.yaml");
        const link = path.join(dir, "Pulumi.current.yaml");
        writeFileSync(target, text, { mode: 0o640 });
        chmodSync(target, 0o640);
        symlinkSync(target, link);
        editStackFile(link, edit);
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
        expect(readFileSync(target, "utf8")).toContain('mlops:pinned: "2"');
        expect(statSync(target).mode & 0o777).toBe(0o640);
        expect(readdirSync(dir).sort()).toEqual(["Pulumi.current.yaml", "Pulumi.prod.yaml"]);
    });
});
