/**
 * `mlops plan` rehearses the user's own Pulumi program, not ours: the
 * project in the directory mlops runs in, with its Pulumi.yaml and stack
 * file, loaded in a child process under Pulumi's mock runtime. What the
 * program is told there, and how, lives here.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { CONFIG_NAMESPACE } from "../config/schema";
import { StackFileError, stackFileConfig } from "../config/sources";

/** A Pulumi project on disk, as `pulumi up` would run it. */
export interface UserProgram {
    /** The project directory (holds Pulumi.yaml). */
    readonly dir: string;
    /** `name` in Pulumi.yaml: the project `pulumi.getProject()` returns. */
    readonly projectName: string;
    /** `main` in Pulumi.yaml (a file or folder, relative to `dir`); else the folder itself, i.e. its package.json `main` or index. */
    readonly main?: string;
    /**
     * The config outside the `mlops:` namespace, as the engine hands it to a
     * program: Pulumi.yaml's values and defaults, overridden by the stack
     * file's; every value a string, structured values as JSON. Secrets
     * cannot be decrypted offline: they read as a placeholder.
     */
    readonly otherConfig: Record<string, string>;
}

/** What a secret config value reads as under `mlops plan` (it cannot be decrypted offline). */
export const SECRET_PLACEHOLDER = "[secret: not decrypted by mlops plan]";

/**
 * The Pulumi project in `projectDir`, or undefined when there is none (then
 * `mlops plan` declares what the `mlops:*` config alone declares). Reads the
 * project file and the stack file; runs nothing.
 */
export function userProgramIn(projectDir: string, stackFile: string): UserProgram | undefined {
    const projectFile = path.join(projectDir, "Pulumi.yaml");
    if (!existsSync(projectFile)) return undefined;
    const project = parseYaml(readFileSync(projectFile, "utf8")) as { name?: unknown; main?: unknown; runtime?: unknown } | null;
    if (typeof project?.name !== "string") throw new StackFileError(`${projectFile} has no project name`);
    const runtime = typeof project.runtime === "string" ? project.runtime : (project.runtime as { name?: unknown } | undefined)?.name;
    if (runtime !== "nodejs") {
        throw new StackFileError(`${projectFile}: runtime is '${String(runtime)}'; mlops plan runs Node.js (TypeScript or JavaScript) programs only`);
    }
    const otherConfig: Record<string, string> = {};
    const projectConfig = (project as { config?: Record<string, unknown> }).config ?? {};
    // The project's values and defaults first; the stack file's win, as with the engine.
    for (const [key, value] of [
        ...Object.entries(projectConfig).map(([k, v]) => [k, projectConfigValue(v)] as const),
        ...Object.entries(stackFileConfig(stackFile)),
    ]) {
        // A key without a namespace belongs to the project.
        const fullKey = key.includes(":") ? key : `${project.name}:${key}`;
        if (value === undefined || fullKey.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
        otherConfig[fullKey] = engineValue(value);
    }
    return { dir: projectDir, projectName: project.name, ...(typeof project.main === "string" ? { main: project.main } : {}), otherConfig };
}

/** A Pulumi.yaml `config:` entry's value: `value`, else `default`, else a plain value; undefined for a declaration alone. */
function projectConfigValue(entry: unknown): unknown {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return entry;
    const declaration = entry as { value?: unknown; default?: unknown; type?: unknown; description?: unknown; items?: unknown; secret?: unknown };
    if (declaration.value !== undefined) return declaration.value;
    if (declaration.default !== undefined) return declaration.default;
    const declarationKeys = new Set(["type", "description", "items", "secret"]);
    return Object.keys(entry).every((key) => declarationKeys.has(key)) ? undefined : entry;
}

function engineValue(value: unknown): string {
    if (typeof value === "string") return value;
    if (typeof value === "object" && value !== null && "secure" in value) return SECRET_PLACEHOLDER;
    return JSON.stringify(value);
}

/** PULUMI_CONFIG for one run: the stack file's other keys, and the `mlops:*` keys of this run's raw config. */
export function engineConfigFor(program: UserProgram, rawConfig: Record<string, unknown>): Record<string, string> {
    const mlops = Object.entries(rawConfig).map(([key, value]): [string, string] => [
        `${CONFIG_NAMESPACE}:${key}`,
        typeof value === "string" ? value : JSON.stringify(value),
    ]);
    return { ...program.otherConfig, ...Object.fromEntries(mlops) };
}

/** The file or folder Node.js loads as the program, as Pulumi's Node.js host resolves it. */
export function programEntry(program: UserProgram): string {
    return path.resolve(program.dir, program.main ?? ".");
}
