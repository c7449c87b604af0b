/**
 * Write a pin change into a stack file, keeping its comments and layout: the
 * file stays the one a person reads and reviews.
 */
import { readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { isMap, parseDocument } from "yaml";
import { StackFileError } from "./sources";

export interface PinEdit {
    readonly pinned: string;
    readonly quarantined: readonly string[];
    readonly allowRedeploy: readonly string[];
}

/** The edited text of a stack file; pure, so it is tested on strings. */
export function editStackFileText(text: string, edit: PinEdit): string {
    const document = parseDocument(text);
    const config = document.get("config");
    if (!isMap(config)) throw new StackFileError("the stack file has no 'config:' map to edit");
    config.set("mlops:pinned", edit.pinned);
    config.set("mlops:quarantined", document.createNode([...edit.quarantined], { flow: true }));
    // allowRedeploy is written only when it has entries or is already there:
    // a rollback should change two lines, not add an empty list.
    const rollback = config.get("mlops:rollback");
    const hasAllowRedeploy = isMap(rollback) && rollback.has("allowRedeploy");
    if (edit.allowRedeploy.length > 0 || hasAllowRedeploy) {
        const list = document.createNode([...edit.allowRedeploy], { flow: true });
        if (isMap(rollback)) rollback.set("allowRedeploy", list);
        else config.set("mlops:rollback", document.createNode({ allowRedeploy: list }));
    }
    return document.toString();
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
