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

import { accessSync, closeSync, constants, existsSync, openSync, readSync, statSync } from "node:fs";
import * as path from "node:path";

const INSTALL = "https://www.pulumi.com/docs/install/";

/**
 * The `pulumi` binary could not be started: not on PATH (ENOENT), not
 * runnable (EACCES, ENOEXEC), or on PATH but with an interpreter or loader
 * that is missing (ENOENT too: the kernel reports the `#!` line's program,
 * or an ELF binary's loader, as the file not found). The operation failed
 * (exit 1); nothing the user wrote is wrong.
 */
export class PulumiCliUnavailableError extends Error {
    constructor(
        /** The errno of the failed spawn, e.g. `ENOENT`. */
        readonly errno: string,
        /** With ENOENT: the executable `pulumi` PATH holds after all (its interpreter or loader is what is missing). */
        readonly foundAt?: string,
    ) {
        super(`${PulumiCliUnavailableError.problem(errno, foundAt)}: ${PulumiCliUnavailableError.fix(errno, foundAt)}`);
        this.name = "PulumiCliUnavailableError";
    }

    /**
     * The sentence for one command, `usedFor` saying what that command needs
     * the CLI for, e.g. "mlops status reads the stack through it".
     */
    sentenceFor(usedFor: string): string {
        return `${PulumiCliUnavailableError.problem(this.errno, this.foundAt)}, and ${usedFor}: ${PulumiCliUnavailableError.fix(this.errno, this.foundAt)}`;
    }

    private static problem(errno: string, foundAt: string | undefined): string {
        if (errno === "ENOENT" && foundAt !== undefined) {
            return `pulumi at ${foundAt} could not be started: its interpreter or a library it needs is missing (${missingPartOf(foundAt)})`;
        }
        return errno === "ENOENT" ? "the Pulumi CLI (pulumi) is not on PATH" : `the pulumi on PATH could not be started (${errno})`;
    }

    private static fix(errno: string, foundAt: string | undefined): string {
        if (errno === "ENOENT" && foundAt !== undefined) {
            return `reinstall the Pulumi CLI (${INSTALL}), or fix or remove ${foundAt} so that the pulumi found first on PATH runs, then run again`;
        }
        return errno === "ENOENT"
            ? `install it (${INSTALL}) or add the directory that holds it to PATH, then run again`
            : `check that it is the Pulumi CLI and executable, or reinstall it (${INSTALL}), then run again`;
    }
}

/**
 * The executable regular file a spawn of `program` ran: `program` itself when
 * it names a path (the Automation API's `<root>/bin/pulumi`), else the first
 * in the directories of `searchPath`, as execvp looks; undefined when there is none.
 */
export function executableFor(program: string, searchPath: string | undefined = process.env.PATH): string | undefined {
    const candidates = program.includes("/")
        ? [path.resolve(program)]
        : // An empty PATH entry is the current directory, as for execvp.
          (searchPath ?? "").split(path.delimiter).map((directory) => path.resolve(directory === "" ? "." : directory, program));
    return candidates.find((candidate) => {
        try {
            accessSync(candidate, constants.X_OK);
            return statSync(candidate).isFile();
        } catch {
            // Not there, or not executable: execvp goes on to the next directory.
            return false;
        }
    });
}

/** What `file`, which exists, lacks to start: the program its `#!` line names, else (a binary) its loader or a shared library. */
function missingPartOf(file: string): string {
    let head = "";
    try {
        const fd = openSync(file, "r");
        try {
            const buffer = Buffer.alloc(256);
            head = buffer.toString("latin1", 0, readSync(fd, buffer, 0, buffer.length, 0));
        } finally {
            closeSync(fd);
        }
    } catch {
        return "it could not be read";
    }
    const interpreter = /^#!\s*(\S+)/.exec(head)?.[1];
    if (interpreter === undefined) return "a program whose loader or a shared library is missing";
    return `its first line asks for ${interpreter}, ${existsSync(interpreter) ? "which cannot be run" : "which does not exist"}`;
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
    /** The program a failed spawn ran, as given (`pulumi`, or a path). */
    readonly path?: unknown;
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
    if (errno !== undefined) {
        // ENOENT for a file that is there: what it needs to start is not (a `#!` interpreter, a loader).
        const program = typeof failure.path === "string" ? failure.path : "pulumi";
        return new PulumiCliUnavailableError(errno, errno === "ENOENT" ? executableFor(program) : undefined);
    }
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
