/**
 * Where raw config comes from: a stack file read by the CLI, or the config
 * map the Pulumi engine hands the program. Both become the plain object that
 * `parseStackConfig` takes, keys without the `mlops:` namespace.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { BadInputError } from "./badInput";
import { CONFIG_NAMESPACE, parseStackConfig, StackConfigError, type StackConfig } from "./schema";

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

/** The `mlops:*` keys of a Pulumi stack file (`Pulumi.<stack>.yaml`). */
export function rawConfigFromStackFile(file: string): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(stackFileConfig(file))) {
        const key = namespacedKey(fullKey);
        if (key !== undefined) raw[key] = valueAsProgramSeesIt(key, value);
    }
    return raw;
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
    const text = readStackFileText(file);
    let document: unknown;
    try {
        document = parseYaml(text);
    } catch (error) {
        throw new StackFileError(`${file} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
    }
    const config = (document as { config?: unknown } | null)?.config;
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
        throw new StackFileError(`${file} has no 'config:' map; a Pulumi stack file has the mlops:* keys under 'config:'`);
    }
    return config as Record<string, unknown>;
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
        throw new StackFileError(`no Pulumi.yaml in ${projectDir}; run mlops from the project directory or pass --config-file`);
    }
    // Pulumi names the file after the stack's short name (org/project/stack → stack).
    const shortName = stack.split("/").pop() ?? stack;
    const file = path.join(projectDir, stackConfigDir, `Pulumi.${shortName}.yaml`);
    if (!existsSync(file)) {
        const known = readdirSync(path.join(projectDir, stackConfigDir))
            .map((name) => /^Pulumi\.(.+)\.yaml$/.exec(name)?.[1])
            .filter((name): name is string => name !== undefined);
        throw new StackFileError(
            `no config file for stack '${stack}' at ${file} (stacks with a config file: ${known.join(", ") || "none"}); check --stack, or pass --config-file`,
        );
    }
    return file;
}

/**
 * A stack file's raw config and its parsed, valid config; bad input (exit 2)
 * that names the file (or `label`, e.g. the flag that named it) otherwise.
 */
export function loadStackConfig(file: string, label = file): { raw: Record<string, unknown>; config: StackConfig } {
    const raw = rawConfigFromStackFile(file);
    try {
        return { raw, config: parseStackConfig(raw) };
    } catch (error) {
        if (!(error instanceof StackConfigError)) throw error;
        throw new BadInputError(`${label} is invalid; run mlops validate for details:\n${error.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
    }
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
