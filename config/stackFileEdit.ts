/**
 * Write a pin change into a stack file, keeping its comments and layout: the
 * file stays the one a person reads and reviews.
 */
import { readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { isCollection, isMap, isScalar, parseDocument, stringify } from "yaml";
import { StackFileError } from "./sources";

export interface PinEdit {
    readonly pinned: string;
    readonly quarantined: readonly string[];
    readonly allowRedeploy: readonly string[];
    /** `mlops:database.restoredInto`, written by `mlops rollback --restore-database`. */
    readonly restoredInto?: string;
}

/**
 * The edited text of a stack file; pure, so it is tested on strings. Values
 * already in the file are replaced where they stand, so every other byte
 * (comments and their indentation included) stays as it was; only a key the
 * file lacks makes the whole document be re-rendered.
 */
export function editStackFileText(text: string, edit: PinEdit): string {
    const document = parseDocument(text);
    const config = document.get("config");
    if (!isMap(config)) throw new StackFileError("the stack file has no 'config:' map to edit");
    const rollback = config.get("mlops:rollback");
    const hasAllowRedeploy = isMap(rollback) && rollback.has("allowRedeploy");
    // allowRedeploy is written only when it has entries or is already there:
    // a rollback should change two lines, not add an empty list.
    const writeAllowRedeploy = edit.allowRedeploy.length > 0 || hasAllowRedeploy;
    const database = config.get("mlops:database");
    if (edit.restoredInto !== undefined && !isMap(database)) throw new StackFileError("the stack file has no 'mlops:database:' map to record the restore in");

    const splices: { range: [number, number]; text: string }[] = [];
    const inPlace = (map: unknown, key: string, value: unknown): boolean => {
        const node: unknown = isMap(map) ? map.get(key, true) : undefined;
        const range = (node as { range?: [number, number, number] } | undefined)?.range;
        // Scalars and flow collections end where their text ends; a block
        // collection's range runs into the next line, so it is re-rendered.
        const flowNode = isScalar(node) || (isCollection(node) && node.flow === true);
        if (!flowNode || range === undefined) return false;
        // A block scalar (`>-`, `|`) or an empty value is not one line of text either.
        const original = text.slice(range[0], range[1]);
        if (original.trim() === "" || original.includes("\n")) return false;
        splices.push({ range: [range[0], range[1]], text: renderFlow(value) });
        return true;
    };
    // A key the map lacks: one more line after its last entry, at the same indentation.
    const appendToBlockMap = (map: unknown, key: string, value: string): boolean => {
        if (!isMap(map) || map.flow === true || map.items.length === 0) return false;
        const first = map.items[0].key as { range?: [number, number, number] } | undefined;
        const last = map.items[map.items.length - 1].value;
        const lastRange = (last as { range?: [number, number, number] } | null)?.range;
        if (first?.range === undefined || lastRange === undefined || !isScalar(last)) return false;
        if (text.slice(lastRange[0], lastRange[1]).includes("\n")) return false;
        const indent = first.range[0] - (text.lastIndexOf("\n", first.range[0]) + 1);
        // After the whole line of the last value, so that a comment on it stays with it.
        const lineEnd = text.indexOf("\n", lastRange[1]) === -1 ? text.length : text.indexOf("\n", lastRange[1]);
        splices.push({ range: [lineEnd, lineEnd], text: `\n${" ".repeat(indent)}${key}: ${renderFlow(value)}` });
        return true;
    };
    const allInPlace =
        inPlace(config, "mlops:pinned", edit.pinned) &&
        inPlace(config, "mlops:quarantined", [...edit.quarantined]) &&
        (!writeAllowRedeploy || inPlace(rollback, "allowRedeploy", [...edit.allowRedeploy])) &&
        (edit.restoredInto === undefined ||
            inPlace(database, "restoredInto", edit.restoredInto) ||
            appendToBlockMap(database, "restoredInto", edit.restoredInto));
    if (allInPlace) {
        let edited = text;
        for (const splice of splices.sort((a, b) => b.range[0] - a.range[0])) {
            edited = edited.slice(0, splice.range[0]) + splice.text + edited.slice(splice.range[1]);
        }
        // Belt and braces: keep the splice only if it reads back as the edit.
        if (readsBackAs(edited, edit, writeAllowRedeploy)) return edited;
    }

    config.set("mlops:pinned", edit.pinned);
    config.set("mlops:quarantined", document.createNode([...edit.quarantined], { flow: true }));
    if (writeAllowRedeploy) {
        const list = document.createNode([...edit.allowRedeploy], { flow: true });
        if (isMap(rollback)) rollback.set("allowRedeploy", list);
        else config.set("mlops:rollback", document.createNode({ allowRedeploy: list }));
    }
    if (edit.restoredInto !== undefined && isMap(database)) database.set("restoredInto", edit.restoredInto);
    return document.toString();
}

function readsBackAs(text: string, edit: PinEdit, withAllowRedeploy: boolean): boolean {
    const document = parseDocument(text);
    if (document.errors.length > 0) return false;
    const config = document.toJS() as { config?: Record<string, unknown> } | null;
    const values = config?.config ?? {};
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    return (
        same(values["mlops:pinned"], edit.pinned) &&
        same(values["mlops:quarantined"], edit.quarantined) &&
        (!withAllowRedeploy || same((values["mlops:rollback"] as { allowRedeploy?: unknown } | undefined)?.allowRedeploy, edit.allowRedeploy)) &&
        (edit.restoredInto === undefined || same((values["mlops:database"] as { restoredInto?: unknown } | undefined)?.restoredInto, edit.restoredInto))
    );
}

/** One value as a single-line flow node: `"2"`, `[ "3" ]`. */
function renderFlow(value: unknown): string {
    return stringify(value, { collectionStyle: "flow", defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" }).trimEnd();
}

/**
 * Apply the edit to the file (write a temporary file, then rename, so a crash
 * never leaves half a stack file) and return the previous text, so that a
 * dry run can put it back byte for byte.
 */
export function editStackFile(file: string, edit: PinEdit): string {
    const previous = readFileSync(file, "utf8");
    replaceFile(file, editStackFileText(previous, edit));
    return previous;
}

export function replaceFile(file: string, text: string): void {
    // Write through a symlink to its target, and keep the file's mode.
    const target = realpathSync(file);
    const temporary = `${target}.mlops-${process.pid}.tmp`;
    writeFileSync(temporary, text, { mode: statSync(target).mode });
    renameSync(temporary, target);
}
