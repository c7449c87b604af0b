/**
 * Write a pin change into a stack file. The file is one a person reads and
 * reviews, so the edit splices new text into the original at the source
 * ranges of the values it changes and never re-renders the document:
 * comments (inside and after an edited list too), blank lines, key order,
 * quoting, CRLF line endings, a BOM and a missing final newline all stay
 * byte for byte. What cannot be spliced is refused with a `StackFileError`
 * (exit 2) that names the key, never reformatted.
 */
import { randomBytes } from "node:crypto";
import {
    accessSync,
    closeSync,
    constants,
    fchmodSync,
    fchownSync,
    fsyncSync,
    ftruncateSync,
    openSync,
    readFileSync,
    realpathSync,
    renameSync,
    rmSync,
    statSync,
    type Stats,
    writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
    type Document,
    isAlias,
    isMap,
    isScalar,
    isSeq,
    type Node,
    parseDocument,
    type Pair,
    Scalar,
    stringify,
    visit,
    type YAMLMap,
    type YAMLSeq,
} from "yaml";
import { engineNumber, isEngineTimestamp, refuseReaderDisagreements, StackFileError } from "./sources";

export interface PinEdit {
    readonly pinned: string;
    readonly quarantined: readonly string[];
    readonly allowRedeploy: readonly string[];
    /** `mlops:database.restoredInto`, written by `mlops rollback --restore-database`. */
    readonly restoredInto?: string;
}

/** One value to write: `config[key]`, or `config[section][key]`. */
interface Write {
    readonly section?: string;
    readonly key: string;
    readonly value: string | readonly string[] | Record<string, unknown>;
}

/** Replace `text.slice(start, end)` of the original (`start === end`: insert). */
interface Splice {
    readonly start: number;
    readonly end: number;
    readonly text: string;
    /** For an added entry, how deep its map is (`config` 1): where a section and its parent both end, its entry goes first. */
    readonly depth?: number;
}

/** What every splice is computed from. */
interface Source {
    readonly text: string;
    /** The file's line ending, used on every line the edit adds. */
    readonly eol: string;
    readonly document: Document;
    /** The whole file as YAML reads it before the edit. */
    readonly before: { config: Record<string, unknown> } & Record<string, unknown>;
}

/**
 * The edited text of a stack file; pure, so it is tested on strings.
 *
 * Writes `mlops:pinned`; `mlops:quarantined` and `mlops:rollback.allowRedeploy`
 * when they have entries or are already there (a rollback should change two
 * lines, not add empty lists); `mlops:database.restoredInto` when the edit
 * records a restore. A value already equal to the edit is left untouched. A
 * value that is an alias (`*v`) is replaced at that key only; a value that
 * carries an anchor other values use (`&v`) is refused, since writing it would
 * change them too. Afterwards the whole file must read back as before with only
 * the edited values changed, or the edit is refused.
 *
 * @throws StackFileError when the file is not YAML, has no `config:` map, has
 * no `mlops:database` map to record a restore in, or a value cannot be
 * written in place (the message names the key and says what to change).
 */
export function editStackFileText(text: string, edit: PinEdit): string {
    const document = parseDocument(text);
    if (document.errors.length > 0) throw new StackFileError(`the stack file is not valid YAML: ${document.errors[0].message.split("\n")[0]}`);
    refuseReaderDisagreements(text, document, "the stack file");
    const config = document.get("config");
    if (!isMap(config)) throw new StackFileError("the stack file has no 'config:' map to edit");
    const source: Source = { text, eol: text.includes("\r\n") ? "\r\n" : "\n", document, before: document.toJS() as Source["before"] };
    const writes = writesFor(source, edit);
    const splices = writes.flatMap((write) => writeSplices(source, config, write));
    if (splices.length === 0) return text;
    const edited = applySplices(text, splices);
    checkReadsBack(source, edited, writes);
    return edited;
}

/** The values this edit writes, decided from what the file already holds. */
function writesFor(source: Source, edit: PinEdit): Write[] {
    const config = source.before.config;
    const rollback = config["mlops:rollback"] as Record<string, unknown> | null | undefined;
    const database = source.document.getIn(["config", "mlops:database"], true);
    // An alias is refused where it is written into, with what to do about it.
    if (edit.restoredInto !== undefined && !isMap(database) && !isAlias(database)) {
        throw new StackFileError("the stack file has no 'mlops:database:' map to record the restore in");
    }
    return [
        { key: "mlops:pinned", value: edit.pinned },
        ...(edit.quarantined.length > 0 || "mlops:quarantined" in config ? [{ key: "mlops:quarantined", value: [...edit.quarantined] }] : []),
        ...(edit.allowRedeploy.length > 0 || (typeof rollback === "object" && rollback !== null && "allowRedeploy" in rollback)
            ? [{ section: "mlops:rollback", key: "allowRedeploy", value: [...edit.allowRedeploy] }]
            : []),
        ...(edit.restoredInto === undefined ? [] : [{ section: "mlops:database", key: "restoredInto", value: edit.restoredInto }]),
    ];
}

const labelOf = (write: Write) => (write.section === undefined ? write.key : `${write.section}.${write.key}`);

/** The splices that write one value, or none when the file already holds it. */
function writeSplices(source: Source, config: YAMLMap, write: Write): Splice[] {
    const before = source.before.config;
    if (write.section === undefined) return valueSplices(source, [config], write, before[write.key]);
    const section = config.get(write.section, true);
    if (isMap(section)) return valueSplices(source, [config, section], write, (before[write.section] as Record<string, unknown>)[write.key], labelOf(write));
    // No section yet (or an empty one): it is written whole, as one flow map.
    if (section === undefined || (isScalar(section) && section.value === null)) {
        return valueSplices(source, [config], { key: write.section, value: { [write.key]: write.value } }, before[write.section], labelOf(write));
    }
    throw new StackFileError(
        `${write.section} is ${isAlias(section) ? `a YAML alias (${section.toString()})` : "not a map"}, so ${labelOf(write)} cannot be written into it without changing what else it stands for; write ${write.section} out as a map of its own and run again`,
    );
}

/** Splices that set `key` of the last of `maps` (each map holds the next) to `value`; `current` is what it reads as now. */
function valueSplices(source: Source, maps: readonly YAMLMap[], { key, value }: Write, current: unknown, label = key): Splice[] {
    const map = maps[maps.length - 1];
    const pair = map.items.find((item) => isScalar(item.key) && item.key.value === key) as Pair<Scalar, Node | null> | undefined;
    if (pair === undefined) {
        refuseSharedAnchor(source.document, maps, label);
        return [{ ...appendEntry(source, map, key, value), depth: maps.length }];
    }
    if (isDeepStrictEqual(current, value)) return [];
    if (pair.value === null)
        throw new StackFileError(`${label} is written as an explicit key ('? ${key}') with no value to replace; write it as '${key}: ...' and run again`);
    refuseSharedAnchor(source.document, [...maps, pair.value], label);
    if (isSeq(pair.value) && Array.isArray(current) && Array.isArray(value))
        return listSplices(source, pair as Pair<Scalar, YAMLSeq>, current as unknown[], value as string[], label);
    return [replaceNode(source, pair.value, value, keysQuoted(source, map))];
}

/** Whether keys written into `map` are double-quoted: in a flow map whose first key is (as in JSON), or an empty flow map in a file that is one flow map (JSON). */
function keysQuoted(source: Source, map: YAMLMap): boolean {
    if (map.flow !== true) return false;
    const first = map.items[0]?.key;
    if (first === undefined) return isMap(source.document.contents) && source.document.contents.flow === true;
    return isScalar(first) && first.type === Scalar.QUOTE_DOUBLE;
}

/**
 * Writing into a node that carries an anchor changes every alias of it
 * elsewhere in the file: refuse rather than change values the edit does not mean.
 */
function refuseSharedAnchor(document: Document, nodes: readonly Node[], label: string): void {
    const users = new Set<string>();
    visit(document, { Alias: (_key, alias) => void users.add(alias.source) });
    const shared = nodes.find((node) => node.anchor !== undefined && users.has(node.anchor));
    if (shared === undefined) return;
    throw new StackFileError(
        `${label} is written through the YAML anchor &${shared.anchor}, which other values use (*${shared.anchor}), so writing it would change them too; write ${label} as a plain value of its own (no anchor) and run again`,
    );
}

/**
 * One value as one line of YAML flow text: strings double-quoted, so a version id never reads as a number, and never folded;
 * map keys plain, or double-quoted with `quoteKeys` (inside a flow map, so that a JSON stack file stays JSON).
 */
function render(value: unknown, quoteKeys = false): string {
    return stringify(value, {
        collectionStyle: "flow",
        defaultStringType: "QUOTE_DOUBLE",
        defaultKeyType: quoteKeys ? "QUOTE_DOUBLE" : "PLAIN",
        lineWidth: 0,
    }).trimEnd();
}

/** C0 and C1 controls and the line separators: a single-quoted or plain scalar cannot hold them as text. */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const NOT_PLAIN_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * A string written in the style of the scalar it replaces, where it reads
 * back as that string in it: single-quoted stays single-quoted, plain stays
 * plain when both YAML readers read the plain text as that string
 * (`readsAsPlainString`); anything else as `render` writes it (double-quoted).
 */
function renderLike(node: Node, value: unknown, quoteKeys: boolean): string {
    if (typeof value !== "string" || !isScalar(node) || NOT_PLAIN_TEXT.test(value)) return render(value, quoteKeys);
    if (node.type === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
    if (node.type === Scalar.PLAIN && readsAsPlainString(value)) return value;
    return render(value, quoteKeys);
}

/** yaml.v3's plain scalars that are not strings, besides numbers and dates (resolve.go, resolveMap). */
const ENGINE_NAMED_VALUES = new Set(["true", "True", "TRUE", "false", "False", "FALSE", "", "~", "null", "Null", "NULL", "<<"]);

/**
 * Whether `value` written plain is that string to Go's yaml.v3 (not a
 * number, date, bool, null or merge key) and to the `yaml` package, both as
 * a block map's value and as a flow list's item (`v3` is; `3`, `true`,
 * `2026-01-01`, `a: b`, `x #y` and `[1]` are not).
 */
function readsAsPlainString(value: string): boolean {
    if (ENGINE_NAMED_VALUES.has(value) || engineNumber(value) !== undefined || isEngineTimestamp(value)) return false;
    return [`k: ${value}`, `[${value}]`].every((text) => {
        const document = parseDocument(text);
        const contents = document.contents;
        const items = isMap(contents) || isSeq(contents) ? contents.items : [];
        const node = isMap(contents) ? (items[0] as Pair | undefined)?.value : items[0];
        return document.errors.length === 0 && items.length === 1 && isScalar(node) && node.type === Scalar.PLAIN && node.value === value;
    });
}

/** Where the line holding `offset` starts. */
function lineStart(text: string, offset: number): number {
    return text.lastIndexOf("\n", offset - 1) + 1;
}

/** Where the line on which text ending at `end` ends stops, before its line break (a node's range may end after it). */
function lineEnd(text: string, end: number): number {
    const newline = end > 0 && text[end - 1] === "\n" ? end - 1 : text.indexOf("\n", end);
    if (newline === -1) return text.length;
    return text[newline - 1] === "\r" ? newline - 1 : newline;
}

/** Where the line break ending the line before the one starting at `lineStartOffset` begins. */
function lineBreakBefore(text: string, lineStartOffset: number): number {
    return lineStartOffset - (text[lineStartOffset - 2] === "\r" ? 2 : 1);
}

/**
 * A key the map lacks: one more entry after its last, at its indentation in
 * a block map (the new line starts with the file's line ending, so a file
 * without a final one keeps having none), after a comma in a flow map.
 */
function appendEntry(source: Source, map: YAMLMap, key: string, value: unknown): Splice {
    const { text, eol } = source;
    const last = map.items[map.items.length - 1] as Pair<Node, Node | null> | undefined;
    if (map.flow === true) {
        // Keys double-quoted where the map's are (a JSON stack file stays JSON), and `mlops:*` keys always: every YAML reader takes `"a:b":` as one key.
        const quoteKeys = keysQuoted(source, map);
        const entry = `${quoteKeys || !/^\w+$/.test(key) ? JSON.stringify(key) : key}: ${render(value, quoteKeys)}`;
        const at = last === undefined ? map.range![0] + 1 : (last.value ?? last.key).range![1];
        return { start: at, end: at, text: last === undefined ? ` ${entry}${text[at] === "}" ? " " : ""}` : `, ${entry}` };
    }
    // A block map has at least one entry; its first key's line gives the indentation (an anchor or `?` may precede the key).
    const indent = /^ */.exec(text.slice(lineStart(text, (map.items[0].key as Node).range![0])))![0];
    const at = lineEnd(text, (last!.value ?? last!.key).range![1]);
    return { start: at, end: at, text: `${eol}${indent}${key}: ${render(value)}` };
}

/**
 * Replace one node's text with the value, a string in the node's quoting style (`renderLike`); its anchor or tag, and
 * what follows it on the line (a comment), stay. `quoteKeys`: the node is a value of a map whose keys are double-quoted (`keysQuoted`).
 */
function replaceNode(source: Source, node: Node, value: unknown, quoteKeys: boolean): Splice {
    const { text } = source;
    const [start, end] = node.range!;
    const body = text.slice(start, end);
    if (isScalar(node) && (node.type === Scalar.BLOCK_FOLDED || node.type === Scalar.BLOCK_LITERAL) && typeof value === "string") {
        // Keep the header (`>-` and its comment) and the indentation: only the content changes.
        const contentLine = body.indexOf("\n") + 1;
        const content = body.slice(contentLine).search(/\S/);
        if (contentLine > 0 && content !== -1) return { start: start + contentLine + content, end: start + body.trimEnd().length, text: value };
    }
    const trimmedEnd = start + body.trimEnd().length;
    if (start < trimmedEnd) return { start, end: trimmedEnd, text: renderLike(node, value, quoteKeys) };
    // An empty value (`key:`, `key:   # c`, `"key": }`) has a zero-length range: keep the new text apart from its neighbours.
    const before = /\s/.test(text[start - 1]) ? "" : " ";
    const after = start === text.length || /\s/.test(text[start]) ? "" : " ";
    return { start, end: start, text: `${before}${render(value, quoteKeys)}${after}` };
}

/** Which items of a list stay (a longest common subsequence: shared items keep their place) and what goes after which old item (-1: before the first). */
interface ListChanges {
    readonly kept: readonly boolean[];
    readonly inserted: ReadonlyMap<number, readonly string[]>;
}

function listChanges(current: readonly unknown[], next: readonly string[]): ListChanges {
    const common = Array.from({ length: current.length + 1 }, () => new Array<number>(next.length + 1).fill(0));
    for (let i = current.length - 1; i >= 0; i--) {
        for (let j = next.length - 1; j >= 0; j--) {
            common[i][j] = isDeepStrictEqual(current[i], next[j]) ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
        }
    }
    const kept = current.map(() => false);
    const inserted = new Map<number, string[]>();
    for (let i = 0, j = 0, after = -1; j < next.length;) {
        if (i < current.length && isDeepStrictEqual(current[i], next[j])) {
            kept[i] = true;
            after = i++;
            j++;
        } else if (i < current.length && common[i + 1][j] >= common[i][j + 1]) {
            // On a tie the old item goes: either way as many items stay.
            i++;
        } else {
            inserted.set(after, [...(inserted.get(after) ?? []), next[j++]]);
        }
    }
    return { kept, inserted };
}

/** Splices that turn a list into `next` item by item: kept items, and the comments around them, stay byte for byte. */
function listSplices(source: Source, pair: Pair<Scalar, YAMLSeq>, current: readonly unknown[], next: readonly string[], label: string): Splice[] {
    const seq = pair.value!;
    const items = seq.items;
    if (!items.every((item): item is Node => isScalar(item) || isAlias(item) || isMap(item) || isSeq(item))) {
        throw new StackFileError(`${label} holds a pair (\`key: value\`) as a list item; write it as a list of version ids and run again`);
    }
    const changes = listChanges(current, next);
    return seq.flow === true ? flowListSplices(source.text, seq.range!, items, changes, next) : blockListSplices(source, pair.key, items, changes, label);
}

/**
 * `[ "1", "3" ]`, item by item. A comment on an item's line after it (after
 * its comma, if any) is that item's own: it stays with a kept item and goes
 * with a removed one. Items replaced by new ones (a run of removed items
 * with new ones in their place) are overwritten where they stand, so the
 * comments of the items around them stay where they were; other new items
 * come with a comma, and removed items go with the separator after them
 * (before them, at the end).
 */
function flowListSplices(text: string, [open, close]: readonly number[], items: readonly Node[], changes: ListChanges, next: readonly string[]): Splice[] {
    const start = (i: number) => items[i].range![0];
    const end = (i: number) => items[i].range![1];
    const list = (values: readonly string[]) => values.map((value) => render(value)).join(", ");
    if (items.length === 0) return [{ start: open + 1, end: open + 1, text: ` ${list(next)}${text[open + 1] === "]" ? " " : ""}` }];
    const inserted = new Map(changes.inserted);
    const splices: Splice[] = [];
    for (let first = 0; first < items.length; first++) {
        if (changes.kept[first]) continue;
        let last = first;
        while (last + 1 < items.length && !changes.kept[last + 1]) last++;
        const comment = ownComment(text, end(last), last + 1 < items.length ? start(last + 1) : close);
        const values = inserted.get(first - 1);
        if (values !== undefined) {
            inserted.delete(first - 1);
            splices.push({ start: start(first), end: end(last), text: list(values) }, ...(comment === undefined ? [] : [comment]));
        } else if (last + 1 < items.length) {
            // Up to the next item: the removed items' commas and own comments go with them.
            splices.push({ start: start(first), end: start(last + 1), text: "" });
        } else if (first === 0) {
            // Nothing stays: `[]`, unless a comment outside the items (before the first) is left to keep.
            const stop = comment?.end ?? end(last);
            if (!`${text.slice(open, start(0))}${text.slice(stop, close)}`.includes("#")) return [{ start: open, end: close, text: "[]" }];
            splices.push(wholeLinesIfAlone(text, { start: start(0), end: stop, text: "" }));
        } else {
            splices.push(...lastRunDeletion(text, items, first, comment));
        }
        first = last;
    }
    for (const [after, values] of inserted) {
        splices.push(
            after === -1 ? { start: start(0), end: start(0), text: `${list(values)}, ` } : { start: end(after), end: end(after), text: `, ${list(values)}` },
        );
    }
    return splices;
}

/** The deletion of the comment on an item's line after it (and after its comma, if any), from the blanks before it; undefined when it has none. */
function ownComment(text: string, itemEnd: number, nextStart: number): Splice | undefined {
    const match = /^((?:[ \t]*,)?)[ \t]*#[^\r\n]*/.exec(text.slice(itemEnd, nextStart));
    return match === null ? undefined : { start: itemEnd + match[1].length, end: itemEnd + match[0].length, text: "" };
}

/** Where the first comma outside comments in `text.slice(from, to)` is, or -1. */
function commaOutsideComments(text: string, from: number, to: number): number {
    for (let at = from; at < to; at++) {
        if (text[at] === ",") return at;
        if (text[at] === "#") while (at < to && text[at] !== "\n") at++;
    }
    return -1;
}

/**
 * The items from `first` to the end of a flow list go, with their own
 * comment (`comment`, of the last) and a comma: the one after the last
 * item, else the one before `first` (the item before them is kept). A
 * comment between that kept item and them is the kept item's: it stays.
 */
function lastRunDeletion(text: string, items: readonly Node[], first: number, comment: Splice | undefined): Splice[] {
    const keptEnd = items[first - 1].range![1];
    const start = items[first].range![0];
    const lastEnd = items[items.length - 1].range![1];
    const trailingComma = /^[ \t]*,/.exec(text.slice(lastEnd));
    const stop = comment?.end ?? lastEnd + (trailingComma?.[0].length ?? 0);
    if (trailingComma !== null) return [wholeLinesIfAlone(text, { start, end: stop, text: "" })];
    if (!text.slice(keptEnd, start).includes("#")) return [{ start: keptEnd, end: stop, text: "" }];
    const comma = commaOutsideComments(text, keptEnd, start);
    if (comma === -1) return [{ start: keptEnd, end: stop, text: "" }];
    // `"1" # keep⏎ , "4" # drop`: the comma is on the removed item's line and goes with it.
    if (!/[#\n]/.test(text.slice(comma, start))) return [wholeLinesIfAlone(text, { start: comma, end: stop, text: "" })];
    return [{ start: comma, end: comma + 1, text: "" }, wholeLinesIfAlone(text, { start, end: stop, text: "" })];
}

/** A deletion that is all its lines hold takes the lines (and the line break before them) too, leaving no blank line. */
function wholeLinesIfAlone(text: string, deletion: Splice): Splice {
    const first = lineStart(text, deletion.start);
    const last = lineEnd(text, deletion.end);
    if (text.slice(first, deletion.start).trim() !== "" || text.slice(deletion.end, last).trim() !== "" || first === 0) return deletion;
    return { ...deletion, start: lineBreakBefore(text, first), end: last };
}

/** `- "1"` lines: an item's lines go with the line break before them; new lines copy the first item's `- ` and use the file's line ending. */
function blockListSplices(source: Source, key: Scalar, items: readonly Node[], changes: ListChanges, label: string): Splice[] {
    const { text, eol } = source;
    const firstLine = lineStart(text, items[0].range![0]);
    const dash = /^[ \t]*-[ \t]*/.exec(text.slice(firstLine, items[0].range![0]))?.[0];
    if (dash === undefined)
        throw new StackFileError(`${label} is a list whose first item does not start its line; write one '- version' per line and run again`);
    const splices: Splice[] = items.flatMap((item, i) =>
        changes.kept[i] ? [] : [{ start: lineBreakBefore(text, lineStart(text, item.range![0])), end: lineEnd(text, item.range![1]), text: "" }],
    );
    for (const [after, values] of changes.inserted) {
        const at = after === -1 ? lineBreakBefore(text, firstLine) : lineEnd(text, items[after].range![1]);
        splices.push({ start: at, end: at, text: values.map((value) => `${eol}${dash}${render(value)}`).join("") });
    }
    if (!changes.kept.includes(true) && changes.inserted.size === 0) {
        // A block list cannot be empty: `[]` goes on the key's line, after the colon and any anchor or tag.
        const colon = /^[ \t]*:(?:[ \t]+[&!]\S*)*/.exec(text.slice(key.range![1]));
        if (colon === null)
            throw new StackFileError(
                `${label} cannot be emptied in place (its ':' is not on its key's line); write it as '${key.value as string}: []' and run again`,
            );
        const at = key.range![1] + colon[0].length;
        splices.push({ start: at, end: at, text: " []" });
    }
    return splices;
}

/** Apply non-overlapping splices of the original text; an insertion comes before a deletion that starts where it is. */
function applySplices(text: string, splices: readonly Splice[]): string {
    const ordered = [...splices].sort((a, b) => a.start - b.start || a.end - a.start - (b.end - b.start) || (b.depth ?? 0) - (a.depth ?? 0));
    let edited = "";
    let cursor = 0;
    for (const splice of ordered) {
        // A bug here, not bad input: each splice covers text of its own.
        if (splice.start < cursor) throw new Error(`stack file edit: overlapping splices at offset ${splice.start}`);
        edited += text.slice(cursor, splice.start) + splice.text;
        cursor = splice.end;
    }
    return edited + text.slice(cursor);
}

/**
 * The edited file must read as the original with only the written values
 * changed; anything else (a tag that reads the new text as another type, a
 * block scalar that keeps its line break, an alias left pointing nowhere) is
 * refused, naming what would change.
 */
function checkReadsBack(source: Source, edited: string, writes: readonly Write[]): void {
    const expected = structuredClone(source.before);
    for (const { section, key, value } of writes) {
        if (section === undefined) expected.config[key] = value;
        else expected.config[section] = { ...(expected.config[section] as Record<string, unknown> | null), [key]: value };
    }
    const document = parseDocument(edited);
    const actual = document.errors.length === 0 ? (document.toJS() as Source["before"]) : undefined;
    if (isDeepStrictEqual(actual, expected)) return;
    const differing = actual === undefined ? [] : differingKeys(expected, actual);
    const what =
        actual === undefined
            ? `leave the stack file invalid (${document.errors[0].message.split("\n")[0]})`
            : `change how ${differing.join(", ")} read${differing.length === 1 ? "s" : ""}`;
    throw new StackFileError(
        `writing ${writes.map(labelOf).join(", ")} into the stack file in place would ${what}; write these values plainly (no YAML tag, anchor or block scalar on them) and run again`,
    );
}

/** The top-level keys, and the keys of `config`, whose values differ. */
function differingKeys(expected: Source["before"], actual: Source["before"]): string[] {
    const differing = (a: Record<string, unknown>, b: Record<string, unknown>) =>
        [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((key) => !isDeepStrictEqual(a[key], b[key]));
    return differing(expected, actual).flatMap((key) => (key === "config" ? differing(expected.config, actual.config ?? {}) : [key]));
}

/**
 * Apply the edit to the file and return the text it had, so that a dry run
 * can put it back byte for byte (with `replaceFile`). Errors: those of
 * `editStackFileText` and `replaceFile`.
 */
export function editStackFile(file: string, edit: PinEdit): string {
    const previous = readFileSync(file, "utf8");
    replaceFile(file, editStackFileText(previous, edit));
    return previous;
}

/**
 * Replace a stack file's text, writing nowhere but the file:
 * - a symlink is followed to its real path, and stays a symlink;
 * - text equal to what the file holds writes nothing (so putting back a file
 *   that was never changed works even when it is read-only);
 * - a file without write permission (no `w` bit at all, or none for the
 *   caller) is refused with a `StackFileError` naming it, never replaced;
 * - a file with one link is replaced atomically: a temporary file in the same
 *   directory, with an unpredictable name (128 random bits) and created
 *   exclusively (O_EXCL: a file or symlink planted at that name fails the
 *   write, never redirects it), gets the file's mode (664 and 666 included;
 *   set with fchmod, which umask does not narrow) and owner (where the caller
 *   may set it), the text, an fsync, and is renamed over the file; on any
 *   failure it is removed and the file is untouched;
 * - a file with several hard links is written in place (then truncated and
 *   fsynced), so every link sees the new text: a rename would leave the other
 *   links with the old one. That write is not atomic: a crash during it can
 *   leave part of the old text after the new.
 */
export function replaceFile(file: string, text: string): void {
    const target = realpathSync(file);
    if (statSync(target).isFile() && readFileSync(target, "utf8") === text) return;
    const refusal = writeRefusal(file);
    if (refusal !== undefined) throw new StackFileError(refusal.fix === undefined ? refusal.problem : `${refusal.problem}; ${refusal.fix}`);
    const stats = statSync(target);
    if (stats.nlink > 1) writeInPlace(target, text);
    else writeAndRename(target, text, stats);
}

/** Why a stack file cannot be rewritten, and the fix; see `writeRefusal`. */
export interface WriteRefusal {
    readonly problem: string;
    readonly fix?: string;
}

/**
 * Why `replaceFile` would refuse to rewrite `file` (followed to its real
 * path), or undefined: not a regular file; read-only (no `w` bit at all,
 * which root too respects as made read-only on purpose, or none for the
 * caller); or, with one link (replaced by a new file renamed over it), a
 * directory the caller cannot write. The CLI asks before it changes anything
 * else (cli/pinChange.ts), so a refusal never comes after a restore or a switch.
 */
export function writeRefusal(file: string): WriteRefusal | undefined {
    const target = realpathSync(file);
    const stats = statSync(target);
    if (!stats.isFile()) return { problem: `${file} is not a regular file; mlops writes the pin only into a stack file` };
    if ((stats.mode & 0o222) === 0 || !canWrite(target)) {
        return { problem: `${file} is read-only, so mlops will not rewrite it`, fix: `make it writable (chmod u+w ${file}) and run again` };
    }
    const directory = path.dirname(target);
    if (stats.nlink === 1 && !canWrite(directory)) {
        return {
            problem: `${directory}, the directory of ${file}, is not writable, so mlops cannot replace the file`,
            fix: `make it writable (chmod u+w ${directory}) and run again`,
        };
    }
    return undefined;
}

function canWrite(target: string): boolean {
    try {
        accessSync(target, constants.W_OK);
        return true;
    } catch {
        return false;
    }
}

function writeAndRename(target: string, text: string, stats: Stats): void {
    const directory = path.dirname(target);
    const temporary = path.join(directory, `.${path.basename(target)}.${randomBytes(16).toString("hex")}.tmp`);
    // Outside the try: a name that exists already is not ours to remove.
    let fd: number | undefined = openSync(temporary, "wx", 0o600);
    try {
        if (stats.uid !== process.getuid?.() || stats.gid !== process.getgid?.()) {
            try {
                fchownSync(fd, stats.uid, stats.gid);
            } catch (error) {
                // Only root may give a file away: anyone else's new file stays theirs.
                if ((error as NodeJS.ErrnoException).code !== "EPERM") throw error;
            }
        }
        fchmodSync(fd, stats.mode & 0o7777);
        writeFileSync(fd, text);
        fsyncSync(fd);
        closeSync(fd);
        fd = undefined;
        renameSync(temporary, target);
    } catch (error) {
        if (fd !== undefined) closeSync(fd);
        rmSync(temporary, { force: true });
        throw error;
    }
    // The rename is durable only once the directory is on disk too.
    const directoryFd = openSync(directory, "r");
    try {
        fsyncSync(directoryFd);
    } finally {
        closeSync(directoryFd);
    }
}

function writeInPlace(target: string, text: string): void {
    // No O_TRUNC: until the write, the file keeps its old text.
    const fd = openSync(target, "r+");
    try {
        writeFileSync(fd, text);
        ftruncateSync(fd, Buffer.byteLength(text));
        fsyncSync(fd);
    } finally {
        closeSync(fd);
    }
}
