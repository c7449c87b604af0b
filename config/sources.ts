/**
 * Where raw config comes from: a stack file read by the CLI, or the config
 * map the Pulumi engine hands the program. Both become the plain object that
 * `parseStackConfig` takes, keys without the `mlops:` namespace.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { isAlias, isMap, isScalar, isSeq, parse as parseYaml, parseDocument, Scalar, visit, type Document } from "yaml";
import { BadInputError } from "./badInput";
import {
    CONFIG_NAMESPACE,
    configPath,
    configValueKind,
    indentedLines,
    keyMisplacedBy,
    misplacedKeyProblems,
    parseStackConfig,
    StackConfigError,
    withoutUrlSecrets,
    type ConfigProblem,
    type ConfigValueKind,
    type StackConfig,
} from "./schema";

/** Keys whose Pulumi config value is a plain string, never JSON. */
const STRING_KEYS = new Set(["target", "model", "pinned"]);

/**
 * The engine passes every config value as a string, structured values as
 * JSON: `mlops:warm: 1` arrives as "1", `mlops:versions` as a JSON array.
 * Version ids stay strings ("3" must not become the number 3).
 */
export function rawConfigFromPulumiConfig(all: Record<string, string>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(all)) {
        const key = namespacedKey(fullKey);
        if (key !== undefined) raw[key] = valueAsProgramSeesIt(key, value);
    }
    return raw;
}

/**
 * A config value as the program receives it from the engine. The engine
 * hands over top-level scalars as text (`mlops:warm: "2"`, which
 * `pulumi config set mlops:warm 2` writes, arrives as "2", and so does an
 * unquoted 2), and the program JSON-parses every key but the string ones.
 * The CLI reads stack files through the same function, so `mlops validate`
 * accepts exactly what `pulumi up` does.
 */
export function valueAsProgramSeesIt(key: string, value: unknown): unknown {
    const text = typeof value === "number" || typeof value === "boolean" ? String(value) : value;
    if (typeof text !== "string") return text;
    return STRING_KEYS.has(key) ? text : parseJsonOrKeep(text);
}

/**
 * The stack config the engine hands the program (`pulumi.runtime.allConfig()`,
 * every namespace), parsed; `StackConfigError` naming every problem, a key
 * written outside the `mlops:` namespace (`acme:pinned`, see
 * `misplacedKeyProblems`) first, in place of the "required" it causes.
 * `project`: the Pulumi project's name (`pulumi.getProject()`).
 */
export function stackConfigFromPulumiConfig(all: Record<string, string>, project?: string): StackConfig {
    const misplaced = misplacedKeyProblems(Object.keys(all), project);
    let config: StackConfig;
    try {
        config = parseStackConfig(rawConfigFromPulumiConfig(all));
    } catch (error) {
        if (!(error instanceof StackConfigError)) throw error;
        throw new StackConfigError(withSourceProblems(misplaced, error.problems));
    }
    return config;
}

function parseJsonOrKeep(value: string): unknown {
    try {
        return JSON.parse(value);
    } catch {
        // Not JSON: a plain string, which the schema then reports by key.
        return value;
    }
}

function namespacedKey(fullKey: string): string | undefined {
    const prefix = `${CONFIG_NAMESPACE}:`;
    return fullKey.startsWith(prefix) ? fullKey.slice(prefix.length) : undefined;
}

/** Thrown when a stack file cannot be found or read as a stack file. */
export class StackFileError extends BadInputError {}

/**
 * The `mlops:*` keys of a Pulumi stack file (`Pulumi.<stack>.yaml`), as the
 * program will see them; `StackConfigError` (exit 2) when a number in them
 * is written in a form YAML readers disagree on (see `numberSpellingProblems`).
 */
export function rawConfigFromStackFile(file: string): Record<string, unknown> {
    const { raw, problems } = readRawStackConfig(file);
    if (problems.length > 0) throw new StackConfigError(problems);
    return raw;
}

/**
 * The `mlops:*` keys of a stack file as the program will see them, and the
 * problems only the file's YAML source shows (numbers spelled in a form YAML
 * readers disagree on; keys of mlops written outside its namespace, such as
 * `acme:pinned`), for the caller to report with the schema's own
 * (`withSourceProblems`).
 */
export function readRawStackConfig(file: string): { raw: Record<string, unknown>; problems: ConfigProblem[] } {
    const { config, problems: spellings } = parseStackFile(file);
    const problems = [...misplacedKeyProblems(Object.keys(config), projectNameFor(file)), ...spellings];
    const raw: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(config)) {
        const key = namespacedKey(fullKey);
        if (key !== undefined) raw[key] = valueAsProgramSeesIt(key, value);
    }
    return { raw, problems };
}

/** The name in the Pulumi.yaml of the project a stack file belongs to (the nearest one up from its folder), or undefined when there is none to read. */
function projectNameFor(file: string): string | undefined {
    for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
        const projectFile = path.join(dir, "Pulumi.yaml");
        if (existsSync(projectFile)) {
            try {
                const name = (parseYaml(readFileSync(projectFile, "utf8")) as { name?: unknown } | null)?.name;
                return typeof name === "string" ? name : undefined;
            } catch {
                // Not readable as YAML: the message then names the namespace without calling it the project's.
                return undefined;
            }
        }
        if (path.dirname(dir) === dir) return undefined;
    }
}

/** A stack file larger than this is refused: Pulumi stack files are kilobytes, and reading an endless one must not grow without bound. */
export const MAX_STACK_FILE_BYTES = 1024 * 1024;

/**
 * The text of a stack file that is a regular file of at most
 * MAX_STACK_FILE_BYTES; else `StackFileError` (exit 2). Opened without
 * blocking and checked on the open descriptor, so that a FIFO never hangs
 * the CLI and a device such as /dev/zero is never read.
 */
function readStackFileText(file: string): string {
    let fd: number;
    try {
        fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
        throw new StackFileError(`cannot read stack file ${file}: ${reason}`);
    }
    try {
        const stat = fstatSync(fd);
        if (!stat.isFile()) {
            throw new StackFileError(
                `cannot read stack file ${file}: not a regular file (a directory, device or pipe); give the path of a Pulumi.<stack>.yaml`,
            );
        }
        if (stat.size > MAX_STACK_FILE_BYTES) {
            throw new StackFileError(
                `cannot read stack file ${file}: ${stat.size} bytes, more than ${MAX_STACK_FILE_BYTES} (1 MiB); a Pulumi stack file is kilobytes: check the path`,
            );
        }
        return readFileSync(fd, "utf8");
    } finally {
        closeSync(fd);
    }
}

/** Every key of a stack file's `config:` map, as written (any namespace); `StackFileError` (exit 2) when it cannot be read as one. */
export function stackFileConfig(file: string): Record<string, unknown> {
    return parseStackFile(file).config;
}

/** Line breaks to Go's yaml.v3 (YAML 1.1), not to the `yaml` package (YAML 1.2): NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR. */
const ENGINE_ONLY_LINE_BREAKS = /[\u0085\u2028\u2029]/;

/**
 * Refuse (`StackFileError`, exit 2) what the engine's YAML reader (Go's
 * yaml.v3) reads otherwise than the CLI's, so that there is one reading:
 * - a merge key `<<` (plain, anywhere in the file): yaml.v3 merges the map
 *   it names into the map holding it, the `yaml` package (YAML 1.2) keeps
 *   it as a key named "<<", so `<<: {"mlops:warm": 0}` would be warm 0 to
 *   the engine and the default here, and its values would skip the checks;
 * - U+0085, U+2028 or U+2029 anywhere in the file (in a comment, a key or a
 *   value, quoted or not): a line break to yaml.v3, so text after it in a
 *   comment is a key to the engine and a comment here.
 * `file` names the file in the message (a label such as "the stack file" also works).
 */
export function refuseReaderDisagreements(text: string, document: Document, file: string): void {
    const lineOf = (offset: number) => text.slice(0, offset).split("\n").length;
    const breakAt = text.search(ENGINE_ONLY_LINE_BREAKS);
    if (breakAt !== -1) {
        const code = text.codePointAt(breakAt)!.toString(16).toUpperCase().padStart(4, "0");
        throw new StackFileError(
            `${file} line ${lineOf(breakAt)} holds the character U+${code}, which Pulumi's YAML reader takes as a line break and other readers do not; delete it (inside a double-quoted string, write it as "\\u${code}")`,
        );
    }
    let mergeKey: Scalar | undefined;
    visit(document, {
        Pair: (_key, pair) => {
            if (isScalar(pair.key) && pair.key.value === "<<" && pair.key.type === Scalar.PLAIN) {
                mergeKey = pair.key;
                return visit.BREAK;
            }
            return undefined;
        },
    });
    if (mergeKey !== undefined) {
        throw new StackFileError(
            `${file} line ${lineOf(mergeKey.range?.[0] ?? 0)} has a YAML merge key '<<', which Pulumi's YAML reader merges and other readers keep as a key named "<<"; write the merged keys out in that map and remove the '<<' line`,
        );
    }
}

/** The `config:` map of a stack file, and the numbers under its `mlops:*` keys whose spelling readers disagree on. */
function parseStackFile(file: string): { config: Record<string, unknown>; problems: ConfigProblem[] } {
    const text = readStackFileText(file);
    let document: unknown;
    let parsed: Document.Parsed;
    try {
        // As yaml's parse() does (errors thrown, aliases capped), keeping the nodes: their source text.
        parsed = parseDocument(text);
        if (parsed.errors.length > 0) throw parsed.errors[0];
        document = parsed.toJS();
    } catch (error) {
        // The whole message: its code frame (the line and a caret under the error) shows where.
        // The parser's code frame quotes the file's lines, which may hold a webhook token: cut URLs as every problem message does.
        throw new StackFileError(`${file} is not valid YAML: ${withoutUrlSecrets((error as Error).message.trimEnd())}`);
    }
    refuseReaderDisagreements(text, parsed, file);
    const config = (document as { config?: unknown } | null)?.config;
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
        throw new StackFileError(`${file} has no 'config:' map; a Pulumi stack file has the mlops:* keys under 'config:'`);
    }
    return { config: config as Record<string, unknown>, problems: numberSpellingProblems(parsed) };
}

/**
 * Every plain (unquoted) scalar under the `mlops:*` keys of a stack file that
 * a YAML reader takes for a number, unless it is written as that number's
 * canonical decimal (`3`, `-2`, `0.5`), or for a date; each named by its
 * config path, with the fix.
 *
 * The CLI reads the file with the `yaml` package (YAML 1.2 core schema); the
 * engine reads it with Go's yaml.v3 and hands the program what it found,
 * and the two do not agree on these spellings: `010` is 10 here and 8
 * there, `1_000` and `0X3` text here and numbers there, `2.10` the number
 * 2.1 to both while a version id meant "2.10", `9007199254740993` exact there
 * and rounded here, `2026-01-01` text here and a date there (the program
 * gets "2026-01-01 00:00:00 +0000 UTC"). Refused with the fix rather than
 * read one way, since only the person who wrote it knows which was meant.
 */
export function numberSpellingProblems(document: Document.Parsed): ConfigProblem[] {
    const config = document.get("config", true);
    if (!isMap(config)) return [];
    const problems: ConfigProblem[] = [];
    // An alias of a collection is checked once (a billion-laughs file stays cheap).
    const seen = new Set<unknown>();
    const visit = (node: unknown, path: (string | number)[]): void => {
        const target = isAlias(node) ? node.resolve(document) : node;
        if (isScalar(target)) {
            const problem = numberSpellingProblem(target, configValueKind(path));
            if (problem !== undefined) problems.push({ path: configPath(path), message: problem });
            return;
        }
        if (seen.has(target)) return;
        seen.add(target);
        if (isSeq(target)) target.items.forEach((item, index) => visit(item, [...path, index]));
        if (!isMap(target)) return;
        for (const pair of target.items) {
            const key = isScalar(pair.key) ? String(pair.key.value) : "?";
            visit(pair.key, [...path, key]);
            visit(pair.value, [...path, key]);
        }
    };
    for (const pair of config.items) {
        const key = isScalar(pair.key) && typeof pair.key.value === "string" ? namespacedKey(pair.key.value) : undefined;
        if (key !== undefined) visit(pair.value, [key]);
    }
    return problems;
}

/** The canonical decimal spelling of a number: no sign but '-', no leading zero, no trailing zero after the point, no exponent. */
const CANONICAL_DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*[1-9])?$/;

/**
 * Why a scalar must be quoted or rewritten, or undefined when it is not a
 * number or is spelled canonically; the fix worded by the `kind` of value
 * its key takes (a version id is quoted, a count is written in plain decimal).
 */
function numberSpellingProblem(node: Scalar, kind: ConfigValueKind | undefined): string | undefined {
    if (node.type !== Scalar.PLAIN || typeof node.source !== "string") return undefined;
    const source = node.source;
    // `!!str 03` is text to every reader.
    if (node.tag === "tag:yaml.org,2002:str") return undefined;
    const text = JSON.stringify(source);
    if (isEngineTimestamp(source)) {
        return `unquoted ${source} is a date to Pulumi's YAML reader, which hands the program a text of its own ("2026-01-01 00:00:00 +0000 UTC" for 2026-01-01), and the text ${text} to others; ${spellingFix(kind, text, undefined, "this key takes a number: write one")}`;
    }
    const here = typeof node.value === "number" ? node.value : undefined;
    const engine = engineNumber(source);
    if (here === undefined && engine === undefined) return undefined;
    if (CANONICAL_DECIMAL.test(source) && String(Number(source)) === source) return undefined;
    const readings = [here, engine].filter((value) => value !== undefined);
    if (readings.some((value) => !Number.isFinite(value))) {
        return `unquoted ${source} is not a finite number; ${spellingFix(kind, text, undefined, "write a finite number")}`;
    }
    if (readings.some((value) => Number.isInteger(value) && !Number.isSafeInteger(value))) {
        return `unquoted ${source} is an integer too large to read exactly (above 2^53); ${spellingFix(kind, text, undefined, "write a smaller number")}`;
    }
    if (here === undefined) {
        return `unquoted ${source} is the number ${engine} to Pulumi's YAML reader and the text ${text} to others; ${spellingFix(kind, text, String(engine))}`;
    }
    if (engine !== undefined && String(engine) !== String(here)) {
        return `unquoted ${source} is the number ${engine} to Pulumi's YAML reader and ${here} to others; ${spellingFix(kind, text, undefined, "write the number you mean in plain decimal")}`;
    }
    if (kind === "number") return `unquoted ${source} is the number ${here} written in a form YAML readers do not all read alike; write ${here}`;
    return `unquoted ${source} is the number ${here}, not the text ${text}; ${spellingFix(kind, text, String(here))}`;
}

/**
 * The fix for a number spelled ambiguously, by the kind of value its key
 * takes: a version id or other text is quoted (`quote it ("3.0")`), a number
 * is written as `plain` (or as `numberFix` says when there is no one plain
 * reading); for a key the schema does not know, both.
 */
function spellingFix(
    kind: ConfigValueKind | undefined,
    text: string,
    plain: string | undefined,
    numberFix = "write the number you mean in plain decimal",
): string {
    const asNumber = plain === undefined ? numberFix : `write ${plain}`;
    if (kind === "number") return asNumber;
    if (kind === "text") return `quote it (${text})`;
    if (kind === "version id")
        return plain === undefined
            ? `quote it (${text}): a version id is text`
            : `quote it (${text}) if the version id is ${text}, or write ${plain} for version ${plain}`;
    return `quote it (${text}) if it is text such as a version id, or ${asNumber}`;
}

/**
 * The timestamps yaml.v3 reads in a plain scalar (resolve.go,
 * allowedTimestampFormats, parsed by Go's time.Parse): a date
 * `YYYY-M-D`; or a date, 'T' or 't', a time `h:m:s` with an optional
 * fraction after '.' or ',' and a zone `Z` or `±hh:mm`; or a date, one or
 * more spaces and such a time without a zone. Month, day, hour, minute and
 * second take one or two digits and must be in range (2026-02-30 is text).
 */
const ENGINE_TIMESTAMP =
    /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?(?:Z|[-+]([0-9]{2}):([0-9]{2}))| +([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?)?$/;

/** Whether Go's yaml.v3 reads this plain scalar as a timestamp (see ENGINE_TIMESTAMP). */
export function isEngineTimestamp(source: string): boolean {
    const match = ENGINE_TIMESTAMP.exec(source);
    if (match === null) return false;
    const [year, month, day, hour, minute, second, zoneHour, zoneMinute, spacedHour, spacedMinute, spacedSecond] = match
        .slice(1)
        .map((part) => Number(part ?? 0));
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
    return (
        daysInMonth !== undefined &&
        day >= 1 &&
        day <= daysInMonth &&
        Math.max(hour, spacedHour) < 24 &&
        Math.max(minute, second, spacedMinute, spacedSecond) < 60 &&
        zoneHour <= 24 &&
        zoneMinute <= 60
    );
}

/** `.inf`, `-.Inf`, `.NAN`...: yaml.v3's named floats (resolve.go, resolveMap). */
const NAMED_FLOATS: Readonly<Record<string, number>> = Object.fromEntries(
    ["", "+", "-"]
        .flatMap((sign) => [".inf", ".Inf", ".INF"].map((name) => [`${sign}${name}`, sign === "-" ? -Infinity : Infinity] as const))
        .concat([".nan", ".NaN", ".NAN"].map((name) => [name, NaN] as const)),
);

/**
 * The number Go's yaml.v3 (the engine's reader) takes a plain scalar for,
 * or undefined for text: for a scalar starting with a digit or sign, after
 * removing every '_', an integer as Go's
 * strconv.ParseInt reads it with base prefixes (0x, 0X, 0b, 0B, 0o, 0O, and
 * a leading 0 for octal), or a float of YAML's own form (resolve.go).
 */
export function engineNumber(source: string): number | undefined {
    if (source in NAMED_FLOATS) return NAMED_FLOATS[source];
    // yaml.v3 tries numbers only for a scalar starting with a digit, a sign or '.' (`_1` is text), and removes '_' after a digit or sign only.
    if (!/^[-+.0-9]/.test(source)) return undefined;
    if (source.startsWith(".")) return /^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(source) ? Number(source) : undefined;
    const plain = source.replace(/_/g, "");
    const integer = /^([-+]?)(?:0([xX])([0-9a-fA-F]+)|0([bB])([01]+)|0([oO]?)([0-7]+)|([1-9][0-9]*|0))$/.exec(plain);
    if (integer !== null) {
        const [, sign, , hex, , binary, , octal, decimal] = integer;
        const magnitude =
            hex !== undefined ? parseInt(hex, 16) : binary !== undefined ? parseInt(binary, 2) : octal !== undefined ? parseInt(octal, 8) : Number(decimal);
        return sign === "-" ? -magnitude : magnitude;
    }
    if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/.test(plain)) return Number(plain);
    return undefined;
}

/**
 * `Pulumi.<stack>.yaml` in the project directory, or wherever `stackConfigDir` in the project's
 * Pulumi.yaml points.
 */
export function stackFilePath(projectDir: string, stack: string): string {
    let stackConfigDir = ".";
    try {
        const project = parseYaml(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { stackConfigDir?: string } | null;
        stackConfigDir = project?.stackConfigDir ?? ".";
    } catch {
        throw new StackFileError(
            `no Pulumi.yaml in ${projectDir}; run mlops from the project directory, or pass --cwd <project dir> (validate and plan also take --config-file <stack file>)`,
        );
    }
    // Pulumi names the file after the stack's short name (org/project/stack → stack).
    const shortName = stack.split("/").pop() ?? stack;
    const file = path.join(projectDir, stackConfigDir, `Pulumi.${shortName}.yaml`);
    if (!existsSync(file)) {
        const known = readdirSync(path.join(projectDir, stackConfigDir))
            .map((name) => /^Pulumi\.(.+)\.yaml$/.exec(name)?.[1])
            .filter((name): name is string => name !== undefined);
        throw new StackFileError(
            `no config file for stack '${stack}' at ${file} (stacks with a config file: ${known.join(", ") || "none"}); check --stack (validate and plan also take --config-file <stack file>)`,
        );
    }
    return file;
}

/** A stack file whose config is invalid: exit 2, every problem named by its config key (`--json` lists them). */
export class InvalidConfigError extends BadInputError {
    constructor(
        message: string,
        readonly problems: readonly ConfigProblem[],
    ) {
        super(message);
    }
}

/**
 * A stack file read and checked: its raw config (as the program sees it), the
 * parsed config when the schema accepts it, and every problem of the file's
 * source and of its config (`withSourceProblems`), empty when it is valid.
 * `StackFileError` (exit 2) when it cannot be read as a stack file.
 */
export function checkStackFile(file: string): { raw: Record<string, unknown>; config?: StackConfig; problems: ConfigProblem[] } {
    const { raw, problems: sourceProblems } = readRawStackConfig(file);
    try {
        return { raw, config: parseStackConfig(raw), problems: withSourceProblems(sourceProblems, []) };
    } catch (error) {
        if (!(error instanceof StackConfigError)) throw error;
        return { raw, problems: withSourceProblems(sourceProblems, error.problems) };
    }
}

/**
 * A stack file's raw config and its parsed, valid config; bad input (exit 2)
 * that names the file (or `label`, e.g. the flag that named it) otherwise.
 */
export function loadStackConfig(file: string, label = file): { raw: Record<string, unknown>; config: StackConfig } {
    const { raw, config, problems } = checkStackFile(file);
    if (config === undefined || problems.length > 0) {
        throw new InvalidConfigError(
            `${label} is invalid; run mlops validate for details:\n${problems.map((p) => `  ${p.path}: ${indentedLines(p.message)}`).join("\n")}`,
            problems,
        );
    }
    return { raw, config };
}

/**
 * The problems of a stack file's source (`readRawStackConfig`) and of its
 * config (`parseStackConfig`), one list by path, keys written outside the
 * `mlops:` namespace first (they are the cause of what follows); a key whose
 * number is spelled ambiguously is named once, by that problem, not again by
 * what the schema made of one reading of it, and `mlops:pinned` is not
 * called "required" when `acme:pinned` is there.
 */
export function withSourceProblems(sourceProblems: readonly ConfigProblem[], configProblems: readonly ConfigProblem[]): ConfigProblem[] {
    // A key written outside mlops: (acme:pinned) is named only where it explains a problem of the
    // mlops key it stands for (mlops:pinned "required"), and then in its place: the user's own keys
    // (acme:database, postgresql:database) never make a valid config invalid.
    const explained = new Set(configProblems.map((problem) => problem.path));
    const source = sourceProblems.filter((problem) => {
        const standsFor = keyMisplacedBy(problem);
        return standsFor === undefined || explained.has(standsFor);
    });
    const named = new Set(source.map((problem) => keyMisplacedBy(problem) ?? problem.path));
    const misplacedFirst = (problem: ConfigProblem) => (keyMisplacedBy(problem) === undefined ? 1 : 0);
    return [...source, ...configProblems.filter((problem) => !named.has(problem.path))]
        .map((problem) => ({ ...problem, message: withoutUrlSecrets(problem.message) }))
        .sort((a, b) => misplacedFirst(a) - misplacedFirst(b) || a.path.localeCompare(b.path, "en", { numeric: true }));
}

/** Where a stack's updates go, from its stack file: what the checks after an update (and `mlops status`) ask. */
export interface ProviderSettings {
    /** `aws:region`. */
    readonly awsRegion?: string;
    /** `kubernetes:kubeconfig` (a path or the file's content); else KUBECONFIG, as kubectl. */
    readonly kubeconfig?: string;
}

/** `aws:region` and `kubernetes:kubeconfig` from the stack file: the verification asks where the update went. */
export function providerSettingsOf(file: string): ProviderSettings {
    const config = (parseYaml(readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null)?.config ?? {};
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    const awsRegion = text(config["aws:region"]);
    const kubeconfig = text(config["kubernetes:kubeconfig"]);
    return { ...(awsRegion === undefined ? {} : { awsRegion }), ...(kubeconfig === undefined ? {} : { kubeconfig }) };
}
