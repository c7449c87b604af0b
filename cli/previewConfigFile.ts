/**
 * A dry run's stack file. The engine reads the pin from a stack file, but the
 * user's `Pulumi.<stack>.yaml` must never hold a previewed pin: while a
 * preview runs, `mlops validate`, `mlops deploy` and a teammate's `pulumi up`
 * read that file, and a run killed there (SIGHUP, SIGQUIT, SIGKILL) would leave the
 * pin behind for the next `mlops rollback` to take for an unfinished one. So
 * the edited text goes into a private temporary directory and the preview
 * reads it from there (`pulumi preview --config-file`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import * as path from "node:path";

/**
 * The signals whose default action ends the process and that leave time to
 * clean up: each would otherwise leave the private copy (and the stack
 * file's lock) behind. Not SIGKILL or SIGSTOP (they cannot be caught),
 * SIGUSR1 (it starts node's debugger), SIGPROF (V8's profiler), SIGPIPE
 * (node ignores it), nor the faults SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP
 * (JavaScript cannot run safely after one). Those this platform lacks
 * (SIGPWR on macOS) are left out.
 */
const CLEANUP_SIGNALS = (["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR2", "SIGALRM", "SIGVTALRM", "SIGXCPU", "SIGXFSZ", "SIGPWR"] as const).filter(
    (signal) => signal in constants.signals,
);

/**
 * Write `text` as a copy of `stackFile` (same base name) into a new directory
 * under the system's temporary directory, mode 0700 with the file 0600: the
 * copy holds what the stack file holds, encrypted secrets and the secrets
 * provider's salt included. Run `preview` with its path and an AbortSignal
 * that stops the engine, then remove the directory, also when `preview`
 * throws. On SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR2 or another signal
 * of CLEANUP_SIGNALS meanwhile: stop the engine, remove the directory and
 * exit with 128 + the signal's number. A SIGKILL leaves the directory (in the
 * temporary directory, private to this user); the stack file is untouched
 * whatever happens.
 */
export async function withPreviewConfigFile<T>(stackFile: string, text: string, preview: (configFile: string, signal: AbortSignal) => Promise<T>): Promise<T> {
    // mkdtemp creates the directory with mode 0700, whatever the umask.
    const directory = mkdtempSync(path.join(tmpdir(), "mlops-preview-"));
    const removeDirectory = () => rmSync(directory, { recursive: true, force: true });
    const engine = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
        engine.abort();
        try {
            removeDirectory();
        } finally {
            process.exit(128 + constants.signals[signal]);
        }
    };
    for (const signal of CLEANUP_SIGNALS) process.once(signal, onSignal);
    try {
        const configFile = path.join(directory, path.basename(stackFile));
        writeFileSync(configFile, text, { mode: 0o600, flag: "wx" });
        return await preview(configFile, engine.signal);
    } finally {
        for (const signal of CLEANUP_SIGNALS) process.off(signal, onSignal);
        removeDirectory();
    }
}
