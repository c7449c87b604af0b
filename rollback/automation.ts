/**
 * The layer below the CLI: one stack, driven through Pulumi's Automation API
 * (`LocalWorkspace` on the project directory). Kept to the few calls the CLI
 * makes so that tests can stand in for the engine with a plain object.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { BadInputError } from "../config/badInput";
import { engineErrorOf } from "./engineErrors";
import { ROLLBACK_EVENT_ENV, type RollbackEvent } from "./ledger";
import { resourceName } from "./progress";
import { missingStackOutputAdvice, MLOPS_STACK_OUTPUT, mlopsOutputOf } from "./stackOutput";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

export interface UpdateRecord {
    readonly kind: string;
    readonly startTime: Date;
    readonly endTime?: Date;
    readonly result: string;
    readonly message: string;
    /** The pin the update ran with (`mlops:pinned` from its config). */
    readonly pinned?: string;
}

export interface OperationOptions {
    readonly message?: string;
    readonly onEvent?: (event: EngineEvent) => void;
    /** The rollback this update runs, for the program's quarantine ledger. */
    readonly rollbackEvent?: RollbackEvent;
    /**
     * The stack file the engine reads config from instead of the project's
     * `Pulumi.<stack>.yaml` (`pulumi preview --config-file`): a dry run's
     * edited copy, so that the user's file never holds a previewed pin.
     * @default the project's stack file
     */
    readonly configFile?: string;
    /** Stops the engine (SIGINT, the engine's own graceful cancel) when aborted. @default runs to its end */
    readonly signal?: AbortSignal;
}

export interface UpSummary {
    readonly result: string;
    readonly resourceChanges: Record<string, number>;
    /** The fields of the `mlops` stack output the update left. */
    readonly outputs: Record<string, unknown>;
}

export interface StackSession {
    readonly name: string;
    preview(options: OperationOptions): Promise<{ readonly changeSummary: Record<string, number> }>;
    up(options: OperationOptions): Promise<UpSummary>;
    /**
     * The fields of the stack's `mlops` output (see rollback/stackOutput.ts):
     * `{}` for a stack never deployed; `MissingStackOutputError` (exit 2) when
     * the stack has outputs but the program does not export `mlops`.
     */
    outputs(): Promise<Record<string, unknown>>;
    /** The stack's updates, newest first; only the newest `limit` when given. */
    history(limit?: number): Promise<UpdateRecord[]>;
    /** Refresh only the stack's resources of `type` (e.g. the endpoint); returns how many there were. */
    refreshType(type: string, onEvent?: (event: EngineEvent) => void): Promise<number>;
    /** What an update that was cut short left pending in the stack's state. */
    pendingOperations(): Promise<PendingOperation[]>;
    /**
     * Read the resources of `pending` back from the cloud and drop the
     * pending creates from the state (the next update creates them again).
     */
    repairInterrupted(pending: readonly PendingOperation[], onEvent?: (event: EngineEvent) => void): Promise<void>;
    /**
     * Remove the lock of an update whose engine is gone: only a local
     * backend's lock file, only that one, and only if it still names that
     * engine. Returns whether it did.
     */
    removeDeadLock(holder: BackendLockHolder): Promise<boolean>;
    /** Start opening what the engine operations need, in the background (after the instant switch, so that the update starts sooner). @default nothing to open */
    openEngine?(): void;
    /**
     * A config value of the stack (`key` a path, e.g. `mlops:rollback.notify`),
     * a secret decrypted by the stack's secrets provider (`pulumi config get
     * --path`); undefined when the key is not set. The value is never put in
     * an error. @default no engine to ask: a secret cannot be read
     */
    configValue?(key: string): Promise<string | undefined>;
}

/** An operation the engine started and never recorded as finished (the update was cut short). */
export interface PendingOperation {
    /** The engine's word: creating, updating, deleting, reading, importing. */
    readonly operation: string;
    readonly type: string;
    readonly name: string;
    readonly urn: string;
}

/** Open an existing stack of the project in `projectDir`. */
export type OpenStack = (stackName: string, projectDir: string) => Promise<StackSession>;

/** Who holds a self-managed backend's lock, from the engine's "<lock URL>: created by user@host (pid N) at T". */
export interface BackendLockHolder {
    readonly user: string;
    readonly host: string;
    readonly pid: number;
    readonly at: string;
    /** The lock's file, when the backend is a local directory (file://). */
    readonly file?: string;
}

export function backendLockHolder(detail: string): BackendLockHolder | undefined {
    const holders = [...detail.matchAll(/(?:(\S+?)(?:\?\S*)?: )?created by (\S+?)@(\S+) \(pid (\d+)\) at (\S+)/g)];
    // Name a holder only when it is the only one: with two, which is which?
    if (holders.length !== 1) return undefined;
    const [, url, user, host, pid, at] = holders[0];
    const file = url?.startsWith("file://") === true ? fileURLToPath(url) : undefined;
    return { user, host, pid: Number(pid), at, ...(file === undefined ? {} : { file }) };
}

/** Another update holds the stack. mlops never cancels a live one. */
export class StackBusyError extends Error {
    readonly holder?: BackendLockHolder;
    constructor(public readonly detail: string) {
        super(
            `another update holds the stack${detail ? `: ${detail}` : ""}; mlops never cancels it: wait for it to finish, then run again (if you are sure none runs, say its machine restarted, pulumi cancel removes the lock)`,
        );
        this.name = "StackBusyError";
        this.holder = backendLockHolder(detail);
    }
}

/** The stack does not exist in the backend: bad input, exit 2. */
export class UnknownStackError extends BadInputError {}

/** The lines of the engine's error that say who holds the lock and since when. */
export function lockHolder(errorText: string): string {
    return errorText
        .split("\n")
        .map((line) => line.trim())
        .filter((line, index, lines) => /locked by|created by|in progress|Conflict/i.test(line) && lines.indexOf(line) === index)
        .join(" ");
}

const plainOutputs = (outputs: Record<string, { value: unknown }>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));

/**
 * The project's own program, run by the engine as `pulumi up` runs it: a
 * local workspace on the project directory, so the engine starts the
 * project's language host on its Pulumi.yaml and stack file. The rollback
 * under way reaches the program in MLOPS_ROLLBACK_EVENT (see
 * `serveModelFromStackConfig`).
 */
export const openAutomationStack: OpenStack = async (stackName, projectDir) => {
    // What a pin change decides from (the outputs, pending operations) comes
    // from one `pulumi stack export`, which also tells an unknown stack; the
    // workspace the engine operations need is opened when the first of them
    // runs (or `openEngine` asks), after a Kubernetes rollback's instant
    // switch when nothing before it needs the engine.
    const exported = exportedDeployment(stackName, projectDir);
    await exported;
    let workspaceStack: Promise<Stack> | undefined;
    const engineStack = () => (workspaceStack ??= selectedWorkspaceStack(stackName, projectDir));
    /** Run an engine operation with the rollback event (if any) in the program's environment. */
    const withEvent = async <T>(event: RollbackEvent | undefined, operation: (stack: Stack) => Promise<T>): Promise<T> => {
        const stack = await engineStack();
        // Empty, not unset, without an event: the engine's environment is mlops's own
        // plus these, and a value left in the user's shell must not reach the program.
        stack.workspace.envVars[ROLLBACK_EVENT_ENV] = event === undefined ? "" : JSON.stringify(event);
        try {
            return await operation(stack);
        } finally {
            stack.workspace.envVars[ROLLBACK_EVENT_ENV] = "";
        }
    };
    /** The resources in the stack's state (`pulumi stack export`), by URN and type. */
    const stateResources = async () => {
        const deployment = await engineRun(async () => (await engineStack()).exportStack());
        return (deployment.deployment as { resources?: { urn: string; type: string }[] } | undefined)?.resources ?? [];
    };
    /** Run an engine operation; its failure as the engine said it (engineErrorOf), with the error diagnostics it sent as events. */
    const engineRun = async <T>(operation: (onEvent: (event: EngineEvent) => void) => Promise<T>, onEvent?: (event: EngineEvent) => void): Promise<T> => {
        const diagnostics: string[] = [];
        try {
            return await operation((event) => {
                if (event.diagnosticEvent?.severity === "error") diagnostics.push(event.diagnosticEvent.message);
                onEvent?.(event);
            });
        } catch (error) {
            throw await translated(error, diagnostics);
        }
    };
    return {
        name: stackName,
        openEngine: () => void engineStack().catch(() => undefined),
        preview: async ({ message, onEvent, rollbackEvent, configFile, signal }) => {
            const result = await engineRun(
                (events) => withEvent(rollbackEvent, (stack) => stack.preview({ message, onEvent: events, configFile, signal })),
                onEvent,
            );
            return { changeSummary: result.changeSummary };
        },
        up: async ({ message, onEvent, rollbackEvent, configFile, signal }) => {
            const result = await engineRun(
                (events) => withEvent(rollbackEvent, (stack) => stack.up({ message, onEvent: events, configFile, signal })),
                onEvent,
            );
            const outputs = plainOutputs(result.outputs);
            if (outputs[MLOPS_STACK_OUTPUT] === undefined) {
                // Exit 1, not 2: the update did run.
                throw new Error(
                    `the update of stack '${stackName}' ran (${result.summary.result}), but the program returned no '${MLOPS_STACK_OUTPUT}' stack output, so this rollback will not stick and mlops cannot tell what serves. ${missingStackOutputAdvice()}`,
                );
            }
            return { result: result.summary.result, resourceChanges: result.summary.resourceChanges ?? {}, outputs: mlopsOutputOf(stackName, outputs) };
        },
        outputs: async () => mlopsOutputOf(stackName, rootOutputsOf(await exported)),
        refreshType: async (type, onEvent) => {
            const urns = (await stateResources()).filter((resource) => resource.type === type).map((resource) => resource.urn);
            if (urns.length > 0) await engineRun(async (events) => (await engineStack()).refresh({ target: urns, onEvent: events }), onEvent);
            return urns.length;
        },
        pendingOperations: async () => pendingOperationsOf(await exported),
        repairInterrupted: async (pending, onEvent) => {
            const resources = await stateResources();
            const inState = new Set(resources.map((resource) => resource.urn));
            // Refresh only what was pending; with only creates pending, the
            // stack resource alone, so that the refresh still drops them.
            const targets = pending.filter((operation) => inState.has(operation.urn)).map((operation) => operation.urn);
            const root = resources.find((resource) => resource.type === "pulumi:pulumi:Stack")?.urn;
            const target = targets.length > 0 ? targets : root === undefined ? [] : [root];
            await engineRun(
                async (events) =>
                    (await engineStack()).refresh({
                        target,
                        clearPendingCreates: true,
                        onEvent: events,
                        message: "mlops: repair an update that was cut short",
                    }),
                onEvent,
            );
        },
        removeDeadLock: (holder) => Promise.resolve(removeLockFile(holder)),
        configValue: async (key) => {
            const stack = await engineStack();
            try {
                return (await stack.getConfig(key, true)).value;
            } catch (error) {
                // The Automation API's message holds the whole command line and its
                // output; the engine's own "error:" lines say what went wrong.
                const said = (error instanceof Error ? error.message : String(error)).split("\n").flatMap((line) => /\berror: (.*)$/.exec(line)?.[1] ?? []);
                if (said.some((line) => /configuration key .* not found/.test(line))) return undefined;
                throw new Error(`pulumi config get --path ${key} failed: ${said.join("; ") || "no reason given"}`);
            }
        },
        history: async (limit) =>
            (await engineRun(async () => (await engineStack()).history(limit, limit === undefined ? undefined : 1))).map((update) => ({
                kind: update.kind,
                startTime: update.startTime,
                endTime: update.endTime,
                result: update.result,
                message: update.message,
                pinned: typeof update.config?.["mlops:pinned"]?.value === "string" ? update.config["mlops:pinned"].value : undefined,
            })),
    };
};

/** The stack as a `LocalWorkspace` stack, the user's selected stack left as it was. */
async function selectedWorkspaceStack(stackName: string, projectDir: string): Promise<Stack> {
    const { LocalWorkspace, Stack } = await import("@pulumi/pulumi/automation");
    try {
        const workspace = await LocalWorkspace.create({ workDir: projectDir });
        // Stack.select runs `pulumi stack select`, which would also change the
        // user's selected stack. Every operation of an automation Stack names
        // its stack (--stack), and `pulumi stack export` has just shown that
        // the stack exists, so the selection is skipped instead of made and
        // undone: two fewer pulumi runs before the update.
        workspace.selectStack = () => Promise.resolve();
        return await Stack.select(stackName, workspace);
    } catch (error) {
        throw await translated(error);
    }
}

/**
 * A failure of `pulumi` as the user should read it: another update's lock
 * as StackBusyError, anything else through engineErrorOf (one sentence when
 * the CLI cannot start, else the engine's own lines).
 */
async function translated(error: unknown, diagnostics: readonly string[] = []): Promise<unknown> {
    const { ConcurrentUpdateError } = await import("@pulumi/pulumi/automation");
    if (error instanceof ConcurrentUpdateError) return new StackBusyError(lockHolder(error.message));
    return engineErrorOf(error, diagnostics);
}

const execFileAsync = promisify(execFile);

/**
 * `pulumi stack export --show-secrets` of the stack, run in the project
 * directory as the engine operations run: its `deployment`. An unknown
 * stack is bad input (exit 2).
 */
async function exportedDeployment(stackName: string, projectDir: string): Promise<unknown> {
    let stdout: string;
    try {
        ({ stdout } = await execFileAsync("pulumi", ["stack", "export", "--show-secrets", "--stack", stackName, "--non-interactive"], {
            cwd: projectDir,
            maxBuffer: 512 * 1024 * 1024,
        }));
    } catch (error) {
        const stderr = (error as { stderr?: unknown }).stderr;
        if (typeof stderr === "string" && /no stack named|stack .* not found/i.test(stderr)) {
            throw new UnknownStackError(`unknown stack '${stackName}'; create it with pulumi stack init ${stackName}`);
        }
        throw engineErrorOf(error);
    }
    return (JSON.parse(stdout) as { deployment?: unknown }).deployment;
}

/**
 * The stack selected in `projectDir` (`pulumi stack --show-name`, one run of
 * the CLI), for commands run without --stack; undefined when none is selected.
 */
export async function selectedStackName(projectDir: string): Promise<string | undefined> {
    // Checked first: a directory that does not exist fails the spawn with ENOENT, as a missing pulumi does.
    if (!existsSync(path.join(projectDir, "Pulumi.yaml"))) {
        throw new BadInputError(`no Pulumi.yaml in ${projectDir}; run mlops from the project directory, or pass --cwd <dir>`);
    }
    try {
        const { stdout } = await execFileAsync("pulumi", ["stack", "--show-name", "--non-interactive"], { cwd: projectDir });
        return stdout.trim() || undefined;
    } catch (error) {
        const stderr = (error as { stderr?: unknown }).stderr;
        if (typeof stderr === "string" && /no stack selected/i.test(stderr)) return undefined;
        throw engineErrorOf(error);
    }
}

/** The signature key the engine marks a secret with in an exported deployment (the `plaintext` beside it is the value's JSON). */
const SECRET_SIGNATURE_KEY = "4dabf18193072939515e22adb298388d";

/** A value of an exported deployment with its secrets (shown by --show-secrets) replaced by their values. */
export function revealedValue(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(revealedValue);
    if (typeof value !== "object" || value === null) return value;
    const record = value as Record<string, unknown>;
    if (SECRET_SIGNATURE_KEY in record && typeof record.plaintext === "string") return revealedValue(JSON.parse(record.plaintext));
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, revealedValue(item)]));
}

/** The stack's outputs (the root `pulumi:pulumi:Stack` resource's) in an exported deployment; `{}` for a stack never deployed. */
export function rootOutputsOf(deployment: unknown): Record<string, unknown> {
    const resources = (deployment as { resources?: { type?: string; outputs?: Record<string, unknown> }[] } | undefined)?.resources ?? [];
    const root = resources.find((resource) => resource.type === "pulumi:pulumi:Stack");
    return revealedValue(root?.outputs ?? {}) as Record<string, unknown>;
}

/** The pending operations of an exported deployment (`pending_operations`), in the engine's order. */
export function pendingOperationsOf(deployment: unknown): PendingOperation[] {
    const operations = (deployment as { pending_operations?: unknown } | undefined)?.pending_operations;
    if (!Array.isArray(operations)) return [];
    return operations.flatMap((entry: { type?: unknown; resource?: { urn?: unknown; type?: unknown } }) => {
        const urn = entry.resource?.urn;
        if (typeof urn !== "string" || typeof entry.type !== "string") return [];
        return [{ operation: entry.type, type: typeof entry.resource?.type === "string" ? entry.resource.type : "", name: resourceName(urn), urn }];
    });
}

/**
 * A file backend's lock is `{"pid":N,"username":..,"hostname":..,"timestamp":..}`
 * (with a `.attrs` file beside it). Not `pulumi cancel`, which removes every
 * lock of the stack: a live update's included.
 */
export function removeLockFile(holder: BackendLockHolder): boolean {
    if (holder.file === undefined) return false;
    let content: { pid?: unknown; hostname?: unknown };
    try {
        content = JSON.parse(readFileSync(holder.file, "utf8")) as { pid?: unknown; hostname?: unknown };
    } catch {
        return false;
    }
    if (content.pid !== holder.pid || content.hostname !== holder.host) return false;
    rmSync(holder.file, { force: true });
    rmSync(`${holder.file}.attrs`, { force: true });
    return true;
}
