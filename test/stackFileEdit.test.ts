import {
    chmodSync,
    chownSync,
    linkSync,
    lstatSync,
    mkdirSync,
    mkdtempSync,
    readdirSync,
    readFileSync,
    rmSync,
    statSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { BadInputError } from "../config/badInput";
import { StackFileError } from "../config/sources";
import { editStackFile, editStackFileText, replaceFile, type PinEdit } from "../config/stackFileEdit";

const edit = { pinned: "2", quarantined: ["1", "3"], allowRedeploy: [] };

/** Every value of the file but the edited ones, as YAML reads it: what an edit must leave alone. */
function untouched(text: string, edited: readonly string[]): unknown {
    const document = parse(text) as Record<string, unknown> & { config: Record<string, unknown> };
    const config = { ...document.config };
    for (const key of edited) delete config[key];
    return { ...document, config };
}

describe("editStackFileText: only the edited values' bytes change", () => {
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
        expect(editStackFileText(text, edit)).toBe(text.replace('"3"   #', '"2"   #').replace('["1"] #', '["1", "3"] #'));
    });

    it("adds a version to a block list as one more '- ' line, keeping the comments inside and after it (the issue's block-style list)", () => {
        const text = [
            "config:",
            "  mlops:pinned: '3'  # single quotes stay",
            "  mlops:quarantined:   # versions that must not serve again",
            '    - "1"   # bad accuracy',
            "    # 0 was never deployed",
            "",
            "  # alarms next",
            "  mlops:alarms: { latencyP99Ms: 500 }",
            "",
        ].join("\n");
        expect(editStackFileText(text, edit)).toBe(text.replace("'3'  #", "'2'  #").replace('- "1"   # bad accuracy', '- "1"   # bad accuracy\n    - "3"'));
        // A list at its key's own indentation gets its new line there too.
        const flush = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n  - "1"\n  mlops:warm: 1\n';
        expect(editStackFileText(flush, edit)).toBe('config:\n  mlops:pinned: "2"\n  mlops:quarantined:\n  - "1"\n  - "3"\n  mlops:warm: 1\n');
    });

    it("removes a version from a block list by its line only, and empties one as '[]' on its key's line, leaving the comment lines", () => {
        const text = [
            "config:",
            '  mlops:pinned: "3"',
            "  mlops:quarantined:",
            '    - "1"',
            '    - "4"  # bad',
            "    # the next was a mistake",
            '    - "3"',
            "  mlops:rollback:",
            "    allowRedeploy: # released by hand",
            '      - "4"',
            "    # end of rollback",
            "",
        ].join("\n");
        expect(editStackFileText(text, edit)).toBe(
            [
                "config:",
                '  mlops:pinned: "2"',
                "  mlops:quarantined:",
                '    - "1"',
                "    # the next was a mistake",
                '    - "3"',
                "  mlops:rollback:",
                "    allowRedeploy: [] # released by hand",
                "    # end of rollback",
                "",
            ].join("\n"),
        );
    });

    it("reorders a list by keeping as many items as it can, dropping the earlier one of a tie and writing it again after", () => {
        const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n    - "3" # first\n    - "1" # second\n';
        expect(editStackFileText(text, edit)).toBe('config:\n  mlops:pinned: "2"\n  mlops:quarantined:\n    - "1" # second\n    - "3"\n');
    });

    it("edits a flow list spread over lines item by item: kept items and the comments between them stay", () => {
        const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [\n    "1", # bad accuracy\n    "4",\n  ]\n';
        expect(editStackFileText(text, { ...edit, quarantined: ["0", "1", "3"] })).toBe(
            // "3" takes the place of "4": the comment on "1"'s line stays about "1".
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [\n    "0", "1", # bad accuracy\n    "3",\n  ]\n',
        );
        // Without a trailing comma, the comma before the last item goes, and the comment on the kept item's line stays.
        const noTrailingComma = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [\n    "1", # bad accuracy\n    "4"\n  ]\n';
        expect(editStackFileText(noTrailingComma, { ...edit, quarantined: ["1"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [\n    "1" # bad accuracy\n  ]\n',
        );
        // Runs at the front, in the middle and at the end go with their commas.
        const long = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [ "a", "b", "1", "c", "d", "3", "e" ]\n';
        expect(editStackFileText(long, edit)).toBe('config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n');
    });

    it("keeps each comment in a flow list with its own item: a removed item takes its comment, a kept one keeps it (the review's lists)", () => {
        const leadingCommas = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [\n    "1" # keep\n    , "4" # drop\n  ]\n';
        expect(editStackFileText(leadingCommas, { ...edit, quarantined: ["1"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [\n    "1" # keep\n  ]\n',
        );
        const replaced = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: ["1", # one\n    "4"  # four\n  ]\n';
        expect(editStackFileText(replaced, { ...edit, quarantined: ["1", "3"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: ["1", # one\n    "3"\n  ]\n',
        );
        // Variants: a removed middle item, a trailing comma after the removed last one, a comment holding a comma.
        const middle = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [\n    "1", # one, kept\n    "4", # four\n    "3" # three\n  ]\n';
        expect(editStackFileText(middle, edit)).toBe('config:\n  mlops:pinned: "2"\n  mlops:quarantined: [\n    "1", # one, kept\n    "3" # three\n  ]\n');
        const trailing = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [\n    "1", # one\n    "4", # four\n  ]\n';
        expect(editStackFileText(trailing, { ...edit, quarantined: ["1"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [\n    "1", # one\n  ]\n',
        );
        const leadingWithCommaInComment = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [\n    "1" # keep, this\n    , "4" # drop\n  ]\n';
        expect(editStackFileText(leadingWithCommaInComment, { ...edit, quarantined: ["1"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [\n    "1" # keep, this\n  ]\n',
        );
    });

    it("fills and empties flow lists in place, keeping their padding", () => {
        const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n  mlops:rollback:\n    allowRedeploy: ["3"] # released\n';
        expect(editStackFileText(text, edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:rollback:\n    allowRedeploy: [] # released\n',
        );
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: [ ]\n', edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n',
        );
        // Emptied, a list is `[]`, whatever padding it had.
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: [ "4", "5" ]\n', { ...edit, quarantined: [] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: []\n',
        );
        // An emptied list's own comment (before its first item) stays inside it; a removed item's comment goes with it.
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: [ # why\n    "4" # four\n  ]\n', { ...edit, quarantined: [] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ # why\n  ]\n',
        );
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: [ "4" # why\n  ]\n', { ...edit, quarantined: [] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: []\n',
        );
    });

    it("adds a list the file lacks only when it has entries, after the map's last entry and its comment", () => {
        const text = 'config:\n  mlops:pinned: "3" # pin\n  mlops:warm: 1 # one warm\n# end\n';
        expect(editStackFileText(text, { ...edit, quarantined: [] })).toBe(text.replace('"3"', '"2"'));
        expect(editStackFileText(text, edit)).toBe(
            'config:\n  mlops:pinned: "2" # pin\n  mlops:warm: 1 # one warm\n  mlops:quarantined: [ "1", "3" ]\n# end\n',
        );
    });

    it("adds mlops:rollback for a file's first release as one flow map, and a release under an existing mlops:rollback", () => {
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n', { ...edit, allowRedeploy: ["3"] })).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:rollback: { allowRedeploy: [ "3" ] }\n',
        );
        const text = 'config:\n  mlops:pinned: "3" # pin\n  mlops:rollback:\n    notify: https://hooks.example.com/x\n';
        expect(editStackFileText(text, { ...edit, allowRedeploy: ["3"] })).toBe(
            'config:\n  mlops:pinned: "2" # pin\n  mlops:rollback:\n    notify: https://hooks.example.com/x\n    allowRedeploy: [ "3" ]\n  mlops:quarantined: [ "1", "3" ]\n',
        );
    });

    it("keeps CRLF line endings, using CRLF on every line it adds, and a BOM", () => {
        const text = '\uFEFFconfig:\r\n  mlops:pinned: "3"\r\n  mlops:quarantined:\r\n    - "1"\r\n  mlops:database:\r\n    kind: instance\r\n';
        const out = editStackFileText(text, { ...edit, restoredInto: "r-1" });
        expect(out).toBe(
            '\uFEFFconfig:\r\n  mlops:pinned: "2"\r\n  mlops:quarantined:\r\n    - "1"\r\n    - "3"\r\n  mlops:database:\r\n    kind: instance\r\n    restoredInto: "r-1"\r\n',
        );
        expect(out.replaceAll("\r\n", "")).not.toContain("\n");
        // Removing a CRLF line leaves no lone CR or LF behind.
        expect(editStackFileText(out, { pinned: "2", quarantined: ["3"], allowRedeploy: [] })).toBe(out.replace('    - "1"\r\n', ""));
    });

    it("keeps a file without a final newline without one, where it adds a line and where it removes the last", () => {
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n    - "1"', edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined:\n    - "1"\n    - "3"',
        );
        expect(editStackFileText('config:\n  mlops:pinned: "3"', edit)).toBe('config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]');
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n    - "1"\n    - "4"', edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined:\n    - "1"\n    - "3"',
        );
    });

    it("never folds a long value, and leaves a value the file already holds as written, folded or not", () => {
        const long = `fraud-features-restore-${"x".repeat(150)}`;
        const head = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n  mlops:database:\n    kind: instance\n';
        const out = editStackFileText(head, { ...edit, restoredInto: long });
        expect(out.split("\n").at(-2)).toBe(`    restoredInto: "${long}"`);
        const folded = `${head}    restoredInto: "fraud-features-restore-\\\n      202611271305"   # folded by a formatter\n`;
        expect(editStackFileText(folded, { ...edit, restoredInto: "fraud-features-restore-202611271305" })).toBe(
            folded.replace('"3"', '"2"').replace("[]", '[ "1", "3" ]'),
        );
    });

    it("returns the text itself when the file already holds the edit", () => {
        const text = 'config:\n  mlops:pinned: "2" # pin\n  mlops:quarantined:\n    - "1"\n    - "3"   # formatted my way\n';
        expect(editStackFileText(text, edit)).toBe(text);
    });

    it("quotes version ids it writes, so YAML reads them back as text, never as numbers", () => {
        expect(editStackFileText("config:\n  mlops:pinned: 3\n  mlops:quarantined: [1]\n", edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: ["1", "3"]\n',
        );
    });

    it("writes an empty value where it stands, apart from its neighbours", () => {
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined:\n  mlops:warm: 1\n', edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:warm: 1\n',
        );
        expect(editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined:   # none yet\n', edit)).toBe(
            'config:\n  mlops:pinned: "2"\n  mlops:quarantined:   [ "1", "3" ] # none yet\n',
        );
        expect(editStackFileText('config: { "mlops:pinned": "3", "mlops:quarantined": }\n', edit)).toBe(
            'config: { "mlops:pinned": "2", "mlops:quarantined": [ "1", "3" ] }\n',
        );
    });

    it("replaces a block scalar's content only, keeping its header and comment", () => {
        expect(editStackFileText("config:\n  mlops:pinned: >- # folded\n    3\n  mlops:quarantined: []\n", edit)).toBe(
            'config:\n  mlops:pinned: >- # folded\n    2\n  mlops:quarantined: [ "1", "3" ]\n',
        );
        expect(editStackFileText("config:\n  mlops:quarantined: []\n  mlops:pinned: |-\n    3", edit)).toBe(
            'config:\n  mlops:quarantined: [ "1", "3" ]\n  mlops:pinned: |-\n    2',
        );
    });
});

describe("editStackFileText: the edited value keeps its quoting style where it reads back the same", () => {
    const pinOnly = { pinned: "2", quarantined: [], allowRedeploy: [] };
    it.each([
        ["'3'", "v2", "'v2'"],
        ["'3'", "it's", "'it''s'"],
        ['"3"', "2", '"2"'],
        ["v3", "v2", "v2"],
        ["v3", "2", '"2"'],
        ["v3", "2.10", '"2.10"'],
        ["v3", "0x3", '"0x3"'],
        ["v3", "true", '"true"'],
        ["v3", "null", '"null"'],
        ["v3", "~", '"~"'],
        ["v3", "2026-01-01", '"2026-01-01"'],
        ["v3", "a: b", '"a: b"'],
        ["v3", "x #y", '"x #y"'],
        ["v3", "[1]", '"[1]"'],
        ["v3", "-", '"-"'],
        ["'3'", "a\tb", '"a\\tb"'],
    ])("mlops:pinned: %s written as %j is %s", (before, pinned, after) => {
        expect(editStackFileText(`config:\n  mlops:pinned: ${before} # pin\n`, { ...pinOnly, pinned })).toBe(`config:\n  mlops:pinned: ${after} # pin\n`);
    });

    it("keeps a plain restoredInto plain, and a single-quoted one single-quoted", () => {
        const text = "config:\n  mlops:pinned: '2'\n  mlops:database:\n    kind: instance\n    restoredInto: fraud-old\n";
        expect(editStackFileText(text, { ...pinOnly, restoredInto: "fraud-new" })).toBe(text.replace("fraud-old", "fraud-new"));
        const quoted = text.replace("fraud-old", "'fraud-old'");
        expect(editStackFileText(quoted, { ...pinOnly, restoredInto: "fraud-new" })).toBe(quoted.replace("fraud-old", "fraud-new"));
    });
});

describe("editStackFileText: a JSON stack file stays JSON", () => {
    const readJson = (text: string) => JSON.parse(text) as { config: Record<string, { allowRedeploy?: unknown }> };
    const pinOnlyJson = { pinned: "2", quarantined: [], allowRedeploy: [] };
    it("writes keys double-quoted into a flow map whose keys are (the review's allowRedeploy)", () => {
        const text = '{"config": {"mlops:pinned": "3", "mlops:quarantined": []}}\n';
        const out = editStackFileText(text, { pinned: "2", quarantined: ["3"], allowRedeploy: ["5"] });
        expect(out).toBe('{"config": {"mlops:pinned": "2", "mlops:quarantined": [ "3" ], "mlops:rollback": { "allowRedeploy": [ "5" ] }}}\n');
        expect(JSON.parse(out)).toEqual({ config: { "mlops:pinned": "2", "mlops:quarantined": ["3"], "mlops:rollback": { allowRedeploy: ["5"] } } });
        // Variants: a key added into an existing section, and a null section written whole.
        const section = '{"config": {"mlops:pinned": "3", "mlops:rollback": {"notify": "arn:aws:sns:us-east-1:123456789012:t"}}}';
        expect(readJson(editStackFileText(section, { pinned: "2", quarantined: [], allowRedeploy: ["5"] })).config["mlops:rollback"].allowRedeploy).toEqual([
            "5",
        ]);
        expect(editStackFileText('{"config": {"mlops:pinned": "3", "mlops:database": {}}}', { ...pinOnlyJson, restoredInto: "db-new" })).toBe(
            '{"config": {"mlops:pinned": "2", "mlops:database": { "restoredInto": "db-new" }}}',
        );
        const empty = '{"config": {"mlops:pinned": "3", "mlops:rollback": null}}';
        expect(readJson(editStackFileText(empty, { pinned: "2", quarantined: [], allowRedeploy: ["5"] })).config["mlops:rollback"]).toEqual({
            allowRedeploy: ["5"],
        });
    });
});

describe("editStackFileText: mlops:database.restoredInto", () => {
    const head = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n  mlops:database:';
    const after = 'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n  mlops:database:';
    const restore = { ...edit, restoredInto: "fraud-features-restore-202611271305" };
    const line = '    restoredInto: "fraud-features-restore-202611271305"';

    it("records a restore as one more line of mlops:database, at its indentation, and replaces an earlier one in place", () => {
        const text = `${head}\n    kind: instance\n    identifier: fraud-features # managed elsewhere\n  # alarms next\n  mlops:alarms: {}\n`;
        const first = editStackFileText(text, restore);
        expect(first).toBe(`${after}\n    kind: instance\n    identifier: fraud-features # managed elsewhere\n${line}\n  # alarms next\n  mlops:alarms: {}\n`);
        expect(editStackFileText(first, { ...restore, restoredInto: "fraud-features-restore-202612010900" })).toBe(
            first.replace('"2"', '"2"').replace("202611271305", "202612010900"),
        );
    });

    it("adds it after a last value that is not one plain line: a nested map, a block scalar, a flow map, a key without a value", () => {
        for (const last of [
            "manage:\n      engine: postgres\n",
            "identifier: >-\n      fraud-features\n",
            "manage: { engine: postgres }\n",
            "? addressEnv\n",
        ]) {
            expect(editStackFileText(`${head}\n    kind: instance\n    ${last}`, restore), last).toBe(`${after}\n    kind: instance\n    ${last}${line}\n`);
        }
    });

    it("adds it at the section's indentation when the section's first key carries an anchor", () => {
        expect(editStackFileText(`${head}\n    &kind kind: instance\n    addressEnv:\n`, restore)).toBe(
            `${after}\n    &kind kind: instance\n    addressEnv:\n${line}\n`,
        );
    });

    it("adds it inside a flow map, written on one line or over several, after its last entry", () => {
        expect(editStackFileText(`${head} { kind: instance, identifier: fraud-features }\n`, restore)).toBe(
            `${after} { kind: instance, identifier: fraud-features, restoredInto: "fraud-features-restore-202611271305" }\n`,
        );
        expect(editStackFileText(`${head} {\n    kind: instance,\n    identifier: fraud-features, # managed elsewhere\n  }\n`, restore)).toBe(
            `${after} {\n    kind: instance,\n    identifier: fraud-features, restoredInto: "fraud-features-restore-202611271305", # managed elsewhere\n  }\n`,
        );
        expect(editStackFileText(`${head} {}\n`, restore)).toBe(`${after} { restoredInto: "fraud-features-restore-202611271305" }\n`);
    });

    it("refuses to record a restore in a file without mlops:database", () => {
        expect(() => editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n', restore)).toThrow(
            new StackFileError("the stack file has no 'mlops:database:' map to record the restore in"),
        );
    });
});

describe("editStackFileText: anchors and aliases", () => {
    it("writes a pin that is an alias (`*v`) at that key only: the anchor and its other users keep their value", () => {
        const text = 'defaults: &v "3"\nconfig:\n  mlops:pinned: *v # same as defaults\n  other:k: *v\n  mlops:quarantined: []\n';
        const out = editStackFileText(text, edit);
        expect(out).toBe(text.replace("mlops:pinned: *v", 'mlops:pinned: "2"').replace("[]", '[ "1", "3" ]'));
        expect(untouched(out, ["mlops:pinned", "mlops:quarantined"])).toEqual(untouched(text, ["mlops:pinned", "mlops:quarantined"]));
    });

    it("refuses to write a pin through an anchor other values use, naming mlops:pinned, and changes nothing (the issue's example)", () => {
        const text = 'config:\n  mlops:pinned: &v "3"\n  mlops:model: fraud\n  mlops:canary:pin: *v\n  mlops:quarantined: []\n';
        expect(() => editStackFileText(text, edit)).toThrow(StackFileError);
        expect(() => editStackFileText(text, edit)).toThrow(
            "mlops:pinned is written through the YAML anchor &v, which other values use (*v), so writing it would change them too; write mlops:pinned as a plain value of its own (no anchor) and run again",
        );
        expect(() => editStackFileText(text, edit)).toThrow(BadInputError);
    });

    it("refuses a list or a section shared through an anchor, and writes through an anchor nothing uses, keeping it", () => {
        const list = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: &q ["1"]\n  mlops:canary:skip: *q\n';
        expect(() => editStackFileText(list, edit)).toThrow("mlops:quarantined is written through the YAML anchor &q");
        const section = 'base: &db\n  kind: instance\nconfig:\n  mlops:pinned: "3"\n  mlops:database: *db\n';
        expect(() => editStackFileText(section, { ...edit, quarantined: [], restoredInto: "r-1" })).toThrow(
            new StackFileError(
                "mlops:database is a YAML alias (*db), so mlops:database.restoredInto cannot be written into it without changing what else it stands for; write mlops:database out as a map of its own and run again",
            ),
        );
        const shared = 'config:\n  mlops:pinned: "3"\n  mlops:rollback: &r\n    notify: https://hooks.example.com/x\n  mlops:canary:rollback: *r\n';
        expect(() => editStackFileText(shared, { ...edit, allowRedeploy: ["3"] })).toThrow(
            "mlops:rollback.allowRedeploy is written through the YAML anchor &r",
        );
        const aliased = 'r: &r { notify: "https://hooks.example.com/x" }\nconfig:\n  mlops:pinned: "3"\n  mlops:rollback: *r\n';
        expect(() => editStackFileText(aliased, { ...edit, allowRedeploy: ["3"] })).toThrow(
            "mlops:rollback is a YAML alias (*r), so mlops:rollback.allowRedeploy cannot be written into it",
        );
        const unused = 'config:\n  mlops:pinned: &v "3"\n  mlops:quarantined: []\n';
        expect(editStackFileText(unused, edit)).toBe('config:\n  mlops:pinned: &v "2"\n  mlops:quarantined: [ "1", "3" ]\n');
    });

    it("leaves an anchored value the edit does not change alone, whoever uses it", () => {
        const text = 'config:\n  mlops:pinned: &v "2"\n  mlops:canary:pin: *v\n  mlops:quarantined: ["1", "3"]\n';
        expect(editStackFileText(text, edit)).toBe(text);
    });

    it("refuses to drop a list item whose anchor another value uses, since the alias would point nowhere", () => {
        const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: [&bad "4", "1"]\n  mlops:canary:skip: *bad\n';
        expect(() => editStackFileText(text, edit)).toThrow(
            new StackFileError(
                "writing mlops:pinned, mlops:quarantined into the stack file in place would change how mlops:canary:skip reads; write these values plainly (no YAML tag, anchor or block scalar on them) and run again",
            ),
        );
    });
});

describe("editStackFileText: what it refuses rather than reformat", () => {
    it("refuses a file the engine's YAML reader reads otherwise: a merge key, a U+2028 in a comment", () => {
        for (const [text, message] of [
            ['config:\n  mlops:pinned: "3"\n  <<: {"mlops:warm": 0}\n', "line 3 has a YAML merge key '<<'"],
            ['base: &b {"mlops:warm": 0}\nconfig:\n  mlops:pinned: "3"\n  mlops:rollback:\n    <<: *b\n', "line 5 has a YAML merge key '<<'"],
            ['config:\n  mlops:pinned: "3" # note\u2028  mlops:warm: 0\n', "line 2 holds the character U+2028"],
        ]) {
            expect(() => editStackFileText(text, edit)).toThrow(StackFileError);
            expect(() => editStackFileText(text, edit)).toThrow(message);
        }
    });

    it("refuses a file without a config map, and one that is not YAML", () => {
        for (const text of ["", "other: 1\n", "config:\n", "config: []\n"]) {
            expect(() => editStackFileText(text, edit), JSON.stringify(text)).toThrow(new StackFileError("the stack file has no 'config:' map to edit"));
        }
        expect(() => editStackFileText('config:\n  mlops:pinned: "3"\n  mlops:pinned: "4"\n', edit)).toThrow(/^the stack file is not valid YAML: /);
    });

    it("refuses a value whose tag would read the new text as something else, naming the key", () => {
        // Under YAML 1.1, `!!omap [ "1", "3" ]` is not a list of versions.
        const text = '%YAML 1.1\n---\nconfig:\n  mlops:pinned: "3"\n  mlops:quarantined: !!omap []\n';
        expect(() => editStackFileText(text, edit)).toThrow(
            /^writing mlops:pinned, mlops:quarantined into the stack file in place would (leave the stack file invalid|change how mlops:quarantined reads)/,
        );
        expect(() => editStackFileText("config:\n  mlops:pinned: !!int 3\n", { ...edit, quarantined: [] })).toThrow(
            "writing mlops:pinned into the stack file in place would change how mlops:pinned reads; write these values plainly (no YAML tag, anchor or block scalar on them) and run again",
        );
    });

    it("refuses a block scalar that would keep a line break in the pin", () => {
        expect(() => editStackFileText("config:\n  mlops:pinned: >\n    3\n", { ...edit, quarantined: [] })).toThrow(
            "writing mlops:pinned into the stack file in place would change how mlops:pinned reads",
        );
    });

    it("refuses a pin written as an explicit key without a value", () => {
        expect(() => editStackFileText("config:\n  ? mlops:pinned\n  mlops:quarantined: []\n", edit)).toThrow(
            "mlops:pinned is written as an explicit key ('? mlops:pinned') with no value to replace; write it as 'mlops:pinned: ...' and run again",
        );
    });
});

describe("editStackFile and replaceFile: the file on disk", () => {
    let dir: string;
    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), "mlops-stack-file-"));
    });
    afterEach(() => {
        rmSync(dir, { recursive: true, force: true });
    });
    const text = 'config:\n  mlops:pinned: "3"\n  mlops:quarantined: []\n';
    const editedText = 'config:\n  mlops:pinned: "2"\n  mlops:quarantined: [ "1", "3" ]\n';
    const stackFile = (mode = 0o644) => {
        const file = path.join(dir, "Pulumi.prod.yaml");
        writeFileSync(file, text);
        chmodSync(file, mode);
        return file;
    };

    it("writes the edit and returns the text it replaced, so that a dry run can put it back byte for byte", () => {
        const file = stackFile();
        expect(editStackFile(file, edit)).toBe(text);
        expect(readFileSync(file, "utf8")).toBe(editedText);
        replaceFile(file, text);
        expect(readFileSync(file, "utf8")).toBe(text);
        expect(readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
    });

    it("writes through a symlink to its target, keeps the link, and leaves no temporary file", () => {
        const target = stackFile(0o640);
        const link = path.join(dir, "Pulumi.current.yaml");
        symlinkSync(target, link);
        editStackFile(link, edit);
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
        expect(readFileSync(target, "utf8")).toBe(editedText);
        expect(statSync(target).mode & 0o777).toBe(0o640);
        expect(readdirSync(dir).sort()).toEqual(["Pulumi.current.yaml", "Pulumi.prod.yaml"]);
    });

    it("keeps modes 664 and 666 (and 600) whatever the umask", () => {
        const umask = process.umask(0o022);
        try {
            for (const mode of [0o664, 0o666, 0o600]) {
                const file = stackFile(mode);
                editStackFile(file, edit);
                expect(statSync(file).mode & 0o7777, mode.toString(8)).toBe(mode);
            }
        } finally {
            process.umask(umask);
        }
    });

    it.runIf(process.getuid?.() === 0)("keeps the file's owner when root edits a teammate's file", () => {
        const file = stackFile();
        chownSync(file, 1234, 2345);
        editStackFile(file, edit);
        expect(statSync(file)).toMatchObject({ uid: 1234, gid: 2345 });
    });

    it("refuses a read-only file, naming it and saying to make it writable, and never rewrites it", () => {
        for (const mode of [0o444, 0o400]) {
            const file = stackFile(mode);
            const inode = statSync(file).ino;
            expect(() => editStackFile(file, edit)).toThrow(
                new StackFileError(`${file} is read-only, so mlops will not rewrite it; make it writable (chmod u+w ${file}) and run again`),
            );
            expect(readFileSync(file, "utf8")).toBe(text);
            expect(statSync(file)).toMatchObject({ ino: inode, mode: statSync(file).mode });
            expect(statSync(file).mode & 0o777).toBe(mode);
            expect(readdirSync(dir)).toEqual(["Pulumi.prod.yaml"]);
            // Putting back the text it holds writes nothing, so it is no error.
            expect(() => replaceFile(file, text)).not.toThrow();
            rmSync(file, { force: true });
        }
    });

    it("writes a file with hard links in place, so every link sees the new text, and puts it back the same way", () => {
        const file = stackFile();
        const other = path.join(dir, "shared", "Pulumi.prod.yaml");
        mkdirSync(path.dirname(other));
        linkSync(file, other);
        const inode = statSync(file).ino;
        expect(editStackFile(file, edit)).toBe(text);
        expect(readFileSync(other, "utf8")).toBe(editedText);
        expect(statSync(file)).toMatchObject({ ino: inode, nlink: 2 });
        // A shorter text leaves nothing of the longer one behind.
        replaceFile(other, text);
        expect(readFileSync(file, "utf8")).toBe(text);
        expect(readdirSync(dir).sort()).toEqual(["Pulumi.prod.yaml", "shared"]);
    });

    it("is not redirected by symlinks planted at the temporary names the old writer used", () => {
        const file = stackFile();
        const victim = path.join(dir, "victim.txt");
        writeFileSync(victim, "keep me\n");
        const planted = [-1, 0, 1].map((delta) => `${file}.mlops-${process.pid + delta}.tmp`);
        for (const name of planted) symlinkSync(victim, name);
        editStackFile(file, edit);
        expect(readFileSync(victim, "utf8")).toBe("keep me\n");
        expect(lstatSync(file).isFile()).toBe(true);
        expect(readFileSync(file, "utf8")).toBe(editedText);
        for (const name of planted) expect(lstatSync(name).isSymbolicLink()).toBe(true);
    });

    it("refuses a path that is not a regular file", () => {
        expect(() => replaceFile(dir, text)).toThrow(new StackFileError(`${dir} is not a regular file; mlops writes the pin only into a stack file`));
    });

    it("does not write a file that already holds the edit", () => {
        const file = stackFile();
        writeFileSync(file, editedText);
        chmodSync(file, 0o444);
        const { mtimeMs } = statSync(file);
        expect(editStackFile(file, edit as PinEdit)).toBe(editedText);
        expect(statSync(file).mtimeMs).toBe(mtimeMs);
    });
});
