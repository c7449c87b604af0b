/**
 * How the Pulumi CLI's failures read: one sentence with the fix when the
 * `pulumi` binary cannot be started, and the engine's own error lines, once,
 * when one of its commands fails. Every `pulumi` that mlops runs (stack
 * export, stack --show-name, the Automation API's version check, preview,
 * up, refresh, history) goes through `engineErrorOf`.
 *
 * Two shapes arrive here. The Automation API's CommandError frames execa's
 * error as `code: -2\n stdout: \n stderr: Command failed with exit code 255:
 * pulumi up --yes ... --exec-kind auto.local ...\n<stderr>\n<stdout>\n err?:
 * Error: <the same again>`; `commandResult.err` is execa's error, with the
 * engine's own `stderr` and `stdout`. Node's execFile error (`pulumi stack
 * export`) carries `code` (an errno string when the binary did not start,
 * else the exit status), `stderr` and `stdout`.
 */

const INSTALL = "https://www.pulumi.com/docs/install/";

/**
 * The `pulumi` binary could not be started: not on PATH (ENOENT), or not
 * runnable (EACCES, ENOEXEC). The operation failed (exit 1); nothing the
 * user wrote is wrong.
 */
export class PulumiCliUnavailableError extends Error {
    constructor(
        /** The errno of the failed spawn, e.g. `ENOENT`. */
        readonly errno: string,
    ) {
        super(`${PulumiCliUnavailableError.problem(errno)}: ${PulumiCliUnavailableError.fix(errno)}`);
        this.name = "PulumiCliUnavailableError";
    }

    /**
     * The sentence for one command, `usedFor` saying what that command needs
     * the CLI for, e.g. "mlops status reads the stack through it".
     */
    sentenceFor(usedFor: string): string {
        return `${PulumiCliUnavailableError.problem(this.errno)}, and ${usedFor}: ${PulumiCliUnavailableError.fix(this.errno)}`;
    }

    private static problem(errno: string): string {
        return errno === "ENOENT" ? "the Pulumi CLI (pulumi) is not on PATH" : `the pulumi on PATH could not be started (${errno})`;
    }

    private static fix(errno: string): string {
        return errno === "ENOENT"
            ? `install it (${INSTALL}) or add the directory that holds it to PATH, then run again`
            : `check that it is the Pulumi CLI and executable, or reinstall it (${INSTALL}), then run again`;
    }
}

/** A `pulumi` command ran and failed: the message is the engine's own error lines, without the command line or the Automation API's framing. */
export class EngineCommandError extends Error {
    constructor(
        readonly lines: readonly string[],
        /** The command's exit status, when it exited. */
        readonly exitCode?: number,
    ) {
        super(lines.length > 0 ? lines.join("\n") : `pulumi exited with ${exitCode === undefined ? "an error" : `code ${exitCode}`} and printed no error`);
        this.name = "EngineCommandError";
    }
}

interface ProcessFailure {
    readonly code?: unknown;
    readonly exitCode?: unknown;
    readonly syscall?: unknown;
    readonly stdout?: unknown;
    readonly stderr?: unknown;
}

/** The failure of the `pulumi` process inside `error`: execa's (wrapped by the Automation API) or node's; undefined for any other error. */
function processFailureOf(error: unknown): ProcessFailure | undefined {
    if (typeof error !== "object" || error === null) return undefined;
    const commandResult = (error as { commandResult?: { err?: unknown; stderr?: unknown; stdout?: unknown; code?: unknown } }).commandResult;
    if (commandResult !== undefined) {
        const inner = commandResult.err;
        // Without execa's error (a non-zero exit it did not reject): the result itself holds the engine's output.
        return typeof inner === "object" && inner !== null
            ? inner
            : { exitCode: commandResult.code, stdout: commandResult.stdout, stderr: commandResult.stderr };
    }
    const failure = error as ProcessFailure;
    return "stderr" in failure || (typeof failure.syscall === "string" && failure.syscall.startsWith("spawn")) ? failure : undefined;
}

/** The errno of a spawn of `pulumi` that never started, else undefined. */
function spawnErrnoOf(failure: ProcessFailure, error: unknown): string | undefined {
    if (typeof failure.code === "string" && typeof failure.syscall === "string" && failure.syscall.startsWith("spawn")) return failure.code;
    // What the message alone says (an error passed through something that kept only the text).
    const message = error instanceof Error ? error.message : "";
    return /spawn \S*pulumi (E[A-Z]+)/.exec(message)?.[1];
}

/** A frame of a JavaScript stack trace (the program's, in an engine diagnostic): not for the user's terminal. */
const STACK_FRAME = /^\s*at \S.*(?:\(\S+:\d+:\d+\)|:\d+:\d+)$/;

/**
 * The lines of the engine's own error: its stderr without warnings (e.g.
 * "using pulumi-language-nodejs from $PATH"), else the `error:` entries of
 * the Diagnostics its display printed on stdout; each line once, without
 * stack frames.
 */
export function engineErrorLines(stderr: string, stdout = ""): string[] {
    const clean = (lines: readonly string[]) =>
        lines.map((line) => line.trimEnd()).filter((line, index, all) => line.trim() !== "" && !STACK_FRAME.test(line) && all.indexOf(line) === index);
    const fromStderr = clean(stderr.split("\n").filter((line) => !/^\s*warning:/.test(line)));
    if (fromStderr.length > 0) return fromStderr;
    // The display's Diagnostics: an `error:` line and the lines indented under it.
    const diagnostics: string[] = [];
    let indent: number | undefined;
    for (const line of stdout.slice(Math.max(0, stdout.lastIndexOf("Diagnostics:"))).split("\n")) {
        const match = /^(\s*)error: /.exec(line);
        if (match !== null) {
            indent = match[1].length;
            diagnostics.push(line.trim());
        } else if (indent !== undefined && line.trim() !== "" && line.length - line.trimStart().length >= indent && !/^\s*(warning|info):/.test(line)) {
            diagnostics.push(line.trim());
        } else {
            indent = undefined;
        }
    }
    return clean(diagnostics);
}

/**
 * The one translation of a failure of `pulumi`: a binary that could not be
 * started becomes PulumiCliUnavailableError; a command that failed,
 * EngineCommandError with the engine's own lines (`diagnostics`: the error
 * diagnostics the engine sent as events, which come first). Any other error
 * is returned as it is.
 */
export function engineErrorOf(error: unknown, diagnostics: readonly string[] = []): unknown {
    if (error instanceof PulumiCliUnavailableError || error instanceof EngineCommandError) return error;
    const failure = processFailureOf(error);
    if (failure === undefined) return error;
    const errno = spawnErrnoOf(failure, error);
    if (errno !== undefined) return new PulumiCliUnavailableError(errno);
    const text = (value: unknown) => (typeof value === "string" ? value : "");
    const exitCode = typeof failure.exitCode === "number" ? failure.exitCode : typeof failure.code === "number" ? failure.code : undefined;
    // The events' diagnostics are what the display's Diagnostics repeat on stdout: read stdout only without them.
    const lines = [
        ...diagnostics.flatMap((message) => engineErrorLines(message)),
        ...engineErrorLines(text(failure.stderr), diagnostics.length > 0 ? "" : text(failure.stdout)),
    ];
    return new EngineCommandError(
        lines.filter((line, index) => lines.indexOf(line) === index),
        exitCode,
    );
}
