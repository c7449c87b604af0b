/**
 * `mlops`: validate a stack config and rehearse a rollback, offline.
 *
 * Exit codes: 0 ok, 1 the operation failed, 2 bad input. Errors are one
 * sentence and the fix; `--debug` adds the stack trace.
 */
import { Command, CommanderError, Option } from "commander";
import * as path from "node:path";
import { warmVersions } from "../catalog/catalog";
import { BadInputError } from "../config/badInput";
import { parseStackConfig, StackConfigError } from "../config/schema";
import { rawConfigFromStackFile, stackFilePath } from "../config/sources";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Bad flags or arguments: exit 2. */
export class UsageError extends BadInputError {}

interface ConfigSourceOptions {
    readonly stack?: string;
    readonly configFile?: string;
}

/** The stack file a command reads: `--config-file F`, or `--stack S` → `stacks/Pulumi.S.yaml`. */
export function resolveConfigFile(options: ConfigSourceOptions, projectDir: string): string {
    if (options.stack !== undefined && options.configFile !== undefined) {
        throw new UsageError("pass either --stack or --config-file, not both");
    }
    if (options.configFile !== undefined) return options.configFile;
    // Relative to the project directory, so messages show the path the user knows.
    if (options.stack !== undefined) return path.relative(projectDir, stackFilePath(projectDir, options.stack)) || ".";
    throw new UsageError("no config to read: pass --stack <name> (reads stacks/Pulumi.<name>.yaml) or --config-file <path>");
}

interface Io {
    readonly stdout: (text: string) => void;
    readonly stderr: (text: string) => void;
    readonly cwd: string;
}

const defaultIo: Io = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
};

export async function main(argv: readonly string[], io: Io = defaultIo): Promise<number> {
    let exitCode = EXIT_OK;
    const program = buildProgram(io, (code) => {
        exitCode = code;
    });
    try {
        await program.parseAsync([...argv]);
    } catch (error) {
        if (error instanceof CommanderError) {
            // Help and version are not errors; every other parse error is bad input.
            return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
        }
        return reportError(error, argv.includes("--debug"), argv.includes("--json"), io);
    }
    return exitCode;
}

function reportError(error: unknown, debug: boolean, json: boolean, io: Io): number {
    const message = error instanceof Error ? error.message : String(error);
    // With --json, stdout stays machine-readable even when the command fails.
    if (json) io.stdout(`${JSON.stringify({ error: message, badInput: error instanceof BadInputError })}\n`);
    io.stderr(`mlops: ${message}\n`);
    if (debug && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return error instanceof BadInputError ? EXIT_BAD_INPUT : EXIT_FAILED;
}

function configSourceOptions(command: Command): Command {
    return command
        .addOption(new Option("--stack <name>", "read the stack's config file, stacks/Pulumi.<name>.yaml").conflicts("configFile"))
        .option("--config-file <path>", "read this Pulumi stack file instead")
        .option("--json", "print machine-readable JSON on stdout");
}

function buildProgram(io: Io, setExitCode: (code: number) => void): Command {
    const program = new Command()
        .name("mlops")
        .description(
            "Serve ML models on SageMaker or Kubernetes with the version pinned in Pulumi stack config, and roll back by re-pinning an earlier version.",
        )
        .option("--debug", "print stack traces with errors")
        .showHelpAfterError("(run mlops <command> --help for usage)")
        .exitOverride()
        .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

    configSourceOptions(
        program
            .command("validate")
            .description("Check a stack config offline. Exit 0 when valid, 2 when not, with every problem named by its config key.")
            .addHelpText("after", "\nExamples:\n  mlops validate --stack sagemaker-example\n  mlops validate --config-file stacks/Pulumi.prod.yaml --json"),
    ).action((options: ConfigSourceOptions & { json?: boolean }) => {
        const file = resolveConfigFile(options, io.cwd);
        const raw = rawConfigFromStackFile(file);
        try {
            const config = parseStackConfig(raw);
            const warm = warmVersions(config);
            if (options.json) {
                io.stdout(
                    `${JSON.stringify({ valid: true, file, target: config.target, model: config.model, pinned: config.pinned, warmVersions: warm, problems: [] })}\n`,
                );
            } else {
                io.stdout(`${file}: valid. Model ${config.model} on ${config.target}, pinned ${config.pinned}, warm versions ${warm.join(", ")}.\n`);
            }
        } catch (error) {
            if (!(error instanceof StackConfigError)) throw error;
            if (options.json) {
                io.stdout(`${JSON.stringify({ valid: false, file, problems: error.problems })}\n`);
            } else {
                io.stderr(
                    `${file}: invalid, ${error.problems.length} problem${error.problems.length === 1 ? "" : "s"}:\n` +
                        error.problems.map((p) => `  ${p.path}: ${p.message}\n`).join(""),
                );
            }
            setExitCode(EXIT_BAD_INPUT);
        }
    });

    configSourceOptions(
        program
            .command("plan")
            .description(
                "Rehearse a pin change offline: run the program under Pulumi's mock runtime for the current pin and for --to, and list every create, update, replace and delete.",
            )
            .requiredOption("--to <version>", "the version to pin instead of the current one")
            .addHelpText(
                "after",
                "\nA rollback to a warm version should show no replace and one update of the Endpoint (its endpointConfigName).\n" +
                    "Deletes marked 'retained' leave the stack but stay in AWS.\n\n" +
                    "Examples:\n  mlops plan --stack sagemaker-example --to 2\n  mlops plan --config-file stacks/Pulumi.prod.yaml --to 2 --json",
            ),
    ).action(async (options: ConfigSourceOptions & { json?: boolean; to: string }) => {
        const file = resolveConfigFile(options, io.cwd);
        const raw = rawConfigFromStackFile(file);
        let config;
        try {
            config = parseStackConfig(raw);
        } catch (error) {
            if (!(error instanceof StackConfigError)) throw error;
            throw new UsageError(`${file} is invalid; run mlops validate for details:\n${error.problems.map((p) => `  ${p.path}: ${p.message}`).join("\n")}`);
        }
        // Loaded here, not at the top: it pulls in the Pulumi SDK and the AWS
        // provider, which would slow every other command down by seconds. A
        // require, because tsx hooks require and not the ESM loader.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { planPinChange, renderPlan } = require("../plan/plan") as typeof import("../plan/plan");
        const plan = await planPinChange(raw, options.to, {
            onRun: () => io.stderr(`Running the program under Pulumi's mock runtime for pin ${config.pinned} and pin ${options.to}...\n`),
        });
        if (options.json) {
            const { from, to, summary, operations } = plan;
            io.stdout(`${JSON.stringify({ from, to, summary, operations }, null, 2)}\n`);
        } else {
            io.stdout(`${renderPlan(plan, config)}\n`);
        }
    });

    return program;
}
