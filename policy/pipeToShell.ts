/**
 * Does a buildspec run a download unverified: a downloader's output reaching
 * a shell or interpreter, through a pipeline (`curl … | tee f | sh`) or a
 * command or process substitution (`sh -c "$(curl …)"`, `bash <(curl …)`)?
 * A small matcher, not a shell parser: it reads the buildspec as CodeBuild
 * does (YAML, so folded and literal scalars come out as the shell sees them),
 * joins continued lines, splits each line into pipelines outside quotes and
 * substitutions, and names each stage by its command word. It may overstate
 * (a `curl -o file … | sh` is reported), it must not understate.
 *
 * Not seen: a download saved to a file and run later (`curl -o i.sh … && sh
 * i.sh`), which needs data flow; downloads by other tools (`aws s3 cp … -`).
 */
import { parse } from "yaml";

/** Commands whose output is a download. PowerShell's are case-insensitive, and so is every name here. */
const DOWNLOADERS = new Set(["curl", "wget", "fetch", "invoke-webrequest", "iwr", "invoke-restmethod", "irm"]);

/** Run whatever reaches them, on stdin or as an argument. */
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ash", "ksh", "mksh", "fish", "csh", "tcsh", "pwsh", "powershell", "iex", "invoke-expression"]);

/** Run their argument as code: only a substitution in their arguments counts. */
const EVALUATORS = new Set(["eval", "source", "."]);

/**
 * Run a program from stdin unless told where else to find one: `python3 -`
 * and a bare `python3` do, `python3 -m json.tool`, `python3 -c '…'` and
 * `python3 parse.py` do not.
 */
const INTERPRETERS = new Set(["python", "python2", "python3", "node", "nodejs", "perl", "ruby", "php"]);
const PROGRAM_FLAGS = /^-(?:[cmeEpr]|-eval|-print)$/;

/** Prefixes that run the next word as the command (their options and `NAME=value` words skipped). */
const WRAPPERS = new Set(["sudo", "env", "busybox", "command", "exec", "nohup", "nice", "time", "doas", "timeout", "stdbuf"]);

/** A wrapper's options that take the next word as their value (`nice -n 10`, `exec -a NAME`), not as the command. */
const WRAPPER_VALUE_OPTIONS: Readonly<Record<string, ReadonlySet<string>>> = {
    "": new Set(["-u", "-g"]),
    sudo: new Set(["-u", "-g", "-h", "-p", "-C", "-D", "-R", "-T", "-U", "-r", "-t", "--user", "--group", "--host", "--prompt", "--chdir"]),
    doas: new Set(["-u", "-C"]),
    env: new Set(["-u", "-C", "--unset", "--chdir"]),
    nice: new Set(["-n", "--adjustment"]),
    exec: new Set(["-a"]),
    timeout: new Set(["-s", "-k", "--signal", "--kill-after"]),
    stdbuf: new Set(["-i", "-o", "-e", "--input", "--output", "--error"]),
    time: new Set(["-f", "-o", "--format", "--output"]),
};

/** Wrappers whose first operand is not the command: `timeout DURATION cmd`. */
const WRAPPER_OPERANDS: Readonly<Record<string, number>> = { timeout: 1 };

/**
 * After `$(`, `<(`, `(` or a backtick: a downloader, maybe behind sudo/env and a path. Sticky, and every
 * part bounded, so one test does constant work and scanning a line is linear (a line of `(` cannot hang it).
 */
const DOWNLOAD_AFTER_OPENER = new RegExp(`[ \\t]*(?:(?:sudo|env)[ \\t]+)?(?:[^\\s/]{0,64}/){0,8}(?:${[...DOWNLOADERS].join("|")})(?=[\\s)\`]|$)`, "iy");

/** Indexes of the openers in `text` (`$(`, `<(`, `(`, `` ` ``) that a downloader follows: `$(curl`, `<(wget`, `` `curl``, `(iwr`. */
export function downloadSubstitutions(text: string): number[] {
    const found: number[] = [];
    for (let i = 0; i < text.length; i++) {
        if (text[i] !== "(" && text[i] !== "`") continue;
        DOWNLOAD_AFTER_OPENER.lastIndex = i + 1;
        if (DOWNLOAD_AFTER_OPENER.test(text)) found.push(text[i - 1] === "$" || text[i - 1] === "<" ? i - 1 : i);
    }
    return found;
}

/** A command or process substitution of a line: `open` is the index of `$`, `<` or `>`, `close` of its `)`; depth 1 is outermost. */
interface Substitution {
    readonly kind: "$" | "<" | ">";
    readonly open: number;
    readonly close: number;
    readonly depth: number;
}

/**
 * Which characters of a line are quoted, escaped or inside a substitution (so neither a separator nor a word
 * break), and where its substitutions are. Outside single quotes `\x` is an escaped character; `$'…'`
 * (ANSI-C quoting) ends only at an unescaped `'`. One pass, linear in the line.
 */
export function scanShell(line: string): { readonly nested: boolean[]; readonly substitutions: Substitution[] } {
    const nested = new Array<boolean>(line.length).fill(false);
    const substitutions: Substitution[] = [];
    // What encloses the current character: `'`, `$'`, `"`, backtick, or "(" (a substitution, or a group inside one).
    const open: { readonly kind: string; readonly at: number; readonly sub?: Substitution["kind"] }[] = [];
    // Substitutions open now, counted as they open and close (not by walking `open`, which would be quadratic).
    let depth = 0;
    for (let i = 0; i < line.length; i++) {
        const char = line[i];
        const next = line[i + 1];
        const top = open[open.length - 1]?.kind;
        const mark = (count: number) => {
            for (let k = i; k < i + count && k < line.length; k++) nested[k] = true;
        };
        if (top === "'") {
            mark(1);
            if (char === "'") open.pop();
        } else if (char === "\\") {
            mark(2);
            i++;
        } else if (top === "$'") {
            mark(1);
            if (char === "'") open.pop();
        } else if ((char === '"' || char === "`") && char === top) {
            mark(1);
            open.pop();
        } else if (char === ")" && top === "(") {
            mark(1);
            const closed = open.pop()!;
            if (closed.sub !== undefined) substitutions.push({ kind: closed.sub, open: closed.at, close: i, depth: depth-- });
        } else if (next === "(" && (char === "$" || ((char === "<" || char === ">") && top !== '"'))) {
            mark(2);
            open.push({ kind: "(", at: i, sub: char });
            depth++;
            i++;
        } else if (char === "(" && top === "(") {
            // A group or subshell inside a substitution: its `)` is not the substitution's.
            mark(1);
            open.push({ kind: "(", at: i });
        } else if (char === "$" && next === "'" && top !== '"') {
            mark(2);
            open.push({ kind: "$'", at: i });
            i++;
        } else if (char === '"' || char === "`" || (char === "'" && top !== '"')) {
            mark(1);
            open.push({ kind: char, at: i });
        } else if (open.length > 0) mark(1);
    }
    return { nested, substitutions };
}

/** The command strings of a buildspec (YAML text or the parsed object); text that is not YAML is read line by line. */
export function buildspecCommands(buildspec: unknown): string[] {
    let document = buildspec;
    if (typeof buildspec === "string") {
        try {
            document = parse(buildspec);
        } catch {
            return [buildspec];
        }
    }
    const commands: string[] = [];
    // Phases hold `commands` and `finally`; a batch's build graph may nest more: take every such list, at any depth.
    const walk = (node: unknown, key?: string): void => {
        if (Array.isArray(node)) {
            for (const item of node) {
                if ((key === "commands" || key === "finally") && typeof item === "string") commands.push(item);
                else walk(item);
            }
        } else if (typeof node === "object" && node !== null) {
            for (const [name, value] of Object.entries(node)) walk(value, name);
        }
    };
    walk(document);
    return commands;
}

/** The shell lines of one command: backslash-newline and a trailing `|`, `&&` or `||` continue a line, as in the shell. */
export function shellLines(command: string): string[] {
    return command
        .replace(/\\\r?\n/g, " ")
        .replace(/(\||&&)[ \t]*\r?\n/g, "$1 ")
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"));
}

/**
 * A line's pipelines, each a list of stages: split at `;`, `&&`, `||`, `&`, a newline
 * and (into stages) `|`, but not inside quotes, `$(…)`, `<(…)` or `` `…` ``, nor at an escaped character.
 * A bare `(` or `{` (a group) does not nest: its stages are split too.
 */
export function pipelines(line: string): string[][] {
    const { nested } = scanShell(line);
    const result: string[][] = [];
    let stages: string[] = [];
    let stage = "";
    const endStage = () => {
        stages.push(stage.trim());
        stage = "";
    };
    for (let i = 0; i < line.length; i++) {
        const char = line[i];
        const next = line[i + 1];
        if (!nested[i] && (char === ";" || char === "\n" || char === "|" || (char === "&" && !isRedirection(line, i)))) {
            if (char === "|" && next !== "|") {
                // `|&` pipes stderr too.
                if (next === "&") i++;
                endStage();
                continue;
            }
            endStage();
            result.push(stages);
            stages = [];
            if (next === char) i++;
            continue;
        }
        stage += char;
    }
    endStage();
    result.push(stages);
    return result.map((pipeline) => pipeline.filter((one) => one !== "")).filter((pipeline) => pipeline.length > 0);
}

/** Is the `&` at `index` part of a redirection (`2>&1`, `&>file`, `<&3`), not a separator? */
function isRedirection(line: string, index: number): boolean {
    return line[index - 1] === ">" || line[index - 1] === "<" || line[index + 1] === ">";
}

/** Words before the command word that are not it: shell keywords and grouping, `!`. */
const KEYWORDS = new Set(["if", "then", "else", "elif", "while", "until", "do", "!", "{", "(", "}", ")"]);

/** A stage's words, split at whitespace outside quotes and substitutions, each with its start index. */
function wordsOf(stage: string): { readonly text: string; readonly at: number }[] {
    const { nested } = scanShell(stage);
    const words: { text: string; at: number }[] = [];
    let at = -1;
    for (let i = 0; i <= stage.length; i++) {
        const breaks = i === stage.length || (!nested[i] && /\s/.test(stage[i]));
        if (breaks && at >= 0) {
            const text = stage.slice(at, i).replace(/^["'({]+|["')}]+$/g, "");
            if (text !== "") words.push({ text, at });
            at = -1;
        } else if (!breaks && at < 0) at = i;
    }
    return words;
}

/**
 * A stage's command word (lowercase, no directory, no version suffix), its arguments, and the index in
 * `stage` where the command word starts (`stage.length` if none), past keywords, assignments, wrappers and their options.
 */
export function commandOf(stage: string): { readonly name: string; readonly args: string[]; readonly index: number } {
    const words = wordsOf(stage);
    let i = 0;
    const skipNonCommands = (wrapper: string) => {
        const valued = WRAPPER_VALUE_OPTIONS[wrapper] ?? WRAPPER_VALUE_OPTIONS[""];
        let operands = WRAPPER_OPERANDS[wrapper] ?? 0;
        for (;;) {
            const word = words[i]?.text ?? "";
            if (valued.has(word)) i += 2;
            else if (word.startsWith("-") || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word) || KEYWORDS.has(word)) i++;
            else if (operands > 0 && i < words.length) {
                operands--;
                i++;
            } else return;
        }
    };
    skipNonCommands("");
    while (i < words.length && WRAPPERS.has(baseName(words[i].text))) {
        const wrapper = baseName(words[i].text);
        i++;
        skipNonCommands(wrapper);
    }
    if (i >= words.length) return { name: "", args: [], index: stage.length };
    return { name: baseName(words[i].text), args: words.slice(i + 1).map((word) => word.text), index: words[i].at };
}

function baseName(word: string): string {
    // python3.12 → python3; /usr/bin/env → env. "." (source) stays itself.
    return word === "." ? word : (word.split("/").pop() ?? "").toLowerCase().replace(/(\d)\.\d+$/, "$1");
}

/** Does a stage run what reaches it on stdin as a program? */
function runsStdin(stage: string): boolean {
    const { name, args } = commandOf(stage);
    if (SHELLS.has(name)) return true;
    if (!INTERPRETERS.has(name)) return false;
    // The first argument that is not an option is the program, unless it is "-" (stdin).
    const program = args.find((arg) => !arg.startsWith("-") || arg === "-");
    return !args.some((arg) => PROGRAM_FLAGS.test(arg)) && (program === undefined || program === "-");
}

/**
 * Does a stage run a download it is handed in its arguments (`sh -c "$(curl …)"`, `bash <(curl …)`, `eval "$(curl …)"`)?
 * Every substitution after the command word counts; those in assignments or wrapper options before it do not.
 */
function runsSubstitutedDownload(stage: string): boolean {
    const found = downloadSubstitutions(stage);
    if (found.length === 0) return false;
    const { name, index } = commandOf(stage);
    return (SHELLS.has(name) || EVALUATORS.has(name) || INTERPRETERS.has(name)) && found.some((at) => at > index);
}

/** Does a stage send its output into a shell through an outermost process substitution (`tee >(sh)`, `> >(bash)`)? */
function feedsShell(stage: string): boolean {
    return scanShell(stage).substitutions.some(
        (sub) => sub.kind === ">" && sub.depth === 1 && pipelines(stage.slice(sub.open + 2, sub.close)).some((stages) => stages.some(runsStdin)),
    );
}

/** Does a stage write a download to stdout: a downloader, or a command printing one it substitutes (`echo "$(curl …)"`)? */
function emitsDownload(stage: string): boolean {
    return DOWNLOADERS.has(commandOf(stage).name) || downloadSubstitutions(stage).length > 0;
}

/** Does a shell line run a download unverified? Linear in the number of stages: later stages are summed up from the right. */
export function runsDownload(line: string): boolean {
    return pipelines(line).some((stages) => {
        let laterRuns = false;
        for (let index = stages.length - 1; index >= 0; index--) {
            const stage = stages[index];
            const feeds = feedsShell(stage);
            if (runsSubstitutedDownload(stage) || (emitsDownload(stage) && (laterRuns || feeds))) return true;
            laterRuns ||= feeds || runsStdin(stage);
        }
        return false;
    });
}

/** The shell lines of a buildspec (YAML text or object) that run a download unverified, continued lines joined. */
export function pipeToShellLines(buildspec: unknown): string[] {
    return buildspecCommands(buildspec).flatMap(shellLines).filter(runsDownload);
}
